"""Named entity recognition: a CRF over cheap per-word features of the text layer.

The tagger is a linear-chain CRF (python-crfsuite) trained on CLEANANERCorp by
``scripts/train_ner.py``, which also compiles the lexical resources the features read:

* word clusters (k-means over PPMI co-occurrence vectors of ANT news text, three granularities),
  which tell the model that an unseen name behaves like names it has seen;
* phrase gazetteers of entity names by type (training data and names ANT writes after honorifics);
* trigger words (السيد، وزير، مدينة ...) learned from the training data.

Every feature of a word that does not depend on its neighbours is computed once per distinct word
and cached, and context features are the neighbours' cached lists under a position prefix, so the
per-token cost is a few list concatenations. Offsets come from :mod:`rasd.textnorm`.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from itertools import compress
from pathlib import Path

import numpy as np
import pycrfsuite

from rasd.models import Article, Mention
from rasd.textnorm import normalize, normalize_token, sentences, tokens

TYPES = ("PER", "ORG", "LOC", "MISC")
#: CLEANANERCorp writes PERS; rasd's Mention.type says PER.
_TYPE_MAP = {"PERS": "PER", "PER": "PER", "ORG": "ORG", "LOC": "LOC", "MISC": "MISC"}


@dataclass(frozen=True, slots=True)
class NerSettings:
    #: Longest gazetteer phrase matched, in words: 99.5% of CLEANANERCorp train entities have
    #: at most 5 (98.6% at most 4).
    max_phrase: int = 5
    #: Document consistency: a name the CRF tagged elsewhere in the article is tagged at an
    #: untagged occurrence only if it has at least this many letters, because 2-letter tokens
    #: are too often function words (a judgement, not swept).
    consistency_min_chars: int = 3
    #: Apply document consistency at all: +1.4 F1 on CLEANANERCorp test (0.702 -> 0.716).
    consistency: bool = True
    #: Consistency also tags a bare surname of a person named in full elsewhere in the document:
    #: +1.1 F1 on CLEANANERCorp test (0.716 -> 0.727), PER 0.645 -> 0.687.
    surnames: bool = True
    #: Use the neural layer (neural.npz) over the CRF when the model directory has one.
    neural: bool = True


# ---------------------------------------------------------------------------------------------
# Clitics

# Conjunction, preposition and article glued to the front: وبالعاصمة, فللرئيس, كالمعتاد.
_PREFIX = re.compile(r"^(?:[وف])?(?:(?:[بكل])?ال|لل|[بكل])?")
_SUFFIXES = ("هما", "هم", "ها", "ه")


def strip_clitics(norm: str) -> str:
    """The word without leading و ف ب ك ل ال and a trailing ه ها هم (normalised input).

    A strip that would leave fewer than three letters is not done: short words are mostly
    function words where the "clitic" is part of the stem (ولد, بلد).
    """
    m = _PREFIX.match(norm)
    core = norm[m.end() :] if m and len(norm) - m.end() >= 3 else norm
    for suf in _SUFFIXES:
        if core.endswith(suf) and len(core) - len(suf) >= 3:
            return core[: -len(suf)]
    return core


def strip_prefix(norm: str) -> str:
    """Only the leading clitics: names take و/ب/ل in front but rarely a pronoun behind."""
    m = _PREFIX.match(norm)
    return norm[m.end() :] if m and len(norm) - m.end() >= 2 else norm


# ---------------------------------------------------------------------------------------------
# Resources


# Cached per distinct word: own features, features as seen from -2, -1, +1, +2, trigger class,
# normalised form, prefix-free form.
_Word = tuple[list[str], list[str], list[str], list[str], list[str], str, str, str]


@dataclass(slots=True)
class Resources:
    """The lexical resources features read; the training script builds fold-held-out copies."""

    clusters: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    #: normalised phrase (words joined by one space, first word clitic-free) -> type; "phrases"
    #: come from annotated text, "auto" from names the first-pass model found in ANT, kept apart
    #: so the model learns how far to trust each.
    phrases: dict[str, str] = field(default_factory=dict)
    auto: dict[str, str] = field(default_factory=dict)
    #: normalised word -> roles "g=TYPE:B" / "a=TYPE:I" it has in known phrases
    word_roles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    #: normalised word -> trigger class ("per", "loc", "org") of words that precede names
    triggers: dict[str, str] = field(default_factory=dict)
    #: first word of a phrase -> length of the longest phrase it starts, per table, so that the
    #: gazetteer scan skips at once the words that start no phrase (most of them)
    starts: dict[str, int] = field(default_factory=dict)
    auto_starts: dict[str, int] = field(default_factory=dict)
    _cache: dict[str, _Word] = field(default_factory=dict)

    def index_phrases(self) -> None:
        roles: dict[str, set[str]] = {}
        for tag, table in (("g", self.phrases), ("a", self.auto)):
            for phrase, typ in table.items():
                words = phrase.split(" ")
                for j, w in enumerate(words):
                    roles.setdefault(w, set()).add(f"{tag}={typ}:{'B' if j == 0 else 'I'}")
        self.word_roles = {w: tuple(sorted(r)) for w, r in roles.items()}
        self.starts = _phrase_starts(self.phrases)
        self.auto_starts = _phrase_starts(self.auto)
        self._cache.clear()


def _phrase_starts(table: dict[str, str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for phrase in table:
        first, _, rest = phrase.partition(" ")
        length = 1 + (rest.count(" ") + 1 if rest else 0)
        out[first] = max(out.get(first, 0), length)
    return out


def load_resources(directory: Path) -> Resources:
    res = Resources()
    with (directory / "clusters.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            word, a, b, c = line.rstrip("\n").split("\t")
            res.clusters[word] = (a, b, c)
    with (directory / "gazetteer.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            phrase, typ, origin = line.rstrip("\n").split("\t")[:3]
            (res.auto if origin == "auto" else res.phrases)[phrase] = typ
    with (directory / "triggers.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            word, cls = line.rstrip("\n").split("\t")[:2]
            res.triggers[word] = cls
    res.index_phrases()
    return res


# ---------------------------------------------------------------------------------------------
# Features

_PUNCT = re.compile(r"^[^\w]+$")
_LATIN = re.compile(r"[A-Za-z]")


def _shape(raw: str, norm: str) -> str:
    if _PUNCT.match(raw):
        return "punct"
    if norm.isdigit():
        return "num"
    # No letter is a digit (checked over all of Unicode): most words skip the scan.
    if not norm.isalpha() and any(ch.isdigit() for ch in norm):
        return "hasnum"
    if _LATIN.search(raw):
        return "latin"
    return "w"


def _word_features(raw: str, res: Resources) -> _Word:
    """(own features, features as seen from -2, -1, +1, +2, trigger class, norm, prefix-free) of a word, cached."""
    cached = res._cache.get(raw)
    if cached is not None:
        return cached
    out = _compute_word_features(raw, res)
    if len(res._cache) < 500_000:  # bounded: a long-running process must not grow forever
        res._cache[raw] = out
    return out


def _compute_word_features(raw: str, res: Resources) -> _Word:
    norm = normalize_token(raw) or raw  # textnorm.tokens has just normalised most words
    core = strip_clitics(norm)
    pre = strip_prefix(norm)
    shape = _shape(raw, norm)
    cl = res.clusters.get(norm) or res.clusters.get(pre) or res.clusters.get(core)
    own = [
        "b",
        "w=" + norm,
        "c=" + core,
        "sh=" + shape,
        "p1=" + norm[:1],
        "p2=" + norm[:2],
        "p3=" + norm[:3],
        "s1=" + norm[-1:],
        "s2=" + norm[-2:],
        "s3=" + norm[-3:],
        "cs2=" + core[-2:],
        "cs3=" + core[-3:],
        "cp2=" + core[:2],
        "cp3=" + core[:3],
        "len=" + str(min(len(core), 8)),
    ]
    if norm != pre:
        own.append("pf=" + norm[: len(norm) - len(pre)])
    if pre != core:
        own.append("cp=" + pre)
    if cl is not None:
        own += ["k1=" + cl[0], "k2=" + cl[1], "k3=" + cl[2]]
    else:
        own.append("k=none")
    roles = res.word_roles.get(pre) or res.word_roles.get(core)
    if roles:
        own += roles
    trig = res.triggers.get(pre)
    if trig is not None:
        own.append("t=" + trig)
    ctx = ["w=" + norm, "c=" + core]
    if cl is not None:
        ctx += ["k2=" + cl[1], "k3=" + cl[2]]
    if trig is not None:
        ctx.append("t=" + trig)
    if shape != "w":
        ctx.append("sh=" + shape)
    far = ["c=" + core]
    if trig is not None:
        far.append("t=" + trig)
    if cl is not None:
        far.append("k2=" + cl[1])
    return (
        own,
        ["-2" + f for f in far],
        ["-1" + f for f in ctx],
        ["+1" + f for f in ctx],
        ["+2" + f for f in far],
        trig or "",
        norm,
        pre,
    )


def _phrase_tags(
    norms: Sequence[str], pres: Sequence[str], phrases: dict[str, str], starts: dict[str, int],
    max_phrase: int, bounds: Sequence[int] | None = None,
) -> list[str | None]:
    """Longest gazetteer match from each position, as BIO tags; the first word may carry clitics.

    ``pres`` are the prefix-free forms of ``norms``; ``starts`` bounds the phrase length per
    first word (see :func:`_phrase_starts`). ``bounds``, when given, is already
    ``min(starts.get(pres[i], 0), max_phrase)`` of each word (the encoder keeps it per word).
    """
    n = len(norms)
    out: list[str | None] = [None] * n
    if bounds is None:
        bounds = [min(starts.get(p, 0), max_phrase) for p in pres]
    free = 0  # the first word after the last match: a match never starts inside another
    # Most words start no phrase: only those that do are visited.
    for i in compress(range(n), bounds):
        if i < free:
            continue
        first = pres[i]
        for length in range(min(bounds[i], n - i), 0, -1):
            key = first if length == 1 else first + " " + " ".join(norms[i + 1 : i + length])
            typ = phrases.get(key)
            if typ is not None:
                out[i] = "B-" + typ
                for j in range(i + 1, i + length):
                    out[j] = "I-" + typ
                free = i + length
                break
    return out


def sentence_features(
    words: Sequence[str], res: Resources, settings: NerSettings = NerSettings()
) -> list[list[str]]:
    n = len(words)
    per = [_word_features(w, res) for w in words]
    norms = [p[6] for p in per]
    pres = [p[7] for p in per]
    gaz = _phrase_tags(norms, pres, res.phrases, res.starts, settings.max_phrase)
    auto = _phrase_tags(norms, pres, res.auto, res.auto_starts, settings.max_phrase)
    feats: list[list[str]] = []
    for i in range(n):
        f = list(per[i][0])
        if i >= 2:
            f += per[i - 2][1]
            if i >= 3 and per[i - 3][5]:
                f.append("-3t=" + per[i - 3][5])
        if i >= 1:
            f += per[i - 1][2]
            f.append("bg-=" + norms[i - 1] + "|" + norms[i])
        else:
            f.append("BOS")
        if i + 1 < n:
            f += per[i + 1][3]
            f.append("bg+=" + norms[i] + "|" + norms[i + 1])
        else:
            f.append("EOS")
        if i + 2 < n:
            f += per[i + 2][4]
        g = gaz[i]
        if g is not None:
            f.append("G=" + g)
            if i + 1 < n and gaz[i + 1] is not None:
                f.append("G+=" + gaz[i + 1])
        a = auto[i]
        if a is not None:
            f.append("A=" + a)
        feats.append(f)
    return feats


# ---------------------------------------------------------------------------------------------
# The CRF's input as the model reads it


def model_attributes(crf: pycrfsuite.Tagger) -> frozenset[str]:
    """The attributes an opened model holds weights for, read from its text dump (~0.1 s).

    The dump lists them one a line as ``<id>: <attribute>`` between ``ATTRIBUTES = {`` and a
    line that is only ``}``; features are built from single tokens, so none holds a line break.
    """
    out: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "model.txt"
        crf.dump(str(path))
        with path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("ATTRIBUTES = {"):
                    break
            for line in fh:
                if line == "}\n":
                    break
                out.add(line.rstrip("\n").split(": ", 1)[1])
    return frozenset(out)


# What the encoder keeps per distinct word: the model's attributes among its own features and
# among its features as seen from -2, -1, +1, +2 (UTF-8), its -3 trigger feature, its normalised
# and prefix-free forms, the following words that make a known "bg-" / "bg+" bigram with it, and
# the longest phrase of each gazetteer ("phrases", "auto") it may start.
# Tuples, not lists: an entry holding only strings, numbers and dicts of strings is left alone by
# the garbage collector, which otherwise walks every list of a cache of 100,000s of words.
_Coded = tuple[
    tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...], tuple[bytes, ...], bytes | None,
    str, str, dict[str, bytes] | None, dict[str, bytes] | None, int, int,
]


class CrfEncoder:
    """:func:`sentence_features` as one model reads them: only its attributes, as UTF-8 bytes.

    crfsuite ignores an attribute its model has no weight for (``Tagger::set`` keeps only those
    its dictionary has an id for), so leaving them out hands it the same instance, attribute for
    attribute in the same order: the same labels and marginals, bit for bit. 22% of the strings
    are never passed, and bytes spare pycrfsuite an encoding per string: on SaudiNewsNet the CRF
    call costs ~40% less (docs/entities.md). Word bigrams, most of them unknown to the model, are
    looked up per word pair instead of built.
    """

    def __init__(
        self, res: Resources, known: frozenset[str], settings: NerSettings = NerSettings(),
        max_words: int = 200_000,
    ) -> None:
        self.res = res
        self.known = known
        self.settings = settings
        #: Distinct words kept; past it new words are encoded on every call (a watcher running
        #: for weeks must not grow forever). An entry is about 1.2 KB: 230 MB at most.
        self.max_words = max_words
        self._words: dict[str, _Coded] = {}
        # Each known bigram under every split at a "|" (a word may itself be "|"): a pair that
        # is found spells the attribute exactly, and every known attribute has its true split.
        self._bigrams: dict[str, dict[str, dict[str, bytes]]] = {"bg-=": {}, "bg+=": {}}
        for attr in known:
            table = self._bigrams.get(attr[:4])
            if table is None:
                continue
            body = attr[4:]
            for cut, ch in enumerate(body):
                if ch == "|":
                    table.setdefault(body[:cut], {})[body[cut + 1 :]] = attr.encode()
        self._gazetteer = {prefix: {a[len(prefix) :]: a.encode() for a in known if a.startswith(prefix)}
                           for prefix in ("G=", "G+=", "A=")}
        self._bos = b"BOS" if "BOS" in known else None
        self._eos = b"EOS" if "EOS" in known else None

    def word(self, raw: str) -> _Coded:
        coded = self._words.get(raw)
        if coded is not None:
            return coded
        known = self.known
        own, m2, m1, p1, p2, trig, norm, pre = _compute_word_features(raw, self.res)
        lists = [tuple([f.encode() for f in fs if f in known]) for fs in (own, m2, m1, p1, p2)]
        third = "-3t=" + trig
        max_phrase = self.settings.max_phrase
        coded = (*lists, third.encode() if trig and third in known else None, norm, pre,
                 self._bigrams["bg-="].get(norm), self._bigrams["bg+="].get(norm),
                 min(self.res.starts.get(pre, 0), max_phrase), min(self.res.auto_starts.get(pre, 0), max_phrase))
        if len(self._words) < self.max_words:
            self._words[raw] = coded
        return coded

    def words(self, words: Sequence[str]) -> list[_Coded]:
        cached, word = self._words.get, self.word
        return [cached(w) or word(w) for w in words]

    def sentence(self, words: Sequence[str], per: Sequence[_Coded] | None = None) -> list[list[bytes]]:
        """``[[f.encode() for f in fs if f in known] for fs in sentence_features(words, ...)]``.

        ``per`` is :meth:`words` of ``words``, for a caller that has it.
        """
        if per is None:
            per = self.words(words)
        norms = [p[6] for p in per]
        pres = [p[7] for p in per]
        res, max_phrase = self.res, self.settings.max_phrase
        gaz = _phrase_tags(norms, pres, res.phrases, res.starts, max_phrase, [p[10] for p in per])
        auto = _phrase_tags(norms, pres, res.auto, res.auto_starts, max_phrase, [p[11] for p in per])
        g_now, g_next, a_now = self._gazetteer["G="], self._gazetteer["G+="], self._gazetteer["A="]
        n = len(words)
        out: list[list[bytes]] = []
        for i in range(n):
            here = per[i]
            f = list(here[0])
            if i >= 2:
                f += per[i - 2][1]
                if i >= 3 and (x := per[i - 3][5]) is not None:
                    f.append(x)
            if i >= 1:
                f += per[i - 1][2]
                pairs = per[i - 1][8]
                if pairs is not None and (x := pairs.get(norms[i])) is not None:
                    f.append(x)
            elif self._bos is not None:
                f.append(self._bos)
            if i + 1 < n:
                f += per[i + 1][3]
                pairs = here[9]
                if pairs is not None and (x := pairs.get(norms[i + 1])) is not None:
                    f.append(x)
            elif self._eos is not None:
                f.append(self._eos)
            if i + 2 < n:
                f += per[i + 2][4]
            g = gaz[i]
            if g is not None:
                if (x := g_now.get(g)) is not None:
                    f.append(x)
                if i + 1 < n and (g1 := gaz[i + 1]) is not None and (x := g_next.get(g1)) is not None:
                    f.append(x)
            a = auto[i]
            if a is not None and (x := a_now.get(a)) is not None:
                f.append(x)
            out.append(f)
        return out


# ---------------------------------------------------------------------------------------------
# The neural layer: a BiLSTM-CRF over the CRF's marginals, word vectors and a character CNN

#: Label order of the CRF marginals the neural layer reads (and of its own output).
LABELS = ("O", "B-PERS", "I-PERS", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC")
#: Characters of a word the character CNN reads (longer words are cut).
MAX_CHARS = 20


def word_chars(norm: str) -> str:
    return norm[:MAX_CHARS] or " "


def _bilstm(x: np.ndarray, lengths: np.ndarray, w_x: np.ndarray, b_x: np.ndarray, w_h: np.ndarray) -> np.ndarray:
    """Both directions of a PyTorch-layout BiLSTM over a right-padded batch, in one loop.

    ``w_x``, ``b_x`` and ``w_h`` come from :func:`_fuse_lstm`. The backward direction reads each
    sentence reversed in place, so the padding after it never reaches a real word (no mask).
    One step of both directions is one matrix product and one tanh: per-step overhead, not
    arithmetic, is what costs on these small matrices.
    """
    bsz, steps, _ = x.shape
    hidden = w_h.shape[0] // 2
    t = np.arange(steps)[None, :]
    rev = np.where(t < lengths[:, None], lengths[:, None] - 1 - t, t)
    rows = np.arange(bsz)[:, None]
    gx = x @ w_x + b_x  # (batch, steps, 8H): gates of the forward direction, then the backward
    fwd = gx[:, :, : 4 * hidden].reshape(bsz, steps, 4, 1, hidden)
    bwd = gx[:, :, 4 * hidden :][rows, rev].reshape(bsz, steps, 4, 1, hidden)
    # Interleaved per gate (i_f i_b f_f f_b g_f g_b o_f o_b), matching the rows of w_h.
    gx = np.concatenate([fwd, bwd], axis=3).reshape(bsz, steps, 8 * hidden)
    h = np.zeros((bsz, 2 * hidden), dtype=np.float32)
    c = np.zeros((bsz, 2 * hidden), dtype=np.float32)
    out = np.empty((bsz, steps, 2 * hidden), dtype=np.float32)
    two = 2 * hidden
    for step in range(steps):
        g = np.tanh(gx[:, step] + h @ w_h)
        s = g * 0.5 + 0.5  # sigmoid(z) = 0.5 tanh(z / 2) + 0.5; the /2 is folded into the weights
        c = s[:, two : 2 * two] * c + s[:, :two] * g[:, 2 * two : 3 * two]
        h = s[:, 3 * two :] * np.tanh(c)
        out[:, step] = h
    out[:, :, hidden:] = out[:, :, hidden:][rows, rev]
    return out


def _fuse_lstm(
    forward: tuple[np.ndarray, np.ndarray, np.ndarray], backward: tuple[np.ndarray, np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(w_ih, w_hh, bias) of each direction -> the input, bias and block recurrent matrices of :func:`_bilstm`."""
    hidden = forward[1].shape[1]
    scale = np.full(4 * hidden, 0.5, dtype=np.float32)
    scale[2 * hidden : 3 * hidden] = 1.0  # the cell candidate g is a true tanh
    w_x = np.concatenate([forward[0].T * scale, backward[0].T * scale], axis=1)
    b_x = np.concatenate([forward[2] * scale, backward[2] * scale])
    w_h = np.zeros((2 * hidden, 4, 2, hidden), dtype=np.float32)
    w_h[:hidden, :, 0] = (forward[1].T * scale).reshape(hidden, 4, hidden)
    w_h[hidden:, :, 1] = (backward[1].T * scale).reshape(hidden, 4, hidden)
    return (np.ascontiguousarray(w_x, dtype=np.float32), b_x.astype(np.float32),
            np.ascontiguousarray(w_h.reshape(2 * hidden, 8 * hidden)))


