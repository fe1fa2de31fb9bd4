"""Quotes and their speakers: direct speech in quote marks and reported (indirect) speech.

The stage reads only title and body blocks, one paragraph (line) at a time: a quote never crosses
a paragraph end, so an unbalanced or mismatched mark cannot swallow the rest of the article.

Rules (docs/quotes.md has the long form and the gold-set conventions):

* Direct: text between two quote marks of the double family (« » “ ” „ " and mixed pairs such as
  « ... ” or ” ... ”), or of the single family (' ‘ ’ ‹ ›). A « waits for its », skipping inner
  marks. A mark left open runs to the paragraph end, capped in length. A pair is a quote when a
  speech verb introduces it (وقال الوزير: «...»), a verb follows it («...»، قال المتحدث), a colon
  precedes it, or it is long; short pairs without any of these are names and terms (تنظيم "داعش").
* Indirect: a speech verb, its subject, then a complementiser (قال ... إن، أكد أن، أشار إلى أن،
  صرح بأن); a participle carrying the current speaker (مشيرا إلى أن، مؤكدا أن); a verb and a colon
  without marks; or an attribution (حسب، بحسب، وفقا لـ، نقلا عن) naming a source.
* Speaker: the subject as written after the verb, cut at the first adjunct (في تصريح، خلال، لـ...,
  a comma) or an adverb (بعدها، مسبقا، قوله); else one written before a bare verb, in a relative
  clause (العصيمي الذي أكد أن) or opening the clause (وكانت بريطانيا أعلنت أن); a verb without a
  subject (وأضاف، وتابع، قال في بيان إن) carries the last speaker over.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rasd.models import Article, Entity, Mention, Quote
from rasd.quotes_lexicon import (
    ALA_VERBS,
    AMBIGUOUS_VERBS,
    APPOSITION_GAP,
    ATTRIBUTIONS,
    B_ONLY_VERBS,
    BARE_COMPLEMENTISERS,
    BEFORE_STOPS,
    COMPLEMENTISERS,
    DOCUMENT_SUBJECTS,
    MANNER_NOT,
    NAME_LINKS,
    NEW_STATEMENT_VERBS,
    NOT_COMPLEMENTISING,
    OBJECT_HEADS,
    PARTICIPLES,
    PASSIVE_SOURCE_VERBS,
    POSTPOSED_LEADS,
    PUBLISH_VERBS,
    RELATIVES,
    RELAY_VERBS,
    SAYING,
    SOURCE_HEADS,
    SPEECH_VERBS,
    SPLIT_POSTPOSED,
    STATEMENT_OPENERS,
    STATEMENT_VERBS,
    SUBJECT_STOP_PREFIXES,
    SUBJECT_STOPS,
    TITLE_WORDS,
)
from rasd.textnorm import Token, normalize, sentences, tokens


@dataclass(frozen=True, slots=True)
class QuoteSettings:
    # The longest quote in the gold set is 472 characters (direct: 331); a pair further apart
    # than this is two unrelated marks, and an open mark stops here at the latest.
    max_quote_chars: int = 1500
    # Fewer words than this between marks is a name or a term (تنظيم "داعش"، لـ"الرياض"), even
    # next to a speech verb; the shortest direct quote in the gold set has 6 words.
    min_quote_words: int = 3
    # A pair of marks with no verb or colon around it is still a quote from this many words on:
    # at 8, course titles and lists of players' names (8-11 words) came through in the gold set.
    long_quote_words: int = 12
    # Subjects (the speaker phrase) longer than this are a misparse, not a name with titles; the
    # longest in the gold set has 11 words (مدير إدارة شؤون القطاع الصحي الخاص بصحة جدة الدكتور ...).
    max_subject_words: int = 14
    # How far (in words) a complementiser may follow its verb: subject plus an adjunct such as
    # "خلال اجتماعه أمس في مكتبه ... مع ..." (20 words in the gold set); further, it is another أن.
    max_verb_gap_words: int = 24
    # How far before a quote (characters) a speaker mention may sit when speakers are resolved
    # without a speaker span: the speaker phrase is next to the verb that introduces the quote.
    resolve_window: int = 250


DEFAULT_SETTINGS = QuoteSettings()


_CAPITALISING = {"PER", "ORG"}
_DOUBLE_MARKS = "«»“”„‟\"＂″〝〞"
_SINGLE_MARKS = "'‘’‹›"
_OPEN_FOR = {"«": "»", "‹": "›"}
_CLOSE_ONLY = {"»", "›"}
_REVERSED = {"»": "«", "›": "‹"}  # some right-to-left pages write » ... « for « ... »
_ENDS = ".!?؟"
_STRIP = " \t\r\n.،,؛;:-–—_*"
_DOUBLE_FINDER = re.compile("[" + re.escape(_DOUBLE_MARKS) + "]")
_SINGLE_FINDER = re.compile("[" + re.escape(_SINGLE_MARKS) + "]")
_SHORT_MARKED = re.compile(r"[^\"«»“”\n.،,:؛]{1,30}[\"»”]")  # a name closed within 30 characters
_OPEN_STOP = re.compile(r"(?<=[^\W\d_]{3})\s?[.!?؟](?=\s*[^\W\d_])")  # a sentence end inside an open mark
_GLUED_STOP = re.compile(r"(?<=[^\W\d_]{3})[ »”\"]?\.(?=\s*[^\W\d_])")


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    direct: bool
    speaker: tuple[int, int] | None  # the speaker phrase's span, None when carried over
    carry: bool  # take the last speaker in the article when no phrase was found
    anchor: int  # position that orders speakers (the verb, or the quote start)
    verb: int = -1  # start of the verb that introduces it, when one does
    splits: bool = False  # that verb starts a new statement (وقال، ، وأضاف), cutting the one before
    quote: bool = True  # False: a speaker-only event (أشاد الوزير بـ...) that sets who speaks next
    plural: bool = False  # a plural participle (قائلين): carries over only a plural speaker


def extract_quotes(
    article: Article, mentions: Sequence[Mention] = (), settings: QuoteSettings = DEFAULT_SETTINGS
) -> list[Quote]:
    """Direct and indirect quotes of the article's title and body blocks, with speaker phrases.

    ``Quote.speaker`` stays None (entity ids come from :func:`resolve_speakers`). When NER
    ``mentions`` are given, a PER or ORG mention overlapping the speaker phrase is its text.
    """
    text = article.text
    found: list[_Candidate] = []
    for block in article.blocks:
        if block.kind not in ("title", "body"):
            continue
        pos = block.start
        for line in text[block.start : block.end].split("\n"):
            start, end = pos, pos + len(line)
            pos = end + 1
            if any(c.isalpha() for c in line):
                found.extend(_paragraph(text, start, end, settings))
    found.sort(key=lambda c: (c.start, c.end))
    mentions = sorted((m for m in mentions if m.type in _CAPITALISING), key=lambda m: m.span)
    quotes: list[Quote] = []
    last: str | None = None
    last_span: tuple[int, int] | None = None
    for cand in sorted(found, key=lambda c: c.anchor):
        if cand.speaker is not None:
            last_span = _speaker_span(text, cand.speaker, mentions)
            last = _speaker_text(text, last_span, mentions)
        if not cand.quote:
            continue
        named = cand.speaker is not None or (cand.carry and not (cand.plural and not _plural(last)))
        quotes.append(Quote(article.id, None, last if named else None, text[cand.start : cand.end],
                            (cand.start, cand.end), cand.direct, last_span if named else None))
    quotes.sort(key=lambda q: q.span)
    return quotes


def _plural(phrase: str | None) -> bool:
    """Whether a speaker phrase names a plural (محللون سياسيون، السياسيين، الوزارات)."""
    return any(len(w) > 4 and w.endswith(("ون", "ين", "ات")) for w in normalize(phrase or "").split())


def _speaker_span(text: str, span: tuple[int, int], mentions: Sequence[Mention]) -> tuple[int, int]:
    """The speaker phrase, extended over a person named in apposition right after a role."""
    if any(m.type == "PER" and m.span[0] < span[1] and span[0] < m.span[1] for m in mentions):
        return span
    for m in mentions:
        if m.type == "PER" and span[1] <= m.span[0] <= span[1] + 40 and APPOSITION_GAP.match(
            text[span[1] : m.span[0]]
        ):
            return span[0], m.span[1]
    return span


def _speaker_text(text: str, span: tuple[int, int], mentions: Sequence[Mention]) -> str:
    """A person named in the phrase, else an organisation, else the phrase as written."""
    overlapping = [m for m in mentions if m.span[0] < span[1] and span[0] < m.span[1]]
    for kind in ("PER", "ORG"):
        for mention in overlapping:
            if mention.type == kind:
                return _without_lam(mention.text)
    if overlapping:
        return _without_lam(overlapping[0].text)
    return _without_lam(text[span[0] : span[1]])


def _without_lam(phrase: str) -> str:
    """The phrase without a leading لـ before ال, which is written لل and hides the ا: "وفقا
    للصحيفة" names الصحيفة. The speaker text is then not a slice of the article (its span is)."""
    if phrase.startswith("لل") and len(phrase) > 4:
        return "ا" + phrase[1:]
    return phrase


