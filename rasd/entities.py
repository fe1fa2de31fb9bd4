"""People, places and organisations: mentions with their titles, merged into one entity per actor.

Three steps, each a plain function:

* :func:`find_mentions` runs the NER (:func:`rasd.ner.recognize`) and attaches to each person the
  title or role written right before the name (اللواء المتقاعد، وزير الخارجية الروسي) or in
  apposition after it (خليفة حفتر، قائد الجيش الليبي).
* :func:`link_entities` merges mentions across articles and outlets into entities: same name up
  to a transliteration key, a surname alone joined to the one full name that has it, an
  organisation's name joined to the same name after a generic head (طالبان -> حركة طالبان),
  whatever the order of the input.
* :func:`framing_table` lists, per entity and outlet, the titles that outlet gave the person.

The rules are written out in docs/entities.md.
"""

from __future__ import annotations

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from rasd.models import Article, Entity, Mention
from rasd.ner import Tagger, article_sentences, default_tagger, recognize
from rasd.textnorm import normalize


@dataclass(frozen=True, slots=True)
class EntitySettings:
    #: Longest title phrase before a name, in words: the longest in the merge-gold articles is
    #: "نائب رئيس الجمهورية رئيس الوزراء اليمني" (6); a longer window lets clauses in (judgement,
    #: not swept).
    max_title_words: int = 6
    #: Longest apposition after a name (", قائد الجيش الليبي"), in words: appositions end at
    #: punctuation or a preposition well before this in the gold articles (judgement, not swept).
    max_apposition_words: int = 5


# ---------------------------------------------------------------------------------------------
# Titles


def _lexicon(words: str) -> frozenset[str]:
    return frozenset(normalize(w) for w in words.split())


# Words that open a title: ranks, honorifics, offices. Normalised (rasd.textnorm.normalize).
_HEADS = _lexicon(
    "المشير الفريق اللواء العميد العقيد المقدم الرائد النقيب الملازم الجنرال الأدميرال الرئيس "
    "الرئيسة رئيس رئيسة الملك الملكة الأمير الأميرة الشيخ الشيخة الدكتور الدكتورة د السيد "
    "السيدة الأستاذ الأستاذة المهندس القاضي المستشار الحاج الإمام المرشد البابا السلطان الأمين "
    "أمين وزير وزيرة الوزير الوزيرة نائب نائبة المتحدث متحدث الناطق ناطق مدير مديرة المدير سفير "
    "السفير قائد القائد محافظ المحافظ المبعوث مبعوث زعيم الزعيم مستشار عضو النائب العاهل ولي "
    "خادم سمو المفتي مفتي رئيسا وزيرا قائدا"
)
# "on behalf of": a name right after it is whom the title serves, not who holds it.
_OF = _lexicon("باسم بإسم عن لدى")
# Qualifiers the tagger sometimes puts inside the name (اللواء [المتقاعد خليفة حفتر]).
_QUALIFIERS = _lexicon("المتقاعد السابق الأسبق الراحل الحالي المخلوع المستقيل الجديد المكلف")
# Words that end a title chain: verbs of speech and prepositions mean a clause, not a title.
_STOP = _lexicon(
    "في من إلى الى على عن أن إن أنه إنه قال قالت أكد أكدت أعلن أعلنت أضاف أضافت ذكر ذكرت مع بعد "
    "قبل خلال حيث التي الذي الذين لدى عند منذ هو هي ثم بين أو و"
)


def _title_before(words: Sequence[str], m: int, limit: int, taken: set[int]) -> int | None:
    """Index of the word opening a title that runs without a break up to word ``m``.

    ``taken`` holds the word indices of other person names: a title never runs across one, and
    a title right after another name is that name's apposition (عادل الجبير وزير الخارجية
    بجون كيري), not this one's.
    """
    if m == 0 or normalize(words[m - 1]) in _OF:
        return None  # "المتحدث باسم خليفة حفتر": the title is someone else's
    best = None
    for j in range(m - 1, max(m - limit, 0) - 1, -1):
        w = words[j]
        if j in taken or not any(ch.isalnum() for ch in w):
            break
        core = _drop_conjunction(normalize(w))
        if core in _HEADS:
            best = j
        if core in _STOP or normalize(w) in _STOP or core.isdigit():
            break
    if best is not None and best - 1 in taken:
        return None
    return best


