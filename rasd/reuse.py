"""Passage-level text reuse: which passages of one article were taken from another, and by whom.

Whole-document fingerprints miss rewrites (an article that rewords five passages of another
shares about 1% of its word 5-grams with it), so reuse is found passage by passage on
normalised, stemmed content words:

1. *Candidates*: every article gives unordered pairs of content stems that occur within a few
   words of each other (skip-grams that survive word-order changes and inserted words). A
   deterministic sample of those keys goes into an inverted index; keys found in many articles
   are stock phrases, religious formulae or datelines and are ignored. Two articles sharing
   enough keys are a candidate pair.
2. *Alignment*: every occurrence of a shared content stem is a point (source position, target
   position). Points with no other point near them in both texts are chance matches and dropped.
   The remaining points are linked to every point at most a few words away in both texts, and
   each connected group is a candidate passage (a two-dimensional form of the seed extension of
   Sanchez-Perez et al., PAN 2014, on word positions). Dense groups are passages: verbatim copies are diagonals,
   reordered phrases are broken diagonals, shuffled or reworded text is a dense block, and all
   three are found the same way.
3. *Direction*: the earlier publication is the source; without dates, a credit line naming the
   other's outlet decides; otherwise the link says the direction is unknown.

Spans are character offsets into ``Article.text`` (tokens are cut with the same word pattern as
``rasd.textnorm.tokens``; see ``_WORD``).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

import numpy as np
from scipy.spatial import cKDTree

from rasd.models import Article, ReusedPassage, ReuseLink
from rasd.textnorm import normalize, stem


@dataclass(frozen=True, slots=True)
class ReuseSettings:
    # Skip-gram keys pair each content stem with the next `window` ones: 3 keeps pairs local
    # enough to be rare while surviving one inserted or substituted word between them.
    window: int = 3
    # Only keys whose hash falls in 1/key_sample of the range are indexed (the same keys in every
    # article, so shared passages still share sampled keys); 4 cut index memory 4x while keeping
    # every AraPlagDet case with a passage of 30+ words retrievable.
    key_sample: int = 4
    # A key in more articles than this is a stock phrase (formulae, datelines, agency boilerplate).
    max_df: int = 40
    # Sampled keys two articles must share to be aligned at all. On AraPlagDet (every 4th
    # suspicious document) true pairs shared 4 or more, 3 of 252 fewer than 5; unrelated pairs
    # with 3-4 shared keys were a third of all alignments, so 5 trades ~1% of pairs for speed.
    min_shared_keys: int = 5
    # A stem occurring more often than this in one text is topical vocabulary, not evidence of
    # copying; its points would blanket the dot plot.
    max_stem_count: int = 10
    # A point needs another point within this many content words in both texts to count.
    support_radius: int = 6
    # Clusters are cut where consecutive points are more than `gap` content words apart in either
    # text; long enough to bridge a reworded clause, short enough to keep separate passages apart.
    gap: int = 12
    # A passage needs this many distinct shared stems: one sentence of news (~12 content words)
    # while a shared title-length phrase is not enough.
    min_stems: int = 8
    # Shared stems per content word of the shorter side of the passage; chance overlap between
    # two texts on one topic stays below it.
    min_density: float = 0.3
    # Both sides of a passage must be at least this many content words long.
    min_length: int = 10
    # Passages closer than this (content words) in both texts, in reading order, are one passage
    # cut by a reworded stretch: on AraPlagDet granularity was 1.34 without the merge and 1.15
    # with it (plagdet 0.71 -> 0.79); see docs/reuse.md.
    merge_gap: int = 60
    # Passages inside one target paragraph are merged in either order when they are at most
    # `shuffle_gap` content words apart in the target and `shuffle_source_gap` in the source:
    # phrase-shuffled or word-shuffled copies come out as several out-of-order pieces of one
    # passage. A paragraph break in the target between them forbids it, so two swapped
    # paragraphs stay two passages (no AraPlagDet case crosses a line break in the suspicious
    # text). On AraPlagDet granularity fell 1.147 -> 1.002 and plagdet rose 0.788 -> 0.865;
    # source gaps of 200-500 scored alike, unlimited ones cost precision (0.858 -> 0.848).
    shuffle_gap: int = 100
    shuffle_source_gap: int = 200


# A word as rasd.textnorm.tokens cuts it: \w+ runs joined by marks written inside the word.
_WORD = re.compile(
    r"\d+(?:[.,٫٬]\d+)*|[^\W\d_]\w*(?:[\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d]+\w*)*"
)

# Function words (normalised): they carry no evidence of copying and would flood the dot plot.
_STOPWORD_TEXT = (
        "في من على إلى عن أن إن أو ما لا لم لن هذا هذه ذلك تلك التي الذي الذين اللذين اللتين كان كانت "
        "يكون تكون قد ثم كل بين حيث بعد قبل مع عند غير حتى هو هي هم هما نحن أنا أنت انه انها إنه إنها "
        "كما وقد وكان ولا وفي ومن وعلى وإلى وأن وإن أي أيضا منذ خلال لدى عليه عليها فيه فيها منه منها به "
        "بها له لها لهم إلا بل لكن لكنه ولكن إذا إذ فقد فإن بأن لأن كانوا وهو وهي وهذا وهذه ذات يا هناك "
        "هنا ضمن نحو عبر وفق وقال قال وأضاف أضاف وأشار أشار وأكد أكد حول دون فوق تحت أمام الى على علي ان "
        "او اذا لان"
)
_STOPWORDS = frozenset(normalize(w) for w in _STOPWORD_TEXT.split())
# Quranic ornate brackets mark verses: quoted scripture is shared by everyone, it is not reuse.
_QURAN = re.compile(r"﴿[^﴾]{0,2000}﴾")
# Religious formulae and closing phrases that any two texts may share; their words never count.
_FORMULAE = tuple(
    tuple(normalize(p).split())
    for p in (
        "بسم الله الرحمن الرحيم", "الحمد لله رب العالمين", "صلى الله عليه وسلم", "صلى الله عليه وآله وسلم",
        "والله ولي التوفيق", "وصلى الله وسلم على نبينا محمد وعلى آله وصحبه أجمعين",
        "وعلى آله وصحبه أجمعين", "والصلاة والسلام على أشرف الأنبياء والمرسلين", "رضي الله عنه",
        "رضي الله عنها", "رضي الله عنهم", "عز وجل", "سبحانه وتعالى", "جل جلاله", "عليه السلام",
        "إن شاء الله", "بإذن الله", "رحمه الله", "حفظه الله", "يرحمه الله", "السلام عليكم ورحمة الله وبركاته",
        "لا إله إلا الله", "إنا لله وإنا إليه راجعون", "لا حول ولا قوة إلا بالله", "الله أكبر",
        "أسكنه الله فسيح جناته", "تغمده الله بواسع رحمته",
    )
)
_FORMULA_START: dict[str, list[tuple[str, ...]]] = {}
for _f in sorted(_FORMULAE, key=len, reverse=True):
    _FORMULA_START.setdefault(_f[0], []).append(_f)


@dataclass(slots=True)
class _Doc:
    article: Article
    stems: np.ndarray  # stem id per content word
    starts: np.ndarray  # character offsets of each content word in article.text
    ends: np.ndarray
    credits: list[str] | None = None  # computed on first need, once per article
    # Sorted stem ids occurring at most max_stem_count times (the alignable ones), computed on
    # first need: an indexed article is aligned with every new article it shares keys with.
    rare: np.ndarray | None = None


class Vocabulary:
    """Raw word -> (normalised form, stem id or -1 for function words), cached per distinct spelling.

    Stem ids are numbered in order of first occurrence, starting after ``stems`` (given stems
    keep their place as ids 0, 1, ...). Candidate keys are sampled by a hash of these ids, so
    two vocabularies find the same candidate pairs only with the same numbering: the Spark
    engine numbers the stems of a whole batch as one run would and hands that numbering out.
    """

    def __init__(self, stems: Iterable[str] = ()) -> None:
        self._raw: dict[str, tuple[str, int]] = {}
        self._stems: dict[str, int] = {s: i for i, s in enumerate(stems)}

    def __len__(self) -> int:
        """How many stems have an id."""
        return len(self._stems)

    @property
    def stems(self) -> list[str]:
        """Every stem, in id order (a copy)."""
        return list(self._stems)

    def lookup(self, raw: str) -> tuple[str, int]:
        entry = self._raw.get(raw)
        if entry is None:
            norm = normalize(raw)
            if not norm or norm in _STOPWORDS or (len(norm) < 2 and not norm.isdigit()):
                entry = (norm, -1)
            else:
                entry = (norm, self._stems.setdefault(stem(norm), len(self._stems)))
            self._raw[raw] = entry
        return entry

    def doc(self, article: Article) -> _Doc:
        stems: list[int] = []
        starts: list[int] = []
        ends: list[int] = []
        text = article.text
        lookup = self._raw.get
        for block in article.body_blocks():
            masked = [(m.start(), m.end()) for m in _QURAN.finditer(text, block.start, block.end)]
            norms: list[str] = []
            sids: list[int] = []
            spans: list[tuple[int, int]] = []
            for m in _WORD.finditer(text, block.start, block.end):
                raw = m.group()
                entry = lookup(raw) or self.lookup(raw)
                norms.append(entry[0])
                sids.append(entry[1])
                spans.append(m.span())
            skip = _formula_mask(norms)
            for k, sid in enumerate(sids):
                if sid < 0 or skip[k]:
                    continue
                st, en = spans[k]
                if masked and any(s <= st < e for s, e in masked):
                    continue
                stems.append(sid)
                starts.append(st)
                ends.append(en)
        return _Doc(
            article,
            np.array(stems, dtype=np.int32),
            np.array(starts, dtype=np.int32),
            np.array(ends, dtype=np.int32),
        )


_Vocabulary = Vocabulary  # the name rasd.reuse's own code uses


def _formula_mask(norms: list[str]) -> list[bool]:
    skip = [False] * len(norms)
    for k, norm in enumerate(norms):
        for formula in _FORMULA_START.get(norm, ()):
            if tuple(norms[k : k + len(formula)]) == formula:
                skip[k : k + len(formula)] = [True] * len(formula)
                break
    return skip


# ---------------------------------------------------------------------------------------------
# Candidate keys

_MIX = np.uint64(0x9E3779B97F4A7C15)


def candidate_keys(doc: _Doc, settings: ReuseSettings) -> np.ndarray:
    """Sampled unordered skip-gram keys of a document (unique uint64s).

    Two documents made by the same :class:`Vocabulary` (or the same numbering) that share at
    least ``settings.min_shared_keys`` keys, each in 2..``max_df`` documents, are a candidate pair.
    """
    s = doc.stems
    if len(s) < 2:
        return np.empty(0, dtype=np.uint64)
    parts = []
    for d in range(1, settings.window + 1):
        a, b = s[:-d], s[d:]
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        parts.append((lo.astype(np.uint64) << np.uint64(32)) | hi.astype(np.uint64))
    keys = np.unique(np.concatenate(parts))
    keys = keys[(keys >> np.uint64(32)) != (keys & np.uint64(0xFFFFFFFF))]  # a stem with itself
    if settings.key_sample > 1:
        mixed = (keys * _MIX) >> np.uint64(40)
        keys = keys[mixed % np.uint64(settings.key_sample) == 0]
    return keys


_keys = candidate_keys


# ---------------------------------------------------------------------------------------------
# Alignment


def _points(src: _Doc, tgt: _Doc, settings: ReuseSettings) -> tuple[np.ndarray, np.ndarray]:
    """Positions (i in source, j in target) of shared content stems, rare enough in both."""
    common = np.intersect1d(_rare(src, settings), _rare(tgt, settings), assume_unique=True)
    if len(common) < settings.min_stems:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    s_pos = np.nonzero(_member(src.stems, common))[0]
    t_pos = np.nonzero(_member(tgt.stems, common))[0]
    # Join on stem id: for every target position, the run of source positions with its stem.
    s_sorted = s_pos[np.argsort(src.stems[s_pos], kind="stable")]
    s_keys = src.stems[s_sorted]
    t_stems = tgt.stems[t_pos]
    lo = np.searchsorted(s_keys, t_stems, "left")
    counts = np.searchsorted(s_keys, t_stems, "right") - lo
    total = int(counts.sum())
    offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    return s_sorted[np.repeat(lo, counts) + offsets], np.repeat(t_pos, counts)


def _member(values: np.ndarray, sorted_unique: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_unique)`` by binary search: np.isin sorts both arrays again on every
    call, which on a few hundred words cost more than the search."""
    if not len(sorted_unique):
        return np.zeros(len(values), dtype=bool)
    at = np.searchsorted(sorted_unique, values)
    at[at == len(sorted_unique)] = 0
    return sorted_unique[at] == values