# ---------------------------------------------------------------------------------------------
# One paragraph


def _paragraph(text: str, start: int, end: int, settings: QuoteSettings) -> list[_Candidate]:
    toks = tokens(text, start, end)
    if not toks:
        return []
    bases = [_base(t.norm) for t in toks]
    starts = [t.start for t in toks]
    sents = _Sentences(text, start, end)
    pairs = _pairs(text, start, end, _DOUBLE_MARKS, settings)
    double_spans = list(pairs)
    pairs += [p for p in _pairs(text, start, end, _SINGLE_MARKS, settings)
              if not any(o <= p[0] <= c for o, c in double_spans)]
    pairs.sort()

    direct: list[_Candidate] = []
    for opener, closer in pairs:
        cand = _direct(text, toks, bases, starts, opener, closer, pairs, settings)
        if cand is not None:
            direct.append(cand)
    openers = {d.start for d in direct}

    indirect: list[_Candidate] = []
    events: list[_Candidate] = []
    inside = [(d.start - 1, d.end + 1) for d in direct]
    for i in range(len(toks)):
        if bases[i] not in _TRIGGERS:
            continue  # neither a reported clause nor an event starts at it (_indirect, below)
        if inside and any(a <= toks[i].start < b for a, b in inside):
            continue
        cand = _indirect(text, toks, bases, i, sents, openers, end, settings)
        if cand is not None:
            indirect.append(cand)
        elif bases[i] not in PARTICIPLES and (bases[i] in STATEMENT_VERBS or _is_verb(bases[i], True)):
            span = _subject(text, toks, bases, i + 1, len(toks), end, settings, with_object=True)
            if span is not None:
                events.append(_Candidate(span[0], span[1], False, span, False, toks[i].start, quote=False))
    indirect = _split_and_prune(indirect, toks, bases, text)
    marked = [(d.start, d.end) for d in direct]
    for ind in indirect:
        ind.end = _clause_end(text, toks, bases, starts, ind.start, ind.end, marked)
    # A direct quote that opens the reported clause (قال إن "...") is that clause. One whose own
    # verb starts a new statement inside the clause (، وقال "...") ends it; other direct quotes
    # nested inside a reported clause are part of it.
    kept: list[_Candidate] = []
    for ind in indirect:
        opening = [d for d in direct if ind.start - 3 <= d.start <= ind.start + 3]
        if opening:
            for d in opening:
                if d.speaker is None and ind.speaker is not None:
                    d.speaker, d.carry, d.anchor = ind.speaker, ind.carry, min(d.anchor, ind.anchor)
            continue
        cuts = [d.verb for d in direct if d.splits and ind.start < d.verb < ind.end]
        if cuts:
            ind.end = _trim(text, ind.start, min(cuts))[1]
        if ind.end > ind.start:
            kept.append(ind)
    direct = [d for d in direct if not any(i.start < d.start and d.end <= i.end + 2 for i in kept)]
    # A verb inside someone's words (قال إن الرئيس هنأ ...) does not change who is speaking.
    events = [e for e in events if not any(q.start <= e.anchor < q.end for q in direct + kept)]
    return direct + kept + events