def _title_after(words: Sequence[str], e: int, limit: int, taken: set[int]) -> int | None:
    """End index of an apposition title right after a name: optional comma, a head, its words."""
    i = e
    if i < len(words) and words[i] in (",", "،"):
        i += 1
    if i >= len(words) or i in taken or _drop_conjunction(normalize(words[i])) not in _HEADS:
        return None
    if normalize(words[i]) != _drop_conjunction(normalize(words[i])):
        return None  # "وزير" after a name with و is the next item of a list, not apposition
    end = i + 1
    while end < len(words) and end - i < limit:
        w = words[end]
        core = normalize(w)
        if end in taken or not any(ch.isalnum() for ch in w) or core in _STOP or _drop_conjunction(core) != core:
            break
        end += 1
    while end - 1 > i and normalize(words[end - 1]) in _OF:
        end -= 1
    return end


def _drop_conjunction(norm: str) -> str:
    if len(norm) > 3 and norm[0] in "وف" and (norm[1:] in _HEADS or norm[1:3] == "ال"):
        return norm[1:]
    return norm


def find_mentions(
    article: Article, tagger: Tagger | None = None, settings: EntitySettings = EntitySettings()
) -> list[Mention]:
    """NER mentions of the article with the title of each person attached (Mention.title)."""
    sents = article_sentences(article)
    mentions = recognize(article, tagger or default_tagger(), sents)
    if not any(m.type == "PER" for m in mentions):
        return mentions
    text = article.text
    # Sentence and word index of each word start, to find a mention's neighbours.
    where: dict[int, tuple[int, int]] = {}
    for si, ws in enumerate(sents):
        for wi, (_, s, _) in enumerate(ws):
            where[s] = (si, wi)
    bounds: dict[Mention, tuple[int, int, int]] = {}
    taken: dict[int, set[int]] = defaultdict(set)
    trimmed = []
    for m in mentions:
        loc = where.get(m.span[0])
        if m.type != "PER" or loc is None:
            trimmed.append(m)
            continue
        si, start = loc
        ws = sents[si]
        end = start
        while end < len(ws) and ws[end][2] <= m.span[1]:
            end += 1
        # Titles and qualifiers inside the tagged span belong to the title, not the name.
        while end - start > 1 and _drop_conjunction(normalize(ws[start][0])) in _HEADS | _QUALIFIERS:
            start += 1
        if ws[start][1] != m.span[0]:
            m = replace(m, text=text[ws[start][1] : m.span[1]], span=(ws[start][1], m.span[1]))
        trimmed.append(m)
        bounds[m] = (si, start, end)
        taken[si].update(range(start, end))
    out = []
    for m in trimmed:
        if m not in bounds:
            out.append(m)
            continue
        si, start, end = bounds[m]
        ws = sents[si]
        words = [w for w, _, _ in ws]
        others = taken[si] - set(range(start, end))
        title = None
        j = _title_before(words, start, settings.max_title_words, others)
        if j is not None:
            w0, s0, _ = ws[j]
            cut = len(normalize(w0)) - len(_drop_conjunction(normalize(w0)))
            title = text[s0 + cut : ws[start - 1][2]]
        else:
            k = _title_after(words, end, settings.max_apposition_words, others)
            if k is not None:
                first = end + (1 if words[end] in (",", "،") else 0)
                title = text[ws[first][1] : ws[k - 1][2]]
        out.append(replace(m, title=title) if title else m)
    return out


# ---------------------------------------------------------------------------------------------
# Name keys

# Arabic given names that differ from another only by a long vowel (محمد/محمود, حسن/حسين):
# they are matched exactly, never through the vowel-free transliteration key.
_EXACT_NAMES = _lexicon(
    "محمد محمود حامد حميد أحمد حمد حمود حسن حسين حسان سعد سعيد سعود عمر عمرو عامر خالد خلود "
    "جمال جميل كمال كميل علي عل سليم سالم سلمان سليمان سلمى فهد فهيد ناصر نصر نصير منصور عادل "
    "عدلي عبد عابد عبيد رشيد راشد مجيد ماجد زايد زيد يزيد وليد ولد بشار بشير فيصل فاضل فضل طلال "
    "طلل هشام هاشم صالح صلاح مصطفى مصطفي عثمان عمار معمر نبيل نبيله"
)
_KEY_TABLE = str.maketrans({"غ": "ك", "ج": "ك", "ق": "ك", "ط": "ت", "ص": "س", "ث": "س", "ذ": "ز",
                            "ظ": "ز", "ض": "د", "ة": "ه", "ى": "ي", "ء": "", "أ": "ا", "إ": "ا"})


