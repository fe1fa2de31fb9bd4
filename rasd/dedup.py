"""Exact and near-duplicate articles: the same text carried by several outlets.

Only body blocks are compared (mastheads, boilerplate and credit lines differ between outlets
carrying one wire story and must not split a set). Exact copies share the hash of their
normalised body; near copies are found by MinHash LSH over word shingles of the normalised body
and checked against the signature estimate of Jaccard. Duplicate pairs are merged with
union-find, so one wire story carried by a hundred outlets is one set, not 4,950 pairs.

MinHash signatures are computed here with numpy (multiply-shift hashing of 64-bit shingle hashes)
rather than datasketch's per-shingle SHA-1, and the body is normalised, cut into words and
hashed by array lookups and prefix sums over its code points (no Python work per word), which
is what makes the 3,000 articles/s target reachable on one core; datasketch's ``MinHashLSH``
does the banding.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from datasketch import LeanMinHash, MinHashLSH

from rasd.models import Article, DuplicateSet
from rasd.textnorm import normalize


@dataclass(frozen=True, slots=True)
class DedupSettings:
    # Word 3-grams: an edited dateline or an added credit sentence changes few 3-grams, while
    # two different reports on one event rarely share many of them (longer shingles made
    # lightly edited copies fall below the threshold; 1-2 grams made same-topic reports match).
    shingle: int = 3
    # 64 permutations keep the signature cheap (the speed target is 3,000 articles/s on one core);
    # the standard error of the Jaccard estimate is about sqrt(J(1-J)/64) ~ 0.05 at J = 0.8.
    num_perm: int = 64
    # Near copies: texts whose shingle sets overlap this much are one text with small edits
    # (a changed dateline, an added sentence); below it, outlets have rewritten the story, which
    # is the reuse stage's business, not deduplication's.
    threshold: float = 0.7
    # Fewer words than this give too few shingles for a meaningful near-copy estimate; such
    # short texts are only matched exactly.
    min_tokens: int = 8
    seed: int = 1


@dataclass(slots=True)
class _Signature:
    content_hash: bytes
    minhash: LeanMinHash | None


# Per code point of the Basic Multilingual Plane, what rasd.textnorm.normalize makes of it alone:
# the code point it becomes, _DROP (diacritics, tatweel, invisible marks) or _COMPLEX (it becomes
# several characters: the text then goes through normalize itself). Whitespace stays a separator.
# With NFKC-normalised text (checked per article) mapping code points one by one is what
# normalize does, so a body is normalised and cut into words by array lookups instead of a
# Python call per word. Built on first use (~0.2 s).
_DROP = -1
_COMPLEX = -2
_ASTRAL = 0x10000  # code points beyond the BMP (emoji) are read as separators
_CHAR_MAP: np.ndarray | None = None
_WORD_CHARS: np.ndarray | None = None
# Polynomial hashing of code points: a word's hash is its slice of the prefix sums of
# code * P^position, brought back to position 0 with the inverse power (P is odd, so it is
# invertible modulo 2^64; uint64 arrays wrap modulo 2^64 without warnings).
_P = 0x100000001B3
_P_INV = pow(_P, -1, 1 << 64)
_powers = np.ones(1, dtype=np.uint64)
_inv_powers = np.ones(1, dtype=np.uint64)


def _tables() -> tuple[np.ndarray, np.ndarray]:
    global _CHAR_MAP, _WORD_CHARS
    if _CHAR_MAP is None or _WORD_CHARS is None:
        char_map = np.full(_ASTRAL + 1, ord(" "), dtype=np.int32)
        for c in range(_ASTRAL):
            ch = chr(c)
            if ch.isspace() or 0xD800 <= c < 0xE000:
                continue
            norm = normalize(ch)
            char_map[c] = ord(norm) if len(norm) == 1 else _DROP if not norm else _COMPLEX
        _CHAR_MAP = char_map
        # Python's \w: letters, digits and the underscore.
        _WORD_CHARS = np.array([chr(c).isalnum() or c == 0x5F for c in range(_ASTRAL)] + [False])
    return _CHAR_MAP, _WORD_CHARS


def _power_tables(n: int) -> tuple[np.ndarray, np.ndarray]:
    global _powers, _inv_powers
    if len(_powers) < n:
        size = max(n, 2 * len(_powers))
        _powers = np.cumprod(np.full(size, _P, dtype=np.uint64)) * np.uint64(_P_INV)
        _inv_powers = np.cumprod(np.full(size, _P_INV, dtype=np.uint64)) * np.uint64(_P)
    return _powers, _inv_powers


def _normalized_codes(text: str) -> np.ndarray:
    char_map, _ = _tables()
    if "\xa0" in text:  # NFKC would change it, but it is only a space
        text = text.replace("\xa0", " ")
    if not unicodedata.is_normalized("NFKC", text):
        text = normalize(text)
    codes = char_map[np.minimum(np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32), _ASTRAL)]
    if (codes == _COMPLEX).any():
        codes = char_map[np.minimum(np.frombuffer(normalize(text).encode("utf-32-le"), dtype=np.uint32), _ASTRAL)]
        codes[codes == _COMPLEX] = ord(" ")
    return codes[codes != _DROP]


def _normalized_word_hashes(article: Article) -> np.ndarray:
    """64-bit hashes of the normalised words of the body blocks, in one vectorised pass."""
    text = "\n".join(article.text[b.start : b.end] for b in article.body_blocks())
    if not text:
        return np.empty(0, dtype=np.uint64)
    codes = _normalized_codes(text)
    is_word = _tables()[1][codes]
    padded = np.zeros(len(is_word) + 2, dtype=np.int8)
    padded[1:-1] = is_word
    edges = np.diff(padded)
    starts = np.nonzero(edges == 1)[0]
    ends = np.nonzero(edges == -1)[0]
    if not len(starts):
        return np.empty(0, dtype=np.uint64)
    powers, inv_powers = _power_tables(len(codes))
    prefix = np.zeros(len(codes) + 1, dtype=np.uint64)
    np.cumsum(codes.astype(np.uint64) * powers[: len(codes)], out=prefix[1:])
    h = (prefix[ends] - prefix[starts]) * inv_powers[starts]
    # Mix the length in and spread the bits (the polynomial alone keeps low-bit structure).
    h ^= (ends - starts).astype(np.uint64) << np.uint64(56)
    h ^= h >> np.uint64(29)
    h *= np.uint64(0xBF58476D1CE4E5B9)
    h ^= h >> np.uint64(32)
    h[h == 0] = 1  # 0 is not a word hash anywhere else either
    return h


class DuplicateIndex:
    """Incremental duplicate detection: each added article is checked against what is indexed."""

    def __init__(self, settings: DedupSettings | None = None) -> None:
        self.settings = settings or DedupSettings()
        s = self.settings
        if s.shingle < 1:
            raise ValueError(f"shingle must be at least 1 word, got {s.shingle}")
        if not 0.0 < s.threshold <= 1.0:
            raise ValueError(f"threshold is a Jaccard similarity in (0, 1], got {s.threshold}")
        rng = np.random.default_rng(s.seed)
        # Odd multipliers make x -> a*x + b (mod 2^64) a permutation; the high 32 bits are the hash.
        self._a = rng.integers(1, 1 << 63, size=s.num_perm, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._b = rng.integers(0, 1 << 63, size=s.num_perm, dtype=np.uint64)
        self._mult = rng.integers(1, 1 << 63, size=s.shingle, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self._lsh = MinHashLSH(threshold=s.threshold, num_perm=s.num_perm)
        self._exact: dict[bytes, list[str]] = {}
        self._signatures: dict[str, _Signature] = {}
        self._parent: dict[str, str] = {}
        # Per root of a group of two or more: its members, and the weakest similarity that joined
        # it, kept up to date by _union so that sets() reads only the groups asked for.
        self._members: dict[str, list[str]] = {}
        self._weakest: dict[str, float] = {}

    # -- signatures ---------------------------------------------------------------------------

    def _minhash(self, wh: np.ndarray) -> LeanMinHash | None:
        s = self.settings
        if len(wh) < max(s.min_tokens, s.shingle):
            return None
        n = len(wh) - s.shingle + 1
        shingles = np.zeros(n, dtype=np.uint64)
        for k in range(s.shingle):
            shingles += wh[k : k + n] * self._mult[k]
        values = np.multiply.outer(self._a, shingles)
        values += self._b[:, None]
        # The shift to the high 32 bits is monotone, so it is taken after the minimum (one pass less).
        hashvalues = (values.min(axis=1) >> np.uint64(32)).astype(np.uint32)
        return LeanMinHash(seed=s.seed, hashvalues=hashvalues, scheme="affine32")

    def signature(self, article: Article) -> _Signature | None:
        wh = _normalized_word_hashes(article)
        if not len(wh):
            return None
        # The sequence of normalised-word hashes is the normalised content: equal digests are
        # exact copies up to spelling variants, diacritics, punctuation and spacing.
        digest = hashlib.blake2b(wh.tobytes(), digest_size=16).digest()
        return _Signature(digest, self._minhash(wh))

    # -- union-find ---------------------------------------------------------------------------

    def _find(self, x: str) -> str:
        parent = self._parent
        root = x
        while parent[root] != root:
            root = parent[root]
        while parent[x] != root:
            parent[x], x = root, parent[x]
        return root

    def _union(self, a: str, b: str, sim: float) -> None:
        ra, rb = self._find(a), self._find(b)
        weakest = self._weakest
        if ra == rb:
            weakest[ra] = min(weakest.get(ra, 1.0), sim)
            return
        self._parent[rb] = ra
        members = self._members
        members[ra] = members.get(ra, [ra]) + members.pop(rb, [rb])
        weakest[ra] = min(weakest.get(ra, 1.0), weakest.pop(rb, 1.0), sim)

    # -- public -------------------------------------------------------------------------------

    def add(self, article: Article) -> list[str]:
        """Index ``article``; return the ids of indexed articles it duplicates (exactly or nearly)."""
        if article.id in self._signatures or article.id in self._parent:
            raise ValueError(f"article id {article.id!r} is already indexed; ids must be unique")
        sig = self.signature(article)
        self._parent[article.id] = article.id
        if sig is None:
            return []
        self._signatures[article.id] = sig
        found: dict[str, float] = {}
        same = self._exact.setdefault(sig.content_hash, [])
        for other in same:
            found[other] = 1.0
        if sig.minhash is not None:
            for other in self._lsh.query(sig.minhash):
                if other in found:
                    continue
                other_mh = self._signatures[other].minhash
                assert other_mh is not None  # only articles with a MinHash are in the LSH
                sim = float(sig.minhash.jaccard(other_mh))
                if sim >= self.settings.threshold:
                    # The LSH holds one representative per exact text; its copies match too.
                    for member in self._exact[self._signatures[other].content_hash]:
                        found.setdefault(member, sim)
            if not same:
                # One representative per exact text in the LSH: the rest are found through it.
                self._lsh.insert(article.id, sig.minhash, check_duplication=False)
        same.append(article.id)
        for other, sim in found.items():
            self._union(article.id, other, sim)
        return sorted(found)

    def sets(self, among: Iterable[str] | None = None) -> list[DuplicateSet]:
        """The duplicate sets so far: one per connected group of duplicates, largest first; only
        those holding one of ``among`` when it is given (a watcher's batch: its cost is then the
        batch's, not the index's)."""
        if among is None:
            roots: Iterable[str] = self._members
        else:
            roots = {self._find(a) for a in among if a in self._parent} & self._members.keys()
        out: list[DuplicateSet] = []
        for root in roots:
            members = self._members[root]
            hashes = {self._signatures[m].content_hash for m in members}
            kind = "exact" if len(hashes) == 1 else "near"
            out.append(DuplicateSet(tuple(sorted(members)), kind, 1.0 if kind == "exact" else self._weakest[root]))
        out.sort(key=lambda d: (-len(d.articles), d.articles))
        return out

    def __len__(self) -> int:
        return len(self._parent)


def find_duplicates(
    articles: Sequence[Article] | Iterable[Article], settings: DedupSettings | None = None
) -> list[DuplicateSet]:
    """Exact and near-duplicate sets among ``articles`` (kind "exact" when all members are one text).

    ``similarity`` of a near set is the weakest Jaccard estimate among the pairs that joined it.
    """
    index = DuplicateIndex(settings)
    for article in articles:
        index.add(article)
    return index.sets()