# The words at which _indirect can find something (every other word returns None at its first
# tests) and at which an event can start: most words of a paragraph are none of them, and calling
# it for each word was a third of the stage's time.
_TRIGGERS = frozenset(
    ATTRIBUTIONS | POSTPOSED_LEADS | PASSIVE_SOURCE_VERBS | PARTICIPLES | SPEECH_VERBS | STATEMENT_VERBS
    | {"ما", "مما", "ومما"}
)


def _sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """textnorm sentences, also cut at every full stop after a word of three letters or more
    and before a word (نفطية .وقال، بأكمله . من جهته): textnorm keeps a sentence open inside a
    quotation, and pages that write » ... « leave it open after the quote has ended. Not cut at a
    semicolon: in news prose it joins a reason or a consequence to the same statement."""
    out: list[tuple[int, int]] = []
    for s, e in sentences(text, start, end):
        if out and text[out[-1][0] : out[-1][1]].rstrip().endswith(("؛", ";")):
            s = out.pop()[0]  # a semicolon goes on with the same statement (أكد أن ...؛ كون ...)
        for m in _GLUED_STOP.finditer(text, s, e):
            out.append((s, m.end()))
            s = m.end()
        out.append((s, e))
    return out


def _base(norm: str) -> str:
    """The token without a leading و/ف conjunction when the rest is a known trigger."""
    if len(norm) > 2 and norm[0] in "وف":
        rest = norm[1:]
        if rest in SPEECH_VERBS or rest in PARTICIPLES or rest in ATTRIBUTIONS or rest in STATEMENT_VERBS:
            return rest
    return norm


def _pairs(text: str, start: int, end: int, marks: str, settings: QuoteSettings) -> list[tuple[int, int]]:
    """(opener, closer) positions of quote-mark pairs; closer == paragraph end for an open mark."""
    finder = _DOUBLE_FINDER if marks == _DOUBLE_MARKS else _SINGLE_FINDER
    positions = [m.start() for m in finder.finditer(text, start, end) if not _is_apostrophe(text, m.start())]
    out: list[tuple[int, int]] = []
    k = 0
    while k < len(positions):
        opener = positions[k]
        mark = text[opener]
        closer_k = None
        if mark in _OPEN_FOR:
            for j in range(k + 1, len(positions)):
                if text[positions[j]] == _OPEN_FOR[mark]:
                    closer_k = j
                    break
        elif mark in _REVERSED:
            # » opening a quote: the next mark closes it (» ... « or » ... »), nothing nests.
            if k + 1 < len(positions) and text[positions[k + 1]] in (mark, _REVERSED[mark]):
                closer_k = k + 1
            else:
                k += 1  # a stray closing mark
                continue
        if closer_k is None:
            for j in range(k + 1, len(positions)):
                if text[positions[j]] not in _OPEN_FOR:
                    closer_k = j
                    break
        if closer_k is None or positions[closer_k] - opener > settings.max_quote_chars:
            out.append((opener, min(end, opener + settings.max_quote_chars)))
            break
        out.append((opener, positions[closer_k]))
        k = closer_k + 1
    return out


def _is_apostrophe(text: str, i: int) -> bool:
    """A ' between two Latin letters (don't, Qur'an) is part of a word, not a quote mark."""
    if text[i] not in "'’":
        return False
    before = text[i - 1] if i > 0 else " "
    after = text[i + 1] if i + 1 < len(text) else " "
    return before.isascii() and before.isalpha() and after.isascii() and after.isalpha()


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _STRIP:
        start += 1
    while end > start and text[end - 1] in _STRIP:
        end -= 1
    return start, end


def _is_verb(base: str, for_marks: bool) -> bool:
    if base in PARTICIPLES:
        return True
    return base in SPEECH_VERBS and not (for_marks and base in AMBIGUOUS_VERBS)