def word_key(norm: str) -> str:
    """Transliteration key of one normalised word: سيرغي, سيرجى, سيرجي give the same key.

    g written غ ج ق ك, ة/ه and ى/ي at the end, long vowels ا و ي written or not, and an ال
    prefix are all folded; the common Arabic given names of ``_EXACT_NAMES`` stay exact.
    """
    if norm in _EXACT_NAMES:
        return norm
    if norm.startswith("ال") and len(norm) > 4:
        norm = norm[2:]
    norm = norm.translate(_KEY_TABLE)
    if len(norm) <= 2:
        return norm
    return norm[0] + "".join(ch for ch in norm[1:] if ch not in "اوي")


def name_words(text: str, known: frozenset[str] | set[str] = frozenset()) -> list[str]:
    """Normalised words of a mention, without a leading conjunction/preposition clitic.

    و ف ب ل ك are dropped from the first word where an ال follows (والرئيس -> الرئيس) or two
    clitics do (وبالقاهرة), and a single one only where the rest is a word in ``known`` (the
    first words of other mentions): ولافروف -> لافروف, but وليد and لافروف stay whole. ل before
    ال is written لل (للفيفا، وللاتحاد): it becomes ال again, unless the rest after one ل is a
    known word (لليبيا is ل + ليبيا).
    """
    words = [w for w in normalize(text).split() if any(ch.isalnum() for ch in w)]
    words = ["".join(ch for ch in w if ch.isalnum()) for w in words]
    words = [w for w in words if w]
    if words:
        w = words[0]
        if w.startswith("لل") and len(w) > 4 and w[1:] not in known:
            w = "ا" + w[1:]  # للفيفا: ل before ال is written لل and the ا drops (لليبيا stays ل + ليبيا)
        elif len(w) > 5 and w[0] in "وف" and w[1:3] == "لل" and w[2:] not in known:
            w = "ا" + w[2:]  # وللاتحاد, فللجنة
        elif len(w) > 4 and w[0] in "وفبلك" and w[1:3] == "ال":
            w = w[1:]
        elif len(w) > 5 and w[0] in "وف" and w[1] in "بلك" and w[2:4] == "ال":
            w = w[2:]
        elif len(w) > 3 and w[0] in "وفبلك" and w[1:] in known:
            w = w[1:]
        elif len(w) > 4 and w[0] in "وف" and w[1] in "بلك" and w[2:] in known:
            w = w[2:]
        words[0] = w
    return words


# The first halves of compound names, written apart or joined: عبد الفتاح / عبدالفتاح, أبو بكر /
# أبوبكر. In a key they are joined to the next word, so both spellings give one key. Not بن: بن
# joins two names (سلمان بن عبدالعزيز), and is never written attached.
_COMPOUND_HEADS = frozenset({"عبد", "ابو"})


def name_key(text: str, known: frozenset[str] | set[str] = frozenset()) -> tuple[str, ...]:
    return _words_key(name_words(text, known))


def _words_key(words: list[str]) -> tuple[str, ...]:
    joined: list[str] = []
    for w in words:
        if joined and joined[-1] in _COMPOUND_HEADS:
            joined[-1] += w
        else:
            joined.append(w)
    return tuple(word_key(w) for w in joined)


def _known_first_words(mentions: Iterable[Mention]) -> set[str]:
    return {ws[0] for text in {m.text for m in mentions} if (ws := name_words(text))}


# ---------------------------------------------------------------------------------------------
# Linking


Node = tuple[str, tuple[str, ...]]  # (entity type, name key): one group of mentions


