"""Split a decoded article into blocks (title, body, repeated titles, boilerplate, credit lines).

Nothing is deleted: every block keeps its offsets into the text exactly as decoded, so the
analysis stages read only title and body blocks while the app can still show the rest apart.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from rasd.models import Article, Block
from rasd.textnorm import normalize

# Lines that are site furniture, never article text.
_BOILERPLATE = re.compile(
    r"^\W*(?:الأكثر|الاكثر)\s+(?:قراءة|قراءه|مشاهدة|تداولا|تداولاً)"
    r"|^\W*(?:اقرأ|إقرأ|اقرا)\s+(?:أيضا|أيضاً|ايضا|المزيد)"
    r"|^\W*(?:اضغط|إضغط|انقر)\s+هنا"
    r"|^\W*(?:تابعونا|تابعوا|تابعنا)\s+(?:على|عبر)"
    r"|(?:جميع|كل)\s+(?:الحقوق|حقوق)\s+(?:محفوظة|محفوظه)"
    r"|^\W*©|\(c\)\s*\d{4}|copyright"
    r"|^\W*(?:شارك|شاركوا|مشاركة)(?:\s+(?:الخبر|المقال|هذا|على|عبر))?\W*$"
    r"|^\W*(?:المزيد من الأخبار|أخبار ذات صلة|اخبار ذات صلة|مواضيع ذات صلة|الأخبار المتعلقة)"
    r"|^\W*(?:للاشتراك|اشترك|اشتركوا)\b"
    r"|^\W*(?:logo|شعار الموقع|الصفحة الرئيسية|القائمة الرئيسية|home|menu)\W*$"
    r"|^\W*(?:إعلان|اعلان|advertisement)\W*$",
    re.IGNORECASE,
)
# Headings after which the rest of the lines are lists of other articles' headlines.
_TRAILER_HEADINGS = re.compile(
    r"^\W*(?:الأكثر|الاكثر)\s+(?:قراءة|قراءه|مشاهدة|تداولا)|^\W*(?:اقرأ|إقرأ|اقرا)\s+(?:أيضا|أيضاً|ايضا)\W*:?\W*$"
    r"|^\W*(?:أخبار|اخبار|مواضيع)\s+ذات\s+صلة",
)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_EMAIL = re.compile(r"\S+@\S+\.\w+")
# Credit lines name where a syndicated text came from.
_CREDIT = re.compile(
    r"[(\[]?\s*(?:بالتزامن\s+مع|بالاتفاق\s+مع|نقلا\s+عن|نقلاً\s+عن|المصدر\s*:|مصدر\s+الخبر\s*:|"
    r"عن\s+موقع|خدمة\s+(?=\S+\s*[)\]]))\s*(?P<outlet>[^()\[\]\n.،,]{2,60}?)\s*[)\]]?\s*\.?\s*$"
)
_FOOTER_OUTLET = re.compile(
    r"(?:©|\(c\)|حقوق\s+(?:النشر|الطبع))\s*(?:\d{4}\s*(?:-\s*\d{4})?)?\s*[-–:]?\s*"
    r"(?P<outlet>[^\-–|©\n]{3,40}?)\s*(?:[-–|]|جميع|كل|$)",
    re.IGNORECASE,
)
_MAX_TITLE_WORDS = 30
_MAX_FURNITURE_WORDS = 40
# A credit in brackets closing a paragraph: "... (بالتزامن مع وكالة أنباء الساحل)".
_TRAILING_CREDIT_WORDS = 12
_TRAILER_LINE_WORDS = 18


@dataclass(frozen=True, slots=True)
class Cleaned:
    blocks: tuple[Block, ...]
    title: str | None
    credit: str | None
    footer_outlet: str | None


def _lines(text: str) -> list[tuple[int, int]]:
    spans = []
    for m in re.finditer(r"[^\n]+", text):
        start, end = m.start(), m.end()
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            spans.append((start, end))
    return spans


# Every boilerplate pattern holds one of these; lines without any skip the regular expressions.
_FURNITURE_WORDS = (
    "قراء", "اقرأ", "إقرأ", "اقرا", "اضغط", "إضغط", "انقر", "تابع", "حقوق", "©", "(c)", "copyright", "شارك",
    "مشاركة", "المزيد", "ذات صلة", "المتعلقة", "اشترك", "للاشتراك", "logo", "شعار", "الرئيسية", "القائمة",
    "home", "menu", "إعلان", "اعلان", "advertisement", "الاكثر", "الأكثر",
)


_CREDIT_WORDS = ("بالتزامن", "بالاتفاق", "نقلا", "نقلاً", "مصدر", "عن موقع", "خدمة")


def _may_be_credit(line: str) -> bool:
    return any(word in line for word in _CREDIT_WORDS)


def _may_be_furniture(line: str) -> bool:
    lowered = line.lower()
    return any(word in lowered for word in _FURNITURE_WORDS)


def _is_url_line(line: str) -> bool:
    if "http" not in line and "www." not in line and "@" not in line:
        return not any(c.isalnum() for c in line)
    stripped = _EMAIL.sub("", _URL.sub("", line)).strip(" \t-–|:•·*")
    return not stripped or len(stripped) < 3


def clean(text: str, title: str | None = None) -> Cleaned:
    """Blocks of ``text``: the first line is the title when it looks like one (or equals ``title``),
    later copies of the title are ``title_repeat``, furniture is ``boilerplate``, credit lines are
    ``credit`` and the rest is ``body``."""
    lines = _lines(text)
    norm_title = normalize(title) if title else None
    blocks: list[Block] = []
    credit: str | None = None
    footer_outlet: str | None = None
    found_title: str | None = title
    in_trailer = False

    for index, (start, end) in enumerate(lines):
        line = text[start:end]
        n_words = line.count(" ") + 1
        if n_words > _MAX_FURNITURE_WORDS:
            # A long paragraph is article text: furniture, titles and credits are short lines.
            in_trailer = False
            blocks.append(Block(start, end, "body"))
            _split_trailing_credit(text, blocks)
            credit = credit or _credit_outlet(text, blocks[-1])
            continue
        kind = "body"
        # Only a line of about the title's length can be a copy of it: skip normalising the rest.
        near_title = norm_title is None or abs(len(line) - len(norm_title)) <= len(norm_title) // 3 + 8
        norm = normalize(line) if near_title else ""
        if near_title and norm_title and norm.strip(" .:-") == norm_title.strip(" .:-"):
            kind = "title" if not any(b.kind == "title" for b in blocks) else "title_repeat"
        elif index == 0 and title is None and _looks_like_title(line, lines, text):
            kind = "title"
            found_title = line
            norm_title = norm
        elif (furniture := _may_be_furniture(line)) and _TRAILER_HEADINGS.search(line):
            kind = "boilerplate"
            in_trailer = True
        elif (furniture and _BOILERPLATE.search(line)) or _is_url_line(line):
            kind = "boilerplate"
            footer = _FOOTER_OUTLET.search(line)
            if footer and footer_outlet is None:
                footer_outlet = footer.group("outlet").strip(" .،,")
        elif in_trailer and n_words <= _TRAILER_LINE_WORDS:
            kind = "boilerplate"
        else:
            in_trailer = False
            m = _CREDIT.search(line) if n_words <= 14 and _may_be_credit(line) else None
            if m and m.start() == 0:
                kind = "credit"
                credit = credit or m.group("outlet").strip(" .،,")
        blocks.append(Block(start, end, kind))
        if kind == "body":
            _split_trailing_credit(text, blocks)
            credit = credit or _credit_outlet(text, blocks[-1])
    return Cleaned(tuple(blocks), found_title, credit, footer_outlet)


def _split_trailing_credit(text: str, blocks: list[Block]) -> None:
    """Cut a bracketed credit off the end of the last body block into a credit block of its own."""
    last = blocks[-1]
    if text[last.end - 1] not in ")]" and not text[last.start : last.end].rstrip(" .").endswith((")", "]")):
        return
    tail_start = max(text.rfind("(", last.start, last.end), text.rfind("[", last.start, last.end))
    if tail_start <= last.start:
        return
    tail = text[tail_start : last.end]
    if tail.count(" ") < _TRAILING_CREDIT_WORDS and _may_be_credit(tail) and _CREDIT.match(tail):
        blocks[-1] = Block(last.start, tail_start, "body")
        blocks.append(Block(tail_start, last.end, "credit"))


def _credit_outlet(text: str, block: Block) -> str | None:
    if block.kind != "credit":
        return None
    m = _CREDIT.search(text, block.start, block.end)
    return m.group("outlet").strip(" .،,") if m else None


def _looks_like_title(line: str, lines: list[tuple[int, int]], text: str) -> bool:
    """A short first line with no sentence end, or one that the scraper repeated below."""
    words = len(line.split())
    if words == 0 or words > _MAX_TITLE_WORDS:
        return False
    norm = normalize(line)
    repeated = any(normalize(text[s:e]) == norm for s, e in lines[1:5])
    return repeated or (len(lines) > 1 and not line.rstrip().endswith((".", "!", "؟", "?")))


def article_id(text: str, source: str | None, url: str | None) -> str:
    """Stable content hash: the same text from the same outlet and URL is the same article."""
    # Whitespace is folded so that line-ending or re-wrapping differences keep the id; spelling
    # variants are not (copies that differ in them are near duplicates, found by dedup).
    key = "\x1f".join((source or "", url or "", " ".join(text.split())))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def make_article(
    text: str,
    *,
    title: str | None = None,
    source: str | None = None,
    url: str | None = None,
    published: str | None = None,
    path: str | None = None,
    encoding: str | None = None,
) -> Article:
    """An Article from decoded text and whatever metadata is known; cleaning fills the gaps."""
    cleaned = clean(text, title)
    source = source or cleaned.footer_outlet
    title = title or cleaned.title
    return Article(
        id=article_id(text, source, url),
        text=text,
        title=title,
        source=source,
        url=url,
        published=published,
        path=path,
        blocks=cleaned.blocks,
        credit=cleaned.credit,
        encoding=encoding,
    )
