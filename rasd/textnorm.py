"""The Arabic text layer: normalisation for matching, tokens with offsets, sentences, stems.

Everything here keeps a way back to the original text: tokens and sentences carry character
offsets into the string they were cut from, and normalisation is applied per token, so a stage
can match on normalised forms and still report spans of the text exactly as decoded.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import pyarabic.araby as araby
import Stemmer

# Diacritics (harakat, shadda, sukun, Quranic marks, superscript alef) carry no identity in
# news text and are written inconsistently, so matching ignores them.
_DIACRITICS = set(araby.TASHKEEL) | {chr(c) for c in range(0x0610, 0x061B)} | {
    chr(c) for c in range(0x064B, 0x0660)
} | {"\u0670", chr(0x06D6), *(chr(c) for c in range(0x06D7, 0x06EE))}
# Zero-width and bidi controls are invisible but split or spoof words.
_INVISIBLE = {
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u061c", "\ufeff", "\u00ad",
    *(chr(c) for c in range(0x202A, 0x202F)), *(chr(c) for c in range(0x2066, 0x206A)),
}
_QUOTES = "“”„‟«»‹›″〝〞＂"

_MATCH_TABLE: dict[int, str | None] = {ord(c): None for c in _DIACRITICS | _INVISIBLE}
_MATCH_TABLE[ord(araby.TATWEEL)] = None
_MATCH_TABLE.update({ord(c): "ا" for c in "أإآٱ"})
# ى/ي are swapped freely in Egyptian spelling (فى، التى) and ة/ه at word ends; pyarabic's
# normalize_alef would turn ى into ا (إلى -> الا), so the table is ours.
_MATCH_TABLE.update({ord("ى"): "ي", ord("ة"): "ه", ord("ؤ"): "ء", ord("ئ"): "ء"})
_MATCH_TABLE.update({ord("ک"): "ك", ord("ی"): "ي", ord("ڤ"): "ف", ord("گ"): "ك", ord("پ"): "ب"})
_MATCH_TABLE.update({0x0660 + i: str(i) for i in range(10)})  # Arabic-Indic digits
_MATCH_TABLE.update({0x06F0 + i: str(i) for i in range(10)})  # Persian digits
_MATCH_TABLE.update({ord(c): '"' for c in _QUOTES})
_MATCH_TABLE.update({ord("‘"): "'", ord("’"): "'", ord("،"): ",", ord("؛"): ";", ord("؟"): "?"})
_MATCH_TABLE.update({ord("٫"): ".", ord("٬"): ","})

_SPACES = re.compile(r"\s+")
# str.translate looks every character up in a dict (slow on long Arabic text); one C-level
# str.replace per character that occurs is about ten times faster on news text.
_CHANGES = tuple((chr(k), v or "") for k, v in sorted(_MATCH_TABLE.items()))


def normalize(text: str) -> str:
    """Normalise text for matching: the same word in any spelling variant gives the same string.

    Idempotent and deterministic. Lengths change, so use it on tokens when offsets matter.
    """
    if "\xa0" in text:
        # No-break spaces are the usual reason news text is not NFKC (a third of SaudiNewsNet);
        # replacing them first spares the full NFKC pass.
        text = text.replace("\xa0", " ")
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if text.isascii():
        pass
    elif len(text) < 256:
        text = text.translate(_MATCH_TABLE)
    else:
        for old, new in _CHANGES:
            if old in text:
                text = text.replace(old, new)
    return " ".join(text.lower().split())


#: Token normalisation is cached: news vocabulary is Zipfian, so most lookups hit.
normalize_token = lru_cache(maxsize=400_000)(normalize)


def normalize_digits(text: str) -> str:
    """Only the digits: Arabic-Indic and Persian to ASCII, one character for one (offsets hold)."""
    return text.translate({k: v for k, v in _MATCH_TABLE.items() if v is not None and v.isdigit()})


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int
    end: int
    norm: str


# A word is letters and digits with the marks written inside it (diacritics, tatweel, joiners);
# numbers keep their decimal and thousands separators.
_WORD = re.compile(
    r"\d+(?:[.,٫٬]\d+)*|[^\W\d_][\w\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u200c\u200d]*"
    r"|[\u0610-\u061A\u064B-\u065F\u0670\u0640]+\w[\w\u064B-\u065F\u0640]*"
)


def tokens(text: str, start: int = 0, end: int | None = None) -> list[Token]:
    """Word tokens of ``text[start:end]`` with offsets into ``text`` and their normalised form.

    Glued words listed in the lexicon (الأممالمتحدة) come back as two tokens.
    """
    out: list[Token] = []
    glued = _glued_lexicon()
    for m in _WORD.finditer(text, start, len(text) if end is None else end):
        norm = normalize_token(m.group())
        if not norm:
            continue
        split = glued.get(norm)
        if split is None:
            out.append(Token(m.group(), m.start(), m.end(), norm))
            continue
        # Map the split point in the normalised form back onto the original characters.
        cut = _original_offset(m.group(), split)
        out.append(Token(m.group()[:cut], m.start(), m.start() + cut, norm[:split]))
        out.append(Token(m.group()[cut:], m.start() + cut, m.end(), norm[split:]))
    return out


# Words of already normalised text: no marks or variants are left to carry along.
_NORM_WORD = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]\w*")


def words(text: str) -> list[str]:
    """Normalised words of ``text`` without offsets: the fast path for indexing and vectors.

    The same words as ``[t.norm for t in tokens(text)]`` (but for zero-width characters, which
    split tokens and vanish here), found by normalising the whole text once, not word by word.
    """
    glued = _glued_lexicon()
    out = _NORM_WORD.findall(normalize(text))
    if not any(w in glued for w in out):
        return out
    split: list[str] = []
    for word in out:
        cut = glued.get(word)
        split.extend((word[:cut], word[cut:]) if cut else (word,))
    return split


def _original_offset(original: str, norm_index: int) -> int:
    """The index in ``original`` where its normalised prefix reaches ``norm_index`` characters."""
    for i in range(1, len(original) + 1):
        if len(normalize(original[:i])) >= norm_index and not _is_mark(original[i : i + 1]):
            return i
    return len(original)


def _is_mark(ch: str) -> bool:
    return bool(ch) and (ch in _DIACRITICS or ch == araby.TATWEEL or ch in _INVISIBLE)


@lru_cache(maxsize=1)
def _glued_lexicon() -> dict[str, int]:
    """Glued forms of frequent multi-word names, mapped to the split point in normalised form.

    Only phrases in ``data/glued_phrases.txt`` are repaired: splitting unknown long words would
    break real words, so the repair is lexicon-driven and therefore safe.
    """
    table: dict[str, int] = {}
    raw = resources.files("rasd.data").joinpath("glued_phrases.txt").read_text(encoding="utf-8")
    for line in raw.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or " " not in line:
            continue
        first, second = normalize(line).split(" ", 1)
        if " " in second:
            continue
        table[first + second] = len(first)
        for prefix in ("و", "ب", "ل", "ف"):
            table[prefix + first + second] = len(first) + 1
    return table


# ---------------------------------------------------------------------------------------------
# Stems

_ARABIC_STEMMER = Stemmer.Stemmer("arabic")
# Snowball leaves the conjunction-plus-article prefixes (والمشير) alone; they are folded first.
_CONJ_ARTICLE = re.compile(r"^(?:و|ف)?(?:ب|ك|ل)?(?=ال..)")
# Words that begin with ال without it being the article (God, now, the relative pronouns).
_NOT_ARTICLE = frozenset({
    "الله", "اللهم", "الان", "الذي", "التي", "الذين", "اللذان", "اللتان", "اللذين", "اللتين", "اللاتي",
    "اللاءي", "اللواتي",
})
#: Bumped whenever stem() changes what it returns, so that stored search indexes are rebuilt.
STEM_VERSION = 2


@lru_cache(maxsize=200_000)
def stem(norm_token: str) -> str:
    """Light stem of a normalised token: the article and the clitics before it are removed, then
    Snowball Arabic stems what is left.

    Snowball stems a word differently with and without the article (حكومة -> حكوم but الحكومة ->
    حكومه, مياه -> ميا but المياه -> مياه), so a search for حكومة missed الحكومة and two reports
    using the two forms shared no term. Removing the article first gives both forms one stem.
    """
    if not norm_token or not norm_token[0].isalpha() or norm_token.isascii():
        return norm_token
    token = _CONJ_ARTICLE.sub("", norm_token)
    if token not in _NOT_ARTICLE and len(token) >= 4 and token.startswith(("ال", "لل")):
        token = token[2:]
    stemmed = _ARABIC_STEMMER.stemWord(token)
    return stemmed if len(stemmed) >= 2 else token


def stems(text: str) -> list[str]:
    return [stem(t.norm) for t in tokens(text)]


# ---------------------------------------------------------------------------------------------
# Sentences

_TERMINATORS = ".!?؟؛…"
_OPENING = {"«": "»", "“": "”", '"': '"', "„": "“", "‹": "›"}
# One or two letters before a dot are abbreviations (د. for doctor, أ.ف.ب, U.S.), not ends.
_ABBREVIATION = re.compile(r"(?:^|[\s(])(?:[^\W\d_]{1,2}\.)+$")
_MAX_QUOTE = 600


def sentences(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Sentence spans of ``text[start:end]`` as offsets into ``text``, stripped of whitespace.

    Ends at . ! ? ؟ ؛ … and at line breaks; a terminator inside an open quotation does not end
    the sentence while the quote closes soon after, a closing quote right after a terminator
    stays with its sentence, and abbreviations and decimal numbers do not split.
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    seg_start = start
    open_quote: tuple[str, int] | None = None
    i = start
    while i < end:
        ch = text[i]
        if open_quote is None and ch in _OPENING and ch != '"':
            open_quote = (_OPENING[ch], i)
        elif open_quote is None and ch == '"':
            open_quote = ('"', i)
        elif open_quote is not None and ch == open_quote[0]:
            open_quote = None
        if open_quote is not None and i - open_quote[1] > _MAX_QUOTE:
            open_quote = None  # an unbalanced mark never swallows the rest of the article
        if ch == "\n":
            _push(text, spans, seg_start, i)
            seg_start = i + 1
            open_quote = None
        elif ch in _TERMINATORS and open_quote is None:
            j = i + 1
            while j < end and text[j] in _TERMINATORS:
                j += 1
            while j < end and text[j] in "»”\")’'":
                j += 1
            nxt = text[j] if j < end else " "
            if ch == "." and (
                (i > 0 and text[i - 1].isdigit() and nxt.isdigit())
                or _ABBREVIATION.search(text, max(seg_start, i - 12), i + 1)
            ):
                i += 1
                continue
            if nxt.isspace() or j >= end:
                _push(text, spans, seg_start, j)
                seg_start = j
                i = j
                continue
        i += 1
    _push(text, spans, seg_start, end)
    return spans


def _push(text: str, spans: list[tuple[int, int]], start: int, end: int) -> None:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if end > start and any(c.isalnum() for c in text[start:end]):
        spans.append((start, end))


# ---------------------------------------------------------------------------------------------
# Small helpers the stages share


def content_key(text: str) -> str:
    """The normalised letters and digits only: two texts equal under it are exact duplicates."""
    return " ".join(t.norm for t in tokens(text))


def shingles(words: Iterable[str], n: int) -> Iterator[str]:
    words = list(words)
    for i in range(max(len(words) - n + 1, 1 if words else 0)):
        yield " ".join(words[i : i + n])