def link_entities(mentions: Sequence[Mention]) -> list[Entity]:
    """One entity per real-world actor; ids are stable across runs (hash of type and name).

    Mentions of the same type merge when their name keys are equal. A shorter person name
    (حفتر, or first and last name of a longer one) joins the longer name that fits it, looked
    for first in the same article and then in the whole input, and only if exactly one fits:
    two people who share a surname never merge, and their bare surname stays on its own. An
    organisation name joins the longer one that starts with it or is it after a generic head
    word (حركة طالبان). The result depends on the set of mentions, not on their order.
    """
    known = _known_first_words(mentions)
    # A mention text recurs in many mentions: its name words are found once, and kept joined
    # as the name form that _chosen_name counts.
    words_of = {text: name_words(text, known) for text in {m.text for m in mentions}}
    forms = {text: " ".join(words) for text, words in words_of.items()}
    keys = {text: _words_key(words) for text, words in words_of.items()}
    groups: dict[Node, list[Mention]] = defaultdict(list)
    for m in mentions:
        key = keys[m.text]
        if key:
            groups[(m.type, key)].append(m)
    # A name tagged as a person more often than as anything else is a person everywhere: the
    # tagger sometimes calls a bare surname (أوباما) an organisation.
    for (t, k) in [g for g in groups if g[0] != "PER"]:
        if len(groups.get(("PER", k), ())) >= len(groups[(t, k)]):
            groups[("PER", k)].extend(groups.pop((t, k)))
    # Fit each shorter key to a longer one: article first, then corpus. A person's short form
    # is the surname or first-and-last name; an organisation's is the head of its full name
    # (مجلس الأمن -> مجلس الأمن الدولي).
    by_article: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    all_keys: dict[str, list[tuple[str, ...]]] = defaultdict(list)
    for (t, k), ms in groups.items():
        all_keys[t].append(k)
        for m in ms:
            by_article[(t, m.article)].add(k)
    # Corpus-wide candidates come from an index of each key's short forms, not a scan.
    corpus_index = {t: _short_form_index(t, keys) for t, keys in all_keys.items()}
    # Each mention of a shorter key looks for its longer name, in its article first. The whole
    # group joins when all its mentions that found one found the same one; when they found
    # different ones (بلاتر next to جوزيف بلاتر in one article and سيب بلاتر in another), each of
    # those mentions joins its own article's name and the rest stay apart. Deciding over the
    # whole group, never on the first mention met, makes the result independent of input order.
    parent: dict[Node, Node] = {}
    moved: dict[Node, dict[Node, list[Mention]]] = {}
    for t, k in sorted(groups):
        if t not in ("PER", "ORG"):
            continue
        targets: dict[tuple[str, ...] | None, list[Mention]] = defaultdict(list)
        for m in groups[(t, k)]:
            target = _unique_fit(t, k, by_article[(t, m.article)]) or _unique_fit(
                t, k, corpus_index[t].get(k, ())
            )
            targets[target].append(m)
        found = sorted(c for c in targets if c is not None)
        if len(found) == 1:
            parent[(t, k)] = (t, found[0])
        elif found:
            moved[(t, k)] = {(t, c): targets[c] for c in found}

    def root(g: Node) -> Node:
        seen = set()
        while g in parent and g not in seen:
            seen.add(g)
            g = parent[g]
        return g

    merged: dict[Node, list[Mention]] = defaultdict(list)
    for g, ms in groups.items():
        split = moved.get(g, {})
        for node, joined in split.items():
            merged[root(node)].extend(joined)
        gone = {id(m) for joined in split.values() for m in joined}
        merged[root(g)].extend(m for m in ms if id(m) not in gone)
    # Two groups can settle on the same displayed name (a split surname group next to the full
    # name it joined elsewhere): the id is a hash of that name, so they are one entity.
    by_id: dict[str, tuple[str, list[Mention]]] = {}
    for (t, _), ms in merged.items():
        if ms:
            by_id.setdefault(_entity_id(t, _chosen_name(ms, forms)), (t, []))[1].extend(ms)
    entities = [_entity(t, ms, forms, entity_id) for entity_id, (t, ms) in by_id.items()]
    entities.sort(key=lambda e: (-len(e.mentions), e.id))
    return entities


# Generic head words of organisation names: حركة طالبان is طالبان, وكالة فرانس برس is فرانس برس.
# Only heads whose rest is the organisation's own name are listed: مجلس (مجلس الأمن), اتحاد
# (الاتحاد الأوروبي), جامعة or مركز (جامعة الملك سعود, named after a person) are not.
_ORG_HEADS = frozenset(word_key(w) for w in _lexicon(
    "حركة تنظيم جماعة جبهة حزب شركة وكالة صحيفة جريدة مجلة قناة موقع شبكة منظمة مؤسسة هيئة وزارة "
    "نادي ميليشيا مليشيا ميليشيات مليشيات كتائب فصيل تحالف ائتلاف"
))
# One-word rests that describe rather than name (حزب الله, الحركة الإسلامية, المنظمة الدولية):
# a mention of them alone is not the organisation.
_ORG_NOT_NAMES = frozenset(word_key(w) for w in _lexicon(
    "الله الوطني الوطنية الإسلامي الإسلامية الدولي الدولية العربي العربية الشعبي الشعبية العام "
    "العامة الرسمي الرسمية الحاكم الحاكمة الجديد الجديدة المعارضة"
))


def _org_rest(full: tuple[str, ...]) -> tuple[str, ...] | None:
    """The name after a generic head (حركة [طالبان]), or None when the key has none."""
    if len(full) < 2 or full[0] not in _ORG_HEADS:
        return None
    rest = full[1:]
    return None if len(rest) == 1 and rest[0] in _ORG_NOT_NAMES else rest