def _direct(
    text: str, toks: list[Token], bases: list[str], starts: list[int], opener: int, closer: int,
    pairs: list[tuple[int, int]], settings: QuoteSettings,
) -> _Candidate | None:
    c_start, c_end = opener + 1, closer
    while c_start < c_end and text[c_start].isspace():
        c_start += 1
    while c_end > c_start and text[c_end - 1].isspace():
        c_end -= 1
    first = bisect.bisect_left(starts, c_start)
    last = bisect.bisect_left(starts, c_end)
    words = last - first
    if words == 0:
        return None
    closed = closer < len(text) and text[closer] in _DOUBLE_MARKS + _SINGLE_MARKS
    # An unclosed mark ends with its sentence; one closed by a straight " (often the opening mark of
    # the next quote or name) ends before a sentence that opens with a speech verb (. وأبان أن).
    for stop in _OPEN_STOP.finditer(text, c_start, c_end) if not closed or text[closer] == '"' else ():
        k = bisect.bisect_left(starts, stop.end())
        if not closed or (k < len(toks) and toks[k].norm != bases[k] and bases[k] in NEW_STATEMENT_VERBS):
            c_end, closed = _trim(text, c_start, stop.start())[1], False
            words = bisect.bisect_left(starts, c_end) - first
            break
    # Before the opener: back to the sentence end, or to the previous pair of marks.
    # Short pairs (لـ"الرياض") are names inside the introducing clause, not earlier quotes.
    words_in = [bisect.bisect_left(starts, c) - bisect.bisect_left(starts, o) for o, c in pairs]
    long_pairs = [c for (o, c), n in zip(pairs, words_in, strict=True)
                  if c < opener and n >= settings.min_quote_words]
    boundary = max(long_pairs, default=-1) + 1
    prefix = text[boundary:opener]
    cut = max(prefix.rfind(ch) for ch in _ENDS + "\n")
    boundary = boundary + cut + 1 if cut >= 0 else boundary
    colon = text[boundary:opener].rstrip().endswith(":")
    before = [k for k in range(bisect.bisect_left(starts, boundary), first) if toks[k].end <= opener]
    speaker: tuple[int, int] | None = None
    introduced = False
    nested = False
    verb, splits = -1, False
    if before and (bases[before[-1]] in TITLE_WORDS
                   or (len(before) > 1 and bases[before[-1]] == "في" and bases[before[-2]] in TITLE_WORDS)):
        return None
    saying = bool(before) and toks[before[-1]].norm in SAYING
    for n, k in enumerate(reversed(before)):
        if saying and bases[k] in RELAY_VERBS and n < settings.max_verb_gap_words:
            # نقلت وسائل إعلام عن المتحدث ... قوله: "...": the speaker is whom the report quotes.
            relayed = next((j for j in before if j > k and toks[j].norm == "عن"), None)
            if relayed is not None:
                introduced, verb = True, toks[k].start
                speaker = _subject(text, toks, bases, relayed + 1, before[-1] + 1, opener, settings)
                break
        if _is_verb(bases[k], for_marks=True) and n < settings.max_verb_gap_words:
            introduced = True
            verb, splits = toks[k].start, _starts_statement(text, toks, bases, k)
            between = [j for j in before if j > k]
            comps = [j for j in between if bases[j] in COMPLEMENTISERS or bases[j] == "الي"]
            # A complementiser between verb and mark means the marks sit inside reported speech,
            # unless the mark opens the reported clause itself.
            if comps and any(j > comps[0] for j in between if bases[j] not in COMPLEMENTISERS):
                nested = True
            speaker = _subject(text, toks, bases, k + 1, comps[0] if comps else first, opener, settings)
            if speaker is None and toks[k].norm == bases[k] and bases[k] not in PARTICIPLES:
                speaker = _subject_before(text, toks, bases, k, settings)
            break
    if not introduced and closed:
        introduced, speaker = _verb_after(text, toks, bases, starts, closer + 1, settings)
    previous = [c for o, c in pairs if c < opener]
    if not introduced and previous and text[previous[-1]] in _DOUBLE_MARKS + _SINGLE_MARKS and not (
            text[previous[-1] + 1 : opener].strip(" .…")):
        introduced = True  # “...”.. “...”: the next segment of the same speaker's words
    if words < settings.min_quote_words and not (colon and introduced):
        return None
    if nested and words < settings.long_quote_words:
        return None
    if not (introduced or colon or (closed and words >= settings.long_quote_words)):
        return None
    return _Candidate(c_start, c_end, True, speaker, True, opener if speaker is None else opener - 1,
                      verb=verb, splits=splits)


def _starts_statement(text: str, toks: list[Token], bases: list[str], k: int) -> bool:
    """Whether the verb at ``k`` opens a new statement (وأضاف، ، قال، لكنه أشار) rather than being
    part of what another speaker reported (قال إن الوزير أكد أن ...)."""
    if toks[k].norm != bases[k] or bases[k] in PARTICIPLES or bases[k] in ATTRIBUTIONS:
        return True
    if k > 0 and toks[k - 1].norm in STATEMENT_OPENERS:
        return True  # ومن جانبه قال ...: إن opens the next statement even without a full stop
    lo = toks[max(0, k - 6)].start
    return any(ch in text[lo : toks[k].start] for ch in "،,")


def _verb_after(
    text: str, toks: list[Token], bases: list[str], starts: list[int], pos: int, settings: QuoteSettings,
) -> tuple[bool, tuple[int, int] | None]:
    """Whether a verb follows a closing mark («...»، قال المتحدث), and its subject's span.

    A full stop between them means the verb opens the next sentence (وأضاف: «...»), not this one.
    """
    j = pos
    while j < len(text) and text[j] in " \t،,-–":
        j += 1
    k = bisect.bisect_left(starts, j)
    if k >= len(toks) or toks[k].start != j or not _is_verb(bases[k], for_marks=True):
        return False, None
    if bases[k] in PARTICIPLES:
        return False, None
    if toks[k].norm.startswith("و") and bases[k] != toks[k].norm:
        return False, None  # "«...» وأضاف" starts the next statement
    follow_end = k + 1
    while follow_end < len(toks) and follow_end - k <= settings.max_subject_words + 1:
        gap = text[toks[follow_end - 1].end : toks[follow_end].start]
        if any(ch in gap for ch in _ENDS + "،,:؛(\"«»“”\n"):
            break
        follow_end += 1
    limit = toks[follow_end - 1].end if follow_end > k + 1 else toks[k].end
    return True, _subject(text, toks, bases, k + 1, follow_end, limit, settings)