def _rare(doc: _Doc, settings: ReuseSettings) -> np.ndarray:
    if doc.rare is None:
        ids, counts = np.unique(doc.stems, return_counts=True)
        doc.rare = ids[counts <= settings.max_stem_count]
    return doc.rare


def _clusters(i: np.ndarray, j: np.ndarray, settings: ReuseSettings) -> list[np.ndarray]:
    """Groups of points linked through neighbours at most ``gap`` content words apart in both texts.

    Points with no other point within ``support_radius`` are dropped first: a lone shared word
    is chance. Single linkage in two dimensions keeps apart two passages that were swapped
    (adjacent in both texts but in opposite orders), which cutting the projections cannot.
    """
    pts = np.column_stack([i, j]).astype(np.float64)
    # Every pair within `gap` in both texts (Chebyshev distance) in one query; those within
    # `support_radius` are among them (the radius is the smaller), so one query serves both.
    radius = max(settings.gap, settings.support_radius)
    pairs = cKDTree(pts).query_pairs(radius, p=np.inf, output_type="ndarray")
    a, b = pairs[:, 0], pairs[:, 1]
    apart = np.maximum(np.abs(i[a] - i[b]), np.abs(j[a] - j[b]))
    supported = np.zeros(len(i), dtype=bool)
    supported[pairs[apart <= settings.support_radius].ravel()] = True
    keep = np.nonzero(supported)[0]
    if len(keep) < settings.min_stems:
        return []
    # The links among supported points are the pairs within `gap` whose ends are both supported.
    # Components are labelled by their smallest point, which orders them as scipy's
    # connected_components numbers them; building a sparse graph for it cost half of this
    # function (0.69 -> 0.35 ms per aligned pair on 1,234 SaudiNewsNet pairs, same groups).
    edges = pairs[(apart <= settings.gap) & supported[a] & supported[b]]
    rank = np.cumsum(supported) - 1
    labels = _components(len(keep), rank[edges[:, 0]], rank[edges[:, 1]])
    order = np.argsort(labels, kind="stable")
    bounds = [0, *(np.nonzero(np.diff(labels[order]))[0] + 1).tolist(), len(order)]
    # Slices, not np.split: most groups are too small to keep, and np.split made an array of each.
    return [keep[order[lo:hi]] for lo, hi in pairwise(bounds) if hi - lo >= settings.min_stems]