def _short_form_index(
    typ: str, keys: Iterable[tuple[str, ...]]
) -> dict[tuple[str, ...], list[tuple[str, ...]]]:
    """Short form -> the longer keys it may abbreviate (same forms as :func:`_abbreviates`)."""
    index: dict[tuple[str, ...], list[tuple[str, ...]]] = defaultdict(list)
    for c in keys:
        for n in range(1, len(c)):
            if typ == "ORG":
                if n >= 2:
                    index[c[:n]].append(c)
                continue
            index[c[-n:]].append(c)
            if n >= 2 and c[-n:] != (c[0], c[-1]):
                index[(c[0], c[-1])].append(c)
        if typ == "ORG" and (rest := _org_rest(c)) is not None:
            index[rest].append(c)
    return index


def _unique_fit(
    typ: str, key: tuple[str, ...], candidates: Iterable[tuple[str, ...]]
) -> tuple[str, ...] | None:
    """The one longer key that ``key`` abbreviates, or None when none or several do."""
    fits = {c for c in candidates if len(c) > len(key) and _abbreviates(typ, key, c)}
    # Keys that are themselves abbreviations of another fit (عبد الفتاح السيسي inside محمد عبد
    # الفتاح السيسي) count once, under the longest.
    fits = {c for c in fits if not any(len(d) > len(c) and _abbreviates(typ, c, d) for d in fits)}
    return next(iter(fits)) if len(fits) == 1 else None


def _abbreviates(typ: str, short: tuple[str, ...], full: tuple[str, ...]) -> bool:
    n = len(short)
    if typ == "ORG":
        # Two words at least: a one-word head (وزارة, مجلس) names nothing by itself. Or the
        # whole name after a generic head (طالبان -> حركة طالبان), never a part of it: الخارجية
        # السعودية is not وزارة الخارجية الأمريكية.
        return (n >= 2 and full[:n] == short) or _org_rest(full) == short
    if full[-n:] == short:
        return True  # حفتر, عبد الفتاح السيسي
    return n >= 2 and short[0] == full[0] and short[-1] == full[-1]  # first and last name


def _chosen_name(ms: list[Mention], forms: Mapping[str, str]) -> str:
    """The most frequent of the longest name forms (ties: the first in sorted order).

    ``forms`` maps a mention text to its name words joined by a space.
    """
    counts = Counter(forms[m.text] for m in ms)
    longest = max(len(f.split()) for f in counts)
    return min((f for f in counts if len(f.split()) == longest), key=lambda f: (-counts[f], f))


def _entity_id(typ: str, name: str) -> str:
    digest = hashlib.sha1(f"{typ}|{' '.join(word_key(w) for w in name.split())}".encode()).hexdigest()
    return "e-" + digest[:12]


def _entity(typ: str, ms: list[Mention], forms: Mapping[str, str], entity_id: str) -> Entity:
    name = _chosen_name(ms, forms)
    # The surface form shown is the most frequent original spelling of the chosen name.
    surfaces = Counter(m.text for m in ms if forms[m.text] == name)
    shown = min(surfaces, key=lambda s: (-surfaces[s], s))
    ordered = sorted(ms, key=lambda m: (m.article, m.span))
    return Entity(
        id=entity_id,
        type=typ,
        name=shown,
        aliases=tuple(sorted({m.text for m in ms})),
        mentions=tuple(ordered),
    )


def framing_table(
    entities: Iterable[Entity], sources: Mapping[str, str]
) -> dict[str, dict[str, list[str]]]:
    """entity id -> outlet -> the distinct titles that outlet gave the entity, most used first.

    ``sources`` maps article id to outlet (Article.source); Entity and Mention carry no outlet,
    so the caller passes it. Mentions of articles missing from it count under "unknown".
    """
    out: dict[str, dict[str, list[str]]] = {}
    for e in entities:
        per_outlet: dict[str, Counter[str]] = defaultdict(Counter)
        for m in e.mentions:
            if m.title:
                per_outlet[sources.get(m.article, "unknown")][m.title] += 1
        if per_outlet:
            out[e.id] = {
                outlet: [t for t, _ in sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))]
                for outlet, c in sorted(per_outlet.items())
            }
    return out


def sources_of(articles: Iterable[Article]) -> dict[str, str]:
    """The article id -> outlet mapping :func:`framing_table` needs."""
    return {a.id: a.source or "unknown" for a in articles}