def viterbi(emissions: np.ndarray, lengths: np.ndarray, trans: np.ndarray, start: np.ndarray,
            end: np.ndarray) -> list[list[int]]:
    """Best label sequence of each sentence of a right-padded batch of emission scores."""
    bsz, steps, _ = emissions.shape
    score = start[None, :] + emissions[:, 0]
    back = np.zeros((bsz, steps, len(start)), dtype=np.int64)
    for t in range(1, steps):
        cand = score[:, :, None] + trans[None]
        back[:, t] = cand.argmax(axis=1)
        # A finished sentence keeps its score; its later back pointers are never read.
        score = np.where((t < lengths)[:, None], cand.max(axis=1) + emissions[:, t], score)
    last = (score + end[None, :]).argmax(axis=1)
    rows = np.arange(bsz)
    paths = np.empty((bsz, steps), dtype=np.int64)
    cur = last
    for t in range(steps - 1, -1, -1):
        if t + 1 < steps:
            cur = np.where(t == lengths - 1, last, back[rows, t + 1, cur])
        paths[:, t] = cur
    return [paths[b, : lengths[b]].tolist() for b in range(bsz)]


class NeuralLayer:
    """Numpy inference of the weights ``scripts/train_ner_neural.py`` exports (``neural.npz``).

    Each word is the CRF's nine marginals, its PPMI-SVD vector over ANT (zero and a flag when
    it has none) and a max-pooled character CNN over its normalised form; a BiLSTM reads the
    sentence and a CRF layer (transitions with the BIO constraints built in) decodes it.
    """

    def __init__(self, arrays: Mapping[str, np.ndarray]) -> None:
        def f32(key: str) -> np.ndarray:
            return np.asarray(arrays[key], dtype=np.float32)

        self.labels = tuple(str(arrays["labels"]).split("\n"))
        self.char_ids = {ch: i + 2 for i, ch in enumerate(str(arrays["chars"]))}
        self.vocab = {w: i for i, w in enumerate(str(arrays["vocab"]).split("\n"))}
        self.vec = f32("vec")
        self.char_emb = f32("char_emb")
        conv = f32("conv_w")  # (filters, char dims, width), cross-correlation as torch's Conv1d
        self.width = conv.shape[2]
        self.conv_w = conv.transpose(2, 1, 0).reshape(-1, conv.shape[0])
        self.conv_b = f32("conv_b")
        self.lstm = _fuse_lstm(*[(f32(f"w_ih_{d}"), f32(f"w_hh_{d}"), f32(f"b_{d}")) for d in ("f", "b")])
        self.out_w = np.ascontiguousarray(f32("out_w").T)
        self.out_b = f32("out_b")
        self.trans, self.start, self.end = f32("trans"), f32("start"), f32("end")
        self.skip = f32("skip")
        self._cache: dict[str, np.ndarray] = {}
        # The matrices are small: a multi-threaded BLAS spends five times the CPU on them
        # (16,200 against 77,500 tokens per CPU-second on CLEANANERCorp test). threadpoolctl
        # comes with scikit-learn; imported here because only this optional layer needs it.
        from threadpoolctl import ThreadpoolController

        self._blas = ThreadpoolController()

    def word_vector(self, norm: str, pre: str, core: str) -> np.ndarray:
        """Everything of a word the neural layer reads except the marginals, cached per form."""
        cached = self._cache.get(norm)
        if cached is not None:
            return cached
        dims = self.vec.shape[1]
        idx = self.vocab.get(norm, self.vocab.get(pre, self.vocab.get(core, -1)))
        wv = np.zeros(dims + 1, dtype=np.float32)
        if idx >= 0:
            wv[:dims] = self.vec[idx]
            wv[dims] = 1.0
        ids = [self.char_ids.get(ch, 1) for ch in word_chars(norm)]
        emb = self.char_emb[ids]
        pad = self.width // 2
        emb = np.concatenate([np.zeros((pad, emb.shape[1]), np.float32), emb,
                              np.zeros((pad, emb.shape[1]), np.float32)])
        windows = np.concatenate([emb[k : k + len(ids)] for k in range(self.width)], axis=1)
        char = np.maximum((windows @ self.conv_w + self.conv_b).max(axis=0), 0.0)
        out = np.concatenate([wv, char])
        if len(self._cache) < 500_000:
            self._cache[norm] = out
        return out

    def emissions(self, inputs: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Label scores of a right-padded batch of sentences, given each one's input matrix."""
        lengths = np.array([len(x) for x in inputs])
        batch = np.zeros((len(inputs), int(lengths.max()), inputs[0].shape[1]), dtype=np.float32)
        for b, x in enumerate(inputs):
            batch[b, : len(x)] = x
        with self._blas.limit(limits=1, user_api="blas"):
            hidden = _bilstm(batch, lengths, *self.lstm)
            marg = batch[:, :, : len(self.labels)]
            return hidden @ self.out_w + self.out_b + self.skip * np.log(marg + 1e-6), lengths

    def decode(self, inputs: Sequence[np.ndarray]) -> list[list[str]]:
        """Labels of each sentence, given its (words, features) input matrix."""
        emissions, lengths = self.emissions(inputs)
        return [[self.labels[i] for i in path]
                for path in viterbi(emissions, lengths, self.trans, self.start, self.end)]


# ---------------------------------------------------------------------------------------------
# The tagger

DATA_DIR = "ner"
#: Sentences decoded together by the neural layer (sorted by length, so padding stays small).
_BATCH = 64


class Tagger:
    """A loaded model with its resources; one per process is enough (see :func:`default_tagger`)."""

    def __init__(self, directory: Path, settings: NerSettings = NerSettings()) -> None:
        model = directory / "model.crfsuite"
        if not model.is_file():
            raise FileNotFoundError(f"NER model not found at {model}; run scripts/train_ner.py to build it")
        self.settings = settings
        self.resources = load_resources(directory)
        self._crf = pycrfsuite.Tagger()
        self._crf.open(str(model))
        self.encoder = CrfEncoder(self.resources, model_attributes(self._crf), settings)
        neural = directory / "neural.npz"
        self.neural: NeuralLayer | None = None
        self._vectors: dict[str, np.ndarray] = {}  # raw word -> its neural word vector
        if settings.neural and neural.is_file():
            with np.load(neural, allow_pickle=False) as arrays:
                self.neural = NeuralLayer(arrays)

    def tag(self, words: Sequence[str]) -> list[str]:
        if not words:
            return []
        return self.tag_sentences([words])[0]

    def neural_inputs(self, words: Sequence[str], per: Sequence[_Coded] | None = None) -> np.ndarray:
        """The neural layer's input matrix of a sentence: CRF marginals and word vectors.

        ``per`` is the encoder's words of the sentence, for a caller that has them.
        """
        assert self.neural is not None
        if per is None:
            per = self.encoder.words(words)
        crf = self._crf
        crf.set(self.encoder.sentence(words, per))
        marginal = crf.marginal
        marg = np.array([[marginal(y, i) for y in LABELS] for i in range(len(words))], dtype=np.float32)
        cache = self._vectors
        vecs = []
        for w, coded in zip(words, per, strict=True):
            v = cache.get(w)
            if v is None:
                norm, pre = coded[6:8]
                v = self.neural.word_vector(norm, pre, strip_clitics(norm))
                if len(cache) < 500_000:
                    cache[w] = v
            vecs.append(v)
        return np.concatenate([marg, np.stack(vecs)], axis=1)

    def tag_sentences(self, sentences_words: Sequence[Sequence[str]]) -> list[list[str]]:
        """Labels of each sentence (the neural layer decodes them in batches)."""
        return self._tag([self.encoder.words(ws) for ws in sentences_words], sentences_words)

    def _tag(self, coded: Sequence[Sequence[_Coded]], sentences_words: Sequence[Sequence[str]]) -> list[list[str]]:
        """:meth:`tag_sentences`, given the encoder's words of each sentence."""
        if self.neural is None:
            tag, encode = self._crf.tag, self.encoder.sentence
            return [list(tag(encode(ws, per))) if ws else [] for ws, per in zip(sentences_words, coded, strict=True)]
        out: list[list[str]] = [[] for _ in sentences_words]
        order = sorted((i for i, ws in enumerate(sentences_words) if ws), key=lambda i: len(sentences_words[i]))
        for lo in range(0, len(order), _BATCH):
            chunk = order[lo : lo + _BATCH]
            inputs = [self.neural_inputs(sentences_words[i], coded[i]) for i in chunk]
            for i, tags in zip(chunk, self.neural.decode(inputs), strict=True):
                out[i] = tags
        return out

    def tag_document(self, sentences_words: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tag each sentence, then make the document consistent (see :func:`make_consistent`)."""
        coded = [self.encoder.words(ws) for ws in sentences_words]
        tagged = self._tag(coded, sentences_words)
        if self.settings.consistency:
            # make_consistent with norm = normalize(w) or w, whose forms and strip_prefix of
            # them the encoder already has.
            _consistent([[c[6] for c in cs] for cs in coded], [[c[7] for c in cs] for cs in coded], tagged,
                        self.settings.consistency_min_chars, self.settings.surnames)
        return tagged


@lru_cache(maxsize=1)
def default_tagger() -> Tagger:
    with ExitStack() as stack:
        path = stack.enter_context(resources.as_file(resources.files("rasd.data").joinpath(DATA_DIR)))
        return Tagger(Path(path))


def tag_tokens(words: list[str]) -> list[str]:
    """BIO tags (B-PER, I-ORG, O ...) for one sentence of words, with the shipped model."""
    return [_map_tag(t) for t in default_tagger().tag(words)]


def _map_tag(tag: str) -> str:
    if tag == "O":
        return tag
    return tag[:2] + _TYPE_MAP.get(tag[2:], tag[2:])


def spans_from_bio(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, type) word spans, conlleval-style: an I- after a different type starts anew."""
    out: list[tuple[int, int, str]] = []
    start = -1
    typ = ""
    last = -2  # the previous tag that is not O
    # Only the tags that are not O are visited (most are O): a gap between two of them is an O,
    # which ends a span and forgets the type.
    for i in [i for i, tag in enumerate(tags) if tag != "O"]:
        if i != last + 1:
            if start >= 0:
                out.append((start, last + 1, typ))
                start = -1
            typ = ""
        tag = tags[i]
        cur = tag[2:]
        if tag.startswith("B-") or (tag.startswith("I-") and cur != typ):
            if start >= 0:
                out.append((start, i, typ))
            start, typ = i, cur
        last = i
    if start >= 0:
        out.append((start, last + 1, typ))
    return out


def make_consistent(
    sentences_words: Sequence[Sequence[str]],
    tagged: list[list[str]],
    min_chars: int = 3,
    norm: Callable[[str], str] = normalize,
    surnames: bool = True,
) -> None:
    """Tag, in place, untagged repeats of a name the model tagged elsewhere in the document.

    Names are matched on the clitic-free normalised form of their first word and the normalised
    rest, and the most frequent type wins; a repeat that overlaps any tagged word is left alone.
    With ``surnames``, the last word of a person's full name (جيسون رضايان) is a name too.
    """
    # Each word is normalised once, and each distinct form stripped once.
    all_norms = [[norm(w) for w in words] for words in sentences_words]
    pre_of: dict[str, str] = {}
    for norms in all_norms:
        for form in norms:
            if form not in pre_of:
                pre_of[form] = strip_prefix(form)
    _consistent(all_norms, [[pre_of[f] for f in norms] for norms in all_norms], tagged, min_chars, surnames)


def _consistent(
    all_norms: Sequence[Sequence[str]], all_pres: Sequence[Sequence[str]], tagged: list[list[str]],
    min_chars: int, surnames: bool,
) -> None:
    """:func:`make_consistent` given each word's normalised form and its ``strip_prefix``."""
    votes: dict[tuple[str, ...], dict[str, int]] = {}
    last_words: dict[tuple[str, ...], str] = {}
    for norms, pres, tags in zip(all_norms, all_pres, tagged, strict=True):
        for s, e, typ in spans_from_bio(tags):
            key = (pres[s], *norms[s + 1 : e])
            if sum(len(k) for k in key) >= min_chars:
                votes.setdefault(key, {}).setdefault(typ, 0)
                votes[key][typ] += 1
            if surnames and typ in ("PERS", "PER") and e - s >= 2:
                last = (pres[e - 1],)
                if len(last[0]) >= min_chars:
                    last_words[last] = typ
    if not votes:
        return
    best = {k: max(v.items(), key=lambda kv: kv[1])[0] for k, v in votes.items()}
    for k, typ in last_words.items():
        best.setdefault(k, typ)
    # A name can only start at a word that is the first word of some key.
    longest: dict[str, int] = {}
    for k in best:
        longest[k[0]] = max(longest.get(k[0], 0), len(k))
    for norms, pres, tags in zip(all_norms, all_pres, tagged, strict=True):
        n = len(norms)
        free = 0  # the first word after the last repeat tagged: a repeat never starts inside one
        for i in [i for i, first in enumerate(pres) if first in longest]:
            if i < free or tags[i] != "O":
                continue
            first = pres[i]
            for length in range(min(longest[first], n - i), 0, -1):
                key = (first, *norms[i + 1 : i + length])
                typ = best.get(key)
                if typ is not None and all(t == "O" for t in tags[i : i + length]):
                    tags[i] = "B-" + typ
                    for j in range(i + 1, i + length):
                        tags[j] = "I-" + typ
                    free = i + length
                    break


# ---------------------------------------------------------------------------------------------
# Articles


def article_sentences(article: Article) -> list[list[tuple[str, int, int]]]:
    """Words of each sentence of the title and body blocks as (text, start, end).

    Words come from :func:`rasd.textnorm.tokens`; punctuation between them becomes one token
    per character, as in the training data, because quotes and brackets are good context.
    """
    text = article.text
    out: list[list[tuple[str, int, int]]] = []
    for block in article.blocks:
        if block.kind not in ("title", "body"):
            continue
        for s, e in sentences(text, block.start, block.end):
            words: list[tuple[str, int, int]] = []
            pos = s
            for tok in tokens(text, s, e):
                # Most gaps are one space: only a gap with something else in it is scanned.
                if tok.start > pos and not text[pos : tok.start].isspace():
                    words += _punct(text, pos, tok.start)
                words.append((tok.text, tok.start, tok.end))
                pos = tok.end
            words += _punct(text, pos, e)
            if words:
                out.append(words)
    return out


def _punct(text: str, start: int, end: int) -> list[tuple[str, int, int]]:
    return [(text[i], i, i + 1) for i in range(start, end) if not text[i].isspace() and not text[i].isalnum()]


def recognize(
    article: Article, tagger: Tagger | None = None, sents: list[list[tuple[str, int, int]]] | None = None
) -> list[Mention]:
    """Entity mentions in the title and body blocks, with spans into ``article.text``.

    ``sents`` is :func:`article_sentences` of the article, for a caller that needs them too.
    """
    tagger = tagger or default_tagger()
    if sents is None:
        sents = article_sentences(article)
    tagged = tagger.tag_document([[w for w, _, _ in ws] for ws in sents])
    mentions: list[Mention] = []
    for ws, tags in zip(sents, tagged, strict=True):
        for s, e, typ in spans_from_bio(tags):
            # A name never starts or ends with punctuation (a stray quote inside a tagged span).
            while s < e and _PUNCT.match(ws[s][0]):
                s += 1
            while e > s and _PUNCT.match(ws[e - 1][0]):
                e -= 1
            if s == e:
                continue
            start, end = ws[s][1], ws[e - 1][2]
            mentions.append(
                Mention(article=article.id, text=article.text[start:end], span=(start, end),
                        type=_TYPE_MAP.get(typ, typ))
            )
    return mentions


# ---------------------------------------------------------------------------------------------
# Evaluation helpers (shared by the training script and the eval test)


def read_conll(path: Path) -> list[tuple[list[str], list[str]]]:
    """Sentences of a ``token TAG`` file with blank lines between sentences."""
    out: list[tuple[list[str], list[str]]] = []
    words: list[str] = []
    tags: list[str] = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2:
                if words:
                    out.append((words, tags))
                    words, tags = [], []
                continue
            words.append(parts[0])
            tags.append(parts[-1])
    if words:
        out.append((words, tags))
    return out


def entity_scores(
    gold: Iterable[Sequence[str]], pred: Iterable[Sequence[str]]
) -> dict[str, dict[str, float]]:
    """Entity-level precision, recall and F1 (exact span and type), overall ("ALL") and per type."""
    counts: dict[str, list[int]] = {}
    for g, p in zip(gold, pred, strict=True):
        gs = {(s, e, _TYPE_MAP.get(t, t)) for s, e, t in spans_from_bio(g)}
        ps = {(s, e, _TYPE_MAP.get(t, t)) for s, e, t in spans_from_bio(p)}
        for typ in {t for _, _, t in gs | ps} | {"ALL"}:
            c = counts.setdefault(typ, [0, 0, 0])
            gt = gs if typ == "ALL" else {x for x in gs if x[2] == typ}
            pt = ps if typ == "ALL" else {x for x in ps if x[2] == typ}
            c[0] += len(gt & pt)
            c[1] += len(pt)
            c[2] += len(gt)
    out: dict[str, dict[str, float]] = {}
    for typ, (tp, npred, ngold) in counts.items():
        p = tp / npred if npred else 0.0
        r = tp / ngold if ngold else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        out[typ] = {"precision": p, "recall": r, "f1": f, "gold": float(ngold), "predicted": float(npred)}
    return out