def _components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected components of the graph on 0..n-1 with edges (a[k], b[k]): each node's label is
    the smallest node of its component (hook each edge's roots to the smaller, then compress)."""
    labels = np.arange(n)
    while len(a):
        la, lb = labels[a], labels[b]
        if np.array_equal(la, lb):
            break
        low = np.minimum(la, lb)
        np.minimum.at(labels, la, low)
        np.minimum.at(labels, lb, low)
        while True:
            up = labels[labels]
            if np.array_equal(up, labels):
                break
            labels = up
    return labels


def _passages(src: _Doc, tgt: _Doc, settings: ReuseSettings) -> list[tuple[int, int, int, int, int]]:
    """Aligned passages as (src_first, src_last, tgt_first, tgt_last, shared_stems) in content words."""
    i, j = _points(src, tgt, settings)
    if len(i) == 0:
        return []
    found = []
    for idx in _clusters(i, j, settings):
        # Distinct values are counted with Python sets: a group is a few dozen points, where
        # np.unique's sort and its bookkeeping cost several times more.
        ci, cj = i[idx].tolist(), j[idx].tolist()
        shared = len(set(src.stems[ci].tolist()))
        if shared < settings.min_stems:
            continue
        s0, s1, t0, t1 = min(ci), max(ci), min(cj), max(cj)
        length = min(s1 - s0, t1 - t0) + 1
        if length < settings.min_length:
            continue
        # Distinct stems on each side over its length: a block of topical words scattered through
        # both texts is sparse on at least one side.
        dens = min(len(set(ci)) / (s1 - s0 + 1), len(set(cj)) / (t1 - t0 + 1))
        if dens < settings.min_density:
            continue
        found.append((s0, s1, t0, t1, shared))
    if len(found) < 2:
        return found
    return _merge(found, settings, _paragraphs(tgt))


def _paragraphs(doc: _Doc) -> np.ndarray:
    """Paragraph number (line breaks before it) of every content word."""
    breaks = np.array([m.start() for m in re.finditer("\n", doc.article.text)], dtype=np.int64)
    return np.searchsorted(breaks, doc.starts)


def _merge(
    found: list[tuple[int, int, int, int, int]], settings: ReuseSettings, para: np.ndarray
) -> list[tuple[int, int, int, int, int]]:
    """Merge passages that are near each other in both texts, until none are.

    ``para`` gives the target paragraph of each content word: out-of-order pieces are merged
    only inside one paragraph, so two passages swapped between the texts stay two passages.
    """
    gap = settings.merge_gap
    found = sorted(found, key=lambda p: p[2])
    changed = True
    while changed and len(found) > 1:
        changed = False
        out = [found[0]]
        for s0, s1, t0, t1, n in found[1:]:
            a0, a1, b0, b1, m = out[-1]
            in_order = t0 - b1 <= gap and s0 - a1 <= gap and s1 >= a0
            shuffled = (
                para[b1] == para[t0]
                and t0 - b1 <= settings.shuffle_gap
                and max(s0 - a1, a0 - s1) <= settings.shuffle_source_gap
            )
            if in_order or shuffled:
                out[-1] = (min(a0, s0), max(a1, s1), b0, max(b1, t1), m + n)
                changed = True
            else:
                out.append((s0, s1, t0, t1, n))
        found = out
    return found


def _to_passages(src: _Doc, tgt: _Doc, raw: list[tuple[int, int, int, int, int]]) -> list[ReusedPassage]:
    out = []
    for s0, s1, t0, t1, _ in raw:
        ss, se = int(src.starts[s0]), int(src.ends[s1])
        ts, te = int(tgt.starts[t0]), int(tgt.ends[t1])
        out.append(ReusedPassage((ss, se), (ts, te), src.article.text[ss:se], tgt.article.text[ts:te]))
    return out


def align(source: Article, target: Article, settings: ReuseSettings | None = None) -> list[ReusedPassage]:
    """Passages of ``target`` taken from ``source``, with spans into both original texts."""
    settings = settings or ReuseSettings()
    vocab = _Vocabulary()
    src, tgt = vocab.doc(source), vocab.doc(target)
    return _to_passages(src, tgt, _passages(src, tgt, settings))


# ---------------------------------------------------------------------------------------------
# Direction

_CREDIT_PHRASES = tuple(
    normalize(p) for p in ("بالتزامن مع", "نقلا عن", "نقلاً عن", "المصدر", "عن وكالة", "بحسب", "وفقا ل")
)
# Agencies named by their abbreviations in datelines; each maps to names its outlet goes by.
_AGENCIES: dict[str, tuple[str, ...]] = {
    "واس": ("واس", "وكاله الانباء السعوديه", "spa"),
    "ا ف ب": ("فرانس برس", "وكاله الصحافه الفرنسيه", "afp", "ا ف ب"),
    "رويترز": ("رويترز", "reuters"),
    "د ب ا": ("الوكاله الالمانيه", "dpa", "د ب ا"),
    "كونا": ("كونا", "وكاله الانباء الكويتيه"),
    "وام": ("وام", "وكاله انباء الامارات"),
}
_CREDIT_TAIL = 40  # characters after a credit phrase that may hold the outlet's name
# Credit lines and datelines stand at the head or the foot of an article; scanning only there
# keeps a quoted "نقلا عن" deep in the body from counting, and keeps the check cheap.
_CREDIT_ZONE = 300


# Compiled once: looked up in re's cache on every call, they were a third of _credits, which
# runs once for every article a new one is aligned with (about four a new article on SaudiNewsNet).
_NOT_WORD = re.compile(r"[^\w ]")
_SPACES = re.compile(r" +")
_CREDIT_PHRASE_RES = tuple(re.compile(re.escape(phrase)) for phrase in _CREDIT_PHRASES)
_AGENCY_RES = tuple(
    (re.compile(rf"(?:^| ){re.escape(abbrev)}(?: |$)"), aliases) for abbrev, aliases in _AGENCIES.items()
)


def _credits(article: Article) -> list[str]:
    """Normalised names this article credits as its origin."""
    names = [normalize(article.credit)] if article.credit else []
    raw = article.text
    if len(raw) > 2 * _CREDIT_ZONE:
        raw = raw[:_CREDIT_ZONE] + "\n" + raw[-_CREDIT_ZONE:]
    text = normalize(raw)
    plain = _SPACES.sub(" ", _NOT_WORD.sub(" ", text))
    for phrase in _CREDIT_PHRASE_RES:
        for m in phrase.finditer(text):
            names.append(text[m.end() : m.end() + _CREDIT_TAIL])
    for abbrev, aliases in _AGENCY_RES:
        if abbrev.search(plain):
            names.extend(aliases)
    return [n.strip(" :-") for n in names if n.strip(" :-")]


def _names_outlet(credits: Iterable[str], outlet: str | None) -> bool:
    if not outlet:
        return False
    name = normalize(outlet)
    aliases = {name}
    for group in _AGENCIES.values():
        if name in group:
            aliases.update(group)
    return any(alias in credit for credit in credits for alias in aliases if len(alias) >= 2)


def _when(published: str | None) -> datetime | None:
    if not published:
        return None
    try:
        value = datetime.fromisoformat(published)
    except ValueError:
        return None
    # Naive and aware times cannot be compared; a naive time is taken as UTC-less wall time.
    return value.replace(tzinfo=None) if value.tzinfo is None else value


def direction(
    a: Article, b: Article, credits: tuple[list[str], list[str]] | None = None
) -> tuple[Article, Article, bool, str]:
    """(source, target, direction_known, evidence) for two articles sharing passages."""
    ta, tb = _when(a.published), _when(b.published)
    if ta is not None and tb is not None and (ta.tzinfo is None) == (tb.tzinfo is None) and ta != tb:
        return (a, b, True, "published") if ta < tb else (b, a, True, "published")
    a_credits, b_credits = credits if credits is not None else (_credits(a), _credits(b))
    a_credits_b = _names_outlet(a_credits, b.source)
    b_credits_a = _names_outlet(b_credits, a.source)
    if a_credits_b != b_credits_a:
        return (b, a, True, "credit") if a_credits_b else (a, b, True, "credit")
    return a, b, False, "unknown"


def link_docs(a: _Doc, b: _Doc, settings: ReuseSettings) -> ReuseLink | None:
    """The reuse link between two candidate documents, or None when they share no passage.

    ``a`` should be the earlier of the two in the batch: without dates or credits the
    direction is unknown and the link keeps ``a`` as its source, as :func:`find_reuse` does.
    """
    for doc in (a, b):
        if doc.credits is None:
            doc.credits = _credits(doc.article)
    assert a.credits is not None and b.credits is not None
    src, _tgt, known, evidence = direction(a.article, b.article, (a.credits, b.credits))
    if src is b.article:
        a, b = b, a
    raw = _passages(a, b, settings)
    if not raw:
        return None
    passages = _to_passages(a, b, raw)
    body = sum(bl.end - bl.start for bl in b.article.body_blocks()) or 1
    covered = sum(p.target_span[1] - p.target_span[0] for p in passages)
    return ReuseLink(a.article.id, b.article.id, known, round(min(1.0, covered / body), 4), tuple(passages), evidence)


_link = link_docs


# ---------------------------------------------------------------------------------------------
# Index


class ReuseIndex:
    """Incremental reuse detection: each added article is aligned with the indexed ones it shares keys with."""

    def __init__(self, settings: ReuseSettings | None = None) -> None:
        self.settings = settings or ReuseSettings()
        if self.settings.window < 1 or self.settings.key_sample < 1:
            raise ValueError("window and key_sample must be at least 1")
        self._vocab = _Vocabulary()
        self._docs: list[_Doc] = []
        self._ids: set[str] = set()
        self._postings: dict[int, list[int]] = {}
        self._stock: set[int] = set()

    def _candidates(self, keys: np.ndarray) -> list[int]:
        counts: dict[int, int] = defaultdict(int)
        for key in keys.tolist():
            posting = self._postings.get(key)
            if posting is None or len(posting) > self.settings.max_df:
                continue
            for d in posting:
                counts[d] += 1
        return sorted(d for d, c in counts.items() if c >= self.settings.min_shared_keys)

    def query(self, article: Article) -> list[ReuseLink]:
        """Reuse links between ``article`` and the indexed articles, without indexing it."""
        doc = self._vocab.doc(article)
        return self._query(doc, _keys(doc, self.settings))

    def _query(self, doc: _Doc, keys: np.ndarray) -> list[ReuseLink]:
        links = []
        for d in self._candidates(keys):
            link = _link(self._docs[d], doc, self.settings)
            if link is not None:
                links.append(link)
        return links

    def insert(self, article: Article) -> None:
        """Index ``article`` without aligning it (to build an index of sources to query)."""
        self._insert(self._vocab.doc(article))

    def _insert(self, doc: _Doc, keys: np.ndarray | None = None) -> None:
        if doc.article.id in self._ids:
            raise ValueError(f"article id {doc.article.id!r} is already indexed; ids must be unique")
        n = len(self._docs)
        self._docs.append(doc)
        self._ids.add(doc.article.id)
        for key in (_keys(doc, self.settings) if keys is None else keys).tolist():
            posting = self._postings.setdefault(key, [])
            # Past max_df the key is stock phrasing; keep one extra entry as the marker.
            if len(posting) <= self.settings.max_df:
                posting.append(n)

    def add(self, article: Article) -> list[ReuseLink]:
        """Index ``article``; return its reuse links with the articles indexed before it."""
        if article.id in self._ids:
            raise ValueError(f"article id {article.id!r} is already indexed; ids must be unique")
        doc = self._vocab.doc(article)
        keys = _keys(doc, self.settings)
        links = self._query(doc, keys)
        self._insert(doc, keys)
        return links

    def __len__(self) -> int:
        return len(self._docs)


def _candidate_pairs(keyed: list[np.ndarray], settings: ReuseSettings) -> np.ndarray:
    """Document pairs (a < b) sharing at least min_shared_keys keys of document frequency <= max_df."""
    if not keyed:
        return np.empty((0, 2), dtype=np.int64)
    keys = np.concatenate(keyed)
    docs = np.concatenate([np.full(len(k), d, dtype=np.int64) for d, k in enumerate(keyed)])
    order = np.argsort(keys, kind="stable")
    keys, docs = keys[order], docs[order]
    starts = np.r_[0, np.nonzero(np.diff(keys))[0] + 1]
    sizes = np.diff(np.r_[starts, len(keys)])
    # Expand every key of document frequency 2..max_df into its document pairs, offset by offset.
    pair_codes = []
    n_docs = len(keyed)
    for off in range(1, settings.max_df):
        valid = (sizes > off) & (sizes <= settings.max_df)
        if not valid.any():
            break
        grp_start = starts[valid]
        grp_size = sizes[valid]
        # All first members t with t + off inside the group: positions start..start+size-off-1.
        counts = grp_size - off
        first = np.repeat(grp_start, counts) + (np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts))
        a, b = docs[first], docs[first + off]
        pair_codes.append(np.minimum(a, b) * n_docs + np.maximum(a, b))
    if not pair_codes:
        return np.empty((0, 2), dtype=np.int64)
    codes, counts = np.unique(np.concatenate(pair_codes), return_counts=True)
    codes = codes[counts >= settings.min_shared_keys]
    return np.stack([codes // n_docs, codes % n_docs], axis=1)


def find_reuse(articles: Sequence[Article], settings: ReuseSettings | None = None) -> list[ReuseLink]:
    """Reuse links among ``articles``: one link per pair of articles sharing passages."""
    settings = settings or ReuseSettings()
    seen: set[str] = set()
    for a in articles:
        if a.id in seen:
            raise ValueError(f"article id {a.id!r} appears twice; ids must be unique")
        seen.add(a.id)
    vocab = _Vocabulary()
    docs = [vocab.doc(a) for a in articles]
    pairs = _candidate_pairs([_keys(d, settings) for d in docs], settings)
    links = []
    for a, b in pairs.tolist():
        link = _link(docs[a], docs[b], settings)
        if link is not None:
            links.append(link)
    return links


def reuse_chains(links: Iterable[ReuseLink], max_chains: int = 10_000) -> list[list[str]]:
    """Maximal source-to-copier paths (A -> B -> C ...) through links of known direction.

    Only paths of two links or more are chains; a single link is already a link. Enumeration
    stops after ``max_chains`` paths (a wire story carried by many outlets has many paths).
    """
    succ: dict[str, set[str]] = defaultdict(set)
    has_pred: set[str] = set()
    for link in links:
        if link.direction_known and link.source != link.target:
            succ[link.source].add(link.target)
            has_pred.add(link.target)
    chains: list[list[str]] = []
    roots = sorted(n for n in succ if n not in has_pred)
    stack: list[list[str]] = [[r] for r in reversed(roots)]
    while stack and len(chains) < max_chains:
        path = stack.pop()
        nexts = sorted(n for n in succ.get(path[-1], ()) if n not in path)
        if not nexts:
            if len(path) >= 3:
                chains.append(path)
            continue
        for n in reversed(nexts):
            stack.append([*path, n])
    return chains