def _subject(
    text: str, toks: list[Token], bases: list[str], first: int, stop: int, limit: int,
    settings: QuoteSettings, with_object: bool = False,
) -> tuple[int, int] | None:
    """Span of the subject in tokens [first, stop) ending before ``limit``; None when empty.

    ``with_object``: the verb takes a بـ object (أشاد الوزير بدعم ...), which ends the subject.
    """
    chosen: list[int] = []
    for k in range(first, min(stop, len(toks))):
        tok = toks[k]
        if tok.end > limit:
            break
        if chosen:
            gap = text[toks[chosen[-1]].end : tok.start]
            if any(ch in gap for ch in _ENDS + "،,:؛(\"«»“”'\n"):
                break
        elif any(ch in text[toks[first - 1].end : tok.start] for ch in "،,:؛(»”\n") or (
                any(ch in text[toks[first - 1].end : tok.start] for ch in "\"«“")
                and not _SHORT_MARKED.match(text, tok.start)):
            break  # a name in marks may be the subject (نشرت «عكاظ» أن), not a quote's first words
        norm = tok.norm
        if norm == "علي" and ((chosen and toks[chosen[-1]].norm in NAME_LINKS) or _ali_named(toks, bases, k, first)):
            chosen.append(k)
            continue
        if not chosen and k == first and (norm in DOCUMENT_SUBJECTS or _manner(norm, tok.text)):
            if norm in DOCUMENT_SUBJECTS:  # وأوضح بيان صحافي ... أن: the statement speaks
                chosen.append(k)
                continue
            break  # وقال مستشهداً بالأبيات: how he spoke, not who; the speaker is carried over
        if with_object and norm.startswith("ب") and norm not in ("باسم", "بن"):
            break  # "طالب بضرورة ..." has no subject after the verb: the object comes first
        if (norm in SUBJECT_STOPS or norm.startswith(SUBJECT_STOP_PREFIXES) or norm in COMPLEMENTISERS
                or _is_verb(bases[k], for_marks=False)):
            break
        chosen.append(k)
        if len(chosen) > settings.max_subject_words:
            return None
    if not chosen:
        return None
    return toks[chosen[0]].start, toks[chosen[-1]].end


def _manner(norm: str, written: str) -> bool:
    """A manner participle in the accusative (مستشهدا، مستهجنا، مبتسما): م...ا, five letters or more;
    in م...يا only with its tanween written (مبديًا), as ماليزيا and موريتانيا are names."""
    return (len(norm) >= 5 and norm[0] == "م" and norm[-1] == "ا" and norm not in MANNER_NOT
            and (not norm.endswith("يا") or "\u064b" in written))


def _ali_named(toks: list[Token], bases: list[str], k: int, first: int) -> bool:
    """علي right after the verb and before أن, spelt with ي, is the name Ali (وأضاف علي أن), unless
    the verb takes على (أكد على أن)."""
    return (k == first and k > 0 and k + 1 < len(toks) and bases[k + 1] in COMPLEMENTISERS
            and toks[k].text.rstrip("\u064b-\u0652")[-1:] == "ي" and bases[k - 1] not in ALA_VERBS)


def _subject_before(
    text: str, toks: list[Token], bases: list[str], i: int, settings: QuoteSettings,
) -> tuple[int, int] | None:
    """Span of a subject written before the verb at ``i``, or None.

    Two shapes only: a relative clause (المتحدث مبارك العصيمي الذي أكد أن) and a subject that
    opens the clause (، وكانت بريطانيا أعلنت أن / «...». الأمير خالد الفيصل صرح: أن). Anything
    else before a bare verb (وفي المقابل أكد، إلا أنه أعلن) is no subject, and the speaker is
    carried over.
    """
    k = i - 1
    if k < 0 or _punctuated(text, toks[k].end, toks[i].start):
        return None
    relative = toks[k].norm in RELATIVES
    if relative:
        k -= 1
        if k < 0 or _punctuated(text, toks[k].end, toks[k + 1].start):
            return None
    chosen: list[int] = []
    opened = False  # the walk reached punctuation, the paragraph start or كان: the phrase opens the clause
    while k >= 0:
        norm = toks[k].norm
        core = norm[1:] if len(norm) > 2 and norm[0] in "وف" else norm
        if norm in BEFORE_STOPS or core in BEFORE_STOPS or norm in COMPLEMENTISERS or any(
                ch.isdigit() for ch in norm) or _is_verb(bases[k], False) or bases[k] in STATEMENT_VERBS:
            opened = core in ("كان", "كانت", "كانوا")
            break
        chosen.append(k)
        if len(chosen) > settings.max_subject_words:
            return None
        if k == 0 or _punctuated(text, toks[k - 1].end, toks[k].start):
            opened = True
            break
        k -= 1
    if not chosen or not (opened or relative):
        return None
    first, last = toks[chosen[-1]], toks[chosen[0]]
    start = first.start + (1 if first.norm[:3] in ("وال", "فال") else 0)  # والمدير -> المدير
    return start, last.end


def _punctuated(text: str, start: int, end: int) -> bool:
    return any(ch in text[start:end] for ch in _ENDS + "،,:؛()\"«»“”\n")


class _Sentences:
    """A paragraph's sentences, cut only when a trigger asks for them (most paragraphs never do)."""

    __slots__ = ("_end", "_spans", "_start", "_starts", "_text")

    def __init__(self, text: str, start: int, end: int) -> None:
        self._text, self._start, self._end = text, start, end
        self._spans: list[tuple[int, int]] | None = None
        self._starts: list[int] = []

    def spans(self) -> tuple[list[tuple[int, int]], list[int]]:
        if self._spans is None:
            self._spans = _sentences(self._text, self._start, self._end)
            self._starts = [s for s, _ in self._spans]
        return self._spans, self._starts


def _sentence_end(sents: _Sentences, pos: int, default: int) -> int:
    spans, starts = sents.spans()
    k = bisect.bisect_right(starts, pos) - 1
    if 0 <= k < len(spans) and spans[k][0] <= pos < spans[k][1]:
        return spans[k][1]
    return default


def _sentence_start(sents: _Sentences, pos: int, default: int) -> int:
    spans, starts = sents.spans()
    k = bisect.bisect_right(starts, pos) - 1
    return spans[k][0] if 0 <= k < len(spans) else default


def _indirect(
    text: str, toks: list[Token], bases: list[str], i: int, sents: _Sentences,
    openers: set[int], par_end: int, settings: QuoteSettings,
) -> _Candidate | None:
    base = bases[i]
    if base in ATTRIBUTIONS:
        return _attribution(text, toks, bases, i, sents, settings)
    if base in POSTPOSED_LEADS or (base == "ما" and i > 0 and (
            toks[i - 1].norm in ("هذا", "وهذا", "وهو") or toks[i - 1].norm in SPLIT_POSTPOSED)):
        return _postposed(text, toks, bases, i, sents, settings)
    if base in ("مما", "ومما") and i + 1 < len(toks) and _is_verb(toks[i + 1].norm[:-1], False):
        i, base = i + 1, toks[i + 1].norm[:-1]  # ومما قاله نصر الله أن: "among what X said is that"
    passive = base in PASSIVE_SOURCE_VERBS and i + 1 < len(toks) and toks[i + 1].norm == "من"
    if not (passive or _is_verb(base, for_marks=False)):
        return None
    sent_end = _sentence_end(sents, toks[i].start, par_end)
    participle = base in PARTICIPLES
    splits = _starts_statement(text, toks, bases, i)
    # Find the complementiser (or a colon without marks) that opens the reported clause.
    for k in range(i + 1, min(len(toks), i + 2 + settings.max_verb_gap_words)):
        if toks[k].start >= sent_end:
            return None
        gap_start = toks[k - 1].end
        if any(gap_start <= o <= toks[k].start for o in openers) or (
                k > i + 1 and _is_verb(bases[k], for_marks=False)):
            return None  # a direct quote or another verb comes first
        if ":" in text[gap_start : toks[k].start] and not participle:
            speaker = _subject(text, toks, bases, i + 1, k, gap_start, settings)
            if speaker is None and toks[i].norm == base:
                speaker = _subject_before(text, toks, bases, i, settings)
            clause_start = toks[k].start
            if bases[k] in BARE_COMPLEMENTISERS and k + 1 < len(toks):
                clause_start = toks[k + 1].start
            c_start, c_end = _trim(text, clause_start, sent_end)
            if c_end - c_start < 2:
                return None
            return _Candidate(c_start, c_end, False, speaker, True, toks[i].start, toks[i].start, splits)
        if bases[k] not in COMPLEMENTISERS and bases[k] != "فان":
            continue
        if toks[k - 1].norm in NOT_COMPLEMENTISING:
            continue
        if base in B_ONLY_VERBS and not toks[k].norm.startswith("ب"):
            return None
        if participle and k - i > 3:
            return None
        # "أكد على أهمية أن ..." is a verb with an object, not a reported clause.
        for j in range(i + 1, k - 1):
            if bases[j] in ("علي", "عن", "من", "في") and toks[j + 1].norm.startswith(OBJECT_HEADS):
                return None
        speaker = None if participle else _subject(text, toks, bases, i + 1, k, toks[k].start, settings)
        relayed = next((j for j in range(i + 1, k) if toks[j].norm in ("عن", "عنه", "عنها", "عنهم")), None)
        if base in RELAY_VERBS and relayed is not None:
            speaker = _subject(text, toks, bases, relayed + 1, k, toks[k].start, settings)
        elif passive:  # علم من مصدر مطلع أن: the source after من
            speaker = _subject(text, toks, bases, i + 2, k, toks[k].start, settings)
        elif speaker is None and not participle and toks[i].norm == base:
            speaker = _subject_before(text, toks, bases, i, settings)
        if bases[k] in BARE_COMPLEMENTISERS:
            if k + 1 >= len(toks):
                return None
            clause_start = toks[k + 1].start
        else:
            clause_start = toks[k].start + (1 if toks[k].norm.startswith("ب") else 0)
        c_start, c_end = _trim(text, clause_start, sent_end)
        if c_end - c_start < 2:
            return None
        carry = True  # False: a plural participle, whose speaker must be plural
        if participle and base.endswith(("ين", "ون")):
            # قائلين إن: a plural speaks, not the last (singular) speaker; the plural noun phrase
            # right before it (حفيظة السياسيين السعوديين، قائلين) or nobody.
            speaker, carry = _plural_before(text, toks, i), False
        return _Candidate(c_start, c_end, False, speaker, True, toks[i].start, toks[i].start, splits,
                          plural=not carry)
    return None


def _plural_before(text: str, toks: list[Token], i: int) -> tuple[int, int] | None:
    """The definite plural noun phrase (السياسيين السعوديين) right before the token at ``i``."""
    k = i - 1
    while k >= 0 and toks[k].norm.endswith(("ين", "ون")) and len(toks[k].norm) > 4 and not (
            k < i - 1 and _punctuated(text, toks[k].end, toks[k + 1].start)):
        k -= 1
    if k < i - 1 and k >= 0 and toks[k].norm.startswith("ال") and not _punctuated(text, toks[k].end, toks[k + 1].start):
        k -= 1  # a broken-plural head before its adjective: النواب المعارضين
    if k == i - 1 or not toks[k + 1].norm.startswith(("ال", "وال")):
        return None
    return toks[k + 1].start + (1 if toks[k + 1].norm.startswith("وال") else 0), toks[i - 1].end


def _postposed(
    text: str, toks: list[Token], bases: list[str], i: int, sents: _Sentences,
    settings: QuoteSettings,
) -> _Candidate | None:
    """"..., هذا ما أكده الوزير" / "... حسبما نشرته صحيفة ...": the sentence before is the quote."""
    k = i + 1
    if k >= len(toks):
        return None
    norm = toks[k].norm
    stem = norm[:-1] if norm.endswith("ه") and len(norm) > 3 else norm
    stem = _base(stem)
    if not (_is_verb(stem, for_marks=False) or stem in PUBLISH_VERBS or norm in PUBLISH_VERBS):
        return None
    first = k + 1
    if stem in ("جاء", "ورد") and first < len(toks) and toks[first].norm == "في":
        first += 1
    speaker = _subject(text, toks, bases, first, len(toks), toks[-1].end, settings)
    lead = i - 1 if bases[i] == "ما" else i
    if lead > 0 and toks[lead - 1].norm in ("وذلك", "ذلك"):
        lead -= 1  # ... القرن الأفريقي وذلك بحسب ما أفادت مصادر: وذلك points back at the report
    sent_start = _sentence_start(sents, toks[lead].start, toks[0].start)
    c_start, c_end = _trim(text, sent_start, toks[lead].start)
    if speaker is None or len(tokens(text, c_start, c_end)) < 3:
        return None
    return _Candidate(c_start, c_end, False, speaker, False, toks[i].start)


def _attribution(
    text: str, toks: list[Token], bases: list[str], i: int, sents: _Sentences,
    settings: QuoteSettings,
) -> _Candidate | None:
    """حسب / بحسب / وفقا لـ / نقلا عن + a source: the rest of the sentence is what it reported."""
    base = bases[i]
    first = i + 1
    if first >= len(toks):
        return None
    if base in ("وفقا", "طبقا", "وفق") and (
            not toks[first].norm.startswith("ل") or toks[first].norm.startswith("لما")):
        return None
    if base == "نقلا":
        if toks[first].norm != "عن":
            return None
        first += 1
    if first >= len(toks):
        return None
    head = toks[first]
    head_norm = head.norm
    skip = 0
    if base in ("وفقا", "طبقا", "وفق"):
        if head_norm == "ل":
            first += 1
            if first >= len(toks):
                return None
            head, head_norm = toks[first], toks[first].norm
        elif head_norm.startswith("لل"):
            head_norm = "ال" + head_norm[2:]  # للصحيفة: the speaker text gets its ال back below
        else:
            skip = 1
            head_norm = head_norm[1:]
    if head_norm not in SOURCE_HEADS:
        return None
    sent_start = _sentence_start(sents, toks[i].start, toks[i].start)
    sent_end = _sentence_end(sents, toks[i].start, toks[-1].end)
    span_end = first
    while span_end < len(toks) and span_end - first < 8 and toks[span_end].end <= sent_end:
        if span_end > first and any(ch in text[toks[span_end - 1].end : toks[span_end].start]
                                    for ch in _ENDS + "،,:؛(\"«»“”\n"):
            break
        if toks[span_end].norm in ("فان", "ان", "الذي", "التي", "في", "خلال"):
            break
        span_end += 1
    speaker = (head.start + skip, toks[span_end - 1].end)
    lead = [t for t in toks if sent_start <= t.start < toks[i].start]
    if len(lead) <= 1:  # "وبحسب المصادر، فإن ..." : the clause follows the source
        clause = toks[span_end].start if span_end < len(toks) else sent_end
        fan = next((j for j in range(span_end, min(len(toks) - 1, span_end + 10))
                    if toks[j].norm in BARE_COMPLEMENTISERS and toks[j].start < sent_end), None)
        if fan is not None:  # وبحسب أحد الدلالين الموجودين في سوق ... فإن: the content follows فإن
            clause = toks[fan + 1].start
        c_start, c_end = _trim(text, clause, sent_end)
    else:
        c_start, c_end = _trim(text, sent_start, toks[i].start)
    if c_end - c_start < 2 or len(tokens(text, c_start, c_end)) < 3:
        return None
    return _Candidate(c_start, c_end, False, speaker, False, toks[i].start)


def _split_and_prune(
    cands: list[_Candidate], toks: list[Token], bases: list[str], text: str,
) -> list[_Candidate]:
    """Cut a reported clause where the next statement starts (، وأضاف أن / مشيرا إلى أن / لكنه
    أشار إلى أن); a verb inside a clause without one (قال إن الوزير أكد أن) is part of what was
    reported, and gives no quote of its own."""
    cands.sort(key=lambda c: c.anchor)
    out: list[_Candidate] = []
    for cand in cands:
        if out and out[-1].start <= cand.anchor < out[-1].end:
            prev = out[-1]
            if not cand.splits:
                continue
            cut = bisect.bisect_left([t.start for t in toks], cand.anchor)
            while cut > 0 and (toks[cut - 1].norm in STATEMENT_OPENERS or (
                    toks[cut - 1].norm in ("من", "ومن") and toks[cut].norm in STATEMENT_OPENERS)):
                cut -= 1  # ... الخارجي ومن جانبه قال: ومن جانبه belongs to the next statement
            prev.end = _trim(text, prev.start, min(cand.anchor, toks[cut].start))[1]
            if prev.end <= prev.start:
                out.pop()
        out.append(cand)
    return [c for c in out if c.end > c.start]


def _clause_end(
    text: str, toks: list[Token], bases: list[str], starts: list[int], start: int, end: int,
    marked: Sequence[tuple[int, int]],
) -> int:
    """End of a reported clause cut where, after a comma, a new statement starts: a speech
    participle even without a complementiser (، مشيراً إلى دور ...), or و + a speech verb or a verb
    of restating (، وأجمعوا على أن، وأعاد زيكو ... التأكيد). Those are the speaker's (or someone
    else's) next statement, not part of what was reported. Words inside quote marks (``marked``)
    are the quoted person's own and cut nothing."""
    k = bisect.bisect_right(starts, start)
    while k < len(toks) and toks[k].start < end:
        tok, base = toks[k], bases[k]
        if any(a <= tok.start < b for a, b in marked):
            k += 1
            continue
        gap = text[toks[k - 1].end : tok.start]
        if ("،" in gap or "," in gap) and (base in PARTICIPLES or (
                tok.norm != base and tok.norm[0] == "و" and base in NEW_STATEMENT_VERBS)):
            return _trim(text, start, tok.start)[1]
        if base in PARTICIPLES and k + 1 < len(toks) and (toks[k + 1].norm in ("الي", "علي") or bases[
                k + 1] in COMPLEMENTISERS or (toks[k + 1].norm[0] == "ب" and len(toks[k + 1].norm) > 3)):
            return _trim(text, start, tok.start)[1]  # ... وهم بحالة جيدة مشيرا إلى سقوط مركبة
        k += 1
    return end


# ---------------------------------------------------------------------------------------------
# Speakers to entities


def resolve_speakers(
    quotes: Sequence[Quote], entities: Sequence[Entity], settings: QuoteSettings = DEFAULT_SETTINGS
) -> list[Quote]:
    """Set ``Quote.speaker`` to the id of the entity the speaker phrase names.

    First a mention of the entity in the same article whose text lies inside the speaker phrase
    and which sits next to the quote (the phrase's own span is not kept on Quote, so "overlaps the
    speaker phrase" is read as "is that phrase, close to the quote"); then aliases equal to the
    normalised phrase or contained in it; then a surname alone when one entity alone has it.
    """
    by_alias: dict[str, set[str]] = {}
    by_last: dict[str, set[str]] = {}
    for ent in entities:
        for alias in {ent.name, *ent.aliases}:
            norm = normalize(alias)
            if not norm:
                continue
            by_alias.setdefault(norm, set()).add(ent.id)
            words = norm.split()
            if len(words) > 1:
                by_last.setdefault(words[-1], set()).add(ent.id)
    mentions_by_article: dict[str, list[tuple[Mention, str]]] = {}
    for ent in entities:
        for m in ent.mentions:
            mentions_by_article.setdefault(m.article, []).append((m, ent.id))
    return [
        replace(quote, speaker=_resolve(quote, mentions_by_article.get(quote.article, ()), by_alias, by_last,
                                        settings))
        for quote in quotes
    ]


def _resolve(
    quote: Quote, mentions: Sequence[tuple[Mention, str]], by_alias: dict[str, set[str]],
    by_last: dict[str, set[str]], settings: QuoteSettings,
) -> str | None:
    if not quote.speaker_text:
        return None
    if quote.speaker_span is not None:
        # The speaker phrase's own span: a mention overlapping it is the speaker.
        s0, s1 = quote.speaker_span
        for m, entity_id in mentions:
            if m.span[0] < s1 and s0 < m.span[1]:
                return entity_id
    phrase = normalize(quote.speaker_text)
    padded = f" {phrase} "
    best: tuple[int, str] | None = None
    lo, hi = quote.span[0] - settings.resolve_window, quote.span[1] + settings.resolve_window
    for m, entity_id in mentions:
        if not (lo <= m.span[0] <= hi):
            continue
        mnorm = normalize(m.text)
        if mnorm and (f" {mnorm} " in padded or padded in f" {mnorm} "):
            dist = min(abs(m.span[0] - quote.span[0]), abs(m.span[1] - quote.span[1]))
            if best is None or dist < best[0]:
                best = (dist, entity_id)
    if best is not None:
        return best[1]
    ids = by_alias.get(phrase)
    if ids and len(ids) == 1:
        return next(iter(ids))
    words = phrase.split()
    # Aliases inside the phrase: look its word n-grams up rather than scanning every alias.
    contained = {
        eid
        for n in range(1, len(words) + 1)
        for i in range(len(words) - n + 1)
        for eid in by_alias.get(" ".join(words[i : i + n]), ())
    }
    if len(contained) == 1:
        return next(iter(contained))
    if words:
        ids = by_last.get(words[-1])
        if ids and len(ids) == 1:
            return next(iter(ids))
    return None
