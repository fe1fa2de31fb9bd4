"""Turning stored data into safe display pieces: highlighted text, copied words, SVG layouts.

Nearly nothing here produces markup. Every function returns plain pieces (text plus flags or
numbers) that the Jinja2 templates escape, so untrusted article text can never become HTML. The
exceptions return :class:`~markupsafe.Markup` built from fixed strings: :func:`svg_attrs` (numbers
and keywords only) and the small tags :func:`time_tag` and :func:`outlet_tag`, which escape every
value they are given and drop its bidi controls, as the templates do.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from markupsafe import Markup

from rasd import textnorm

# Bidi embeddings, overrides and isolates (and the invisible marks) let a title reorder the
# text around it (U+202E turns "gpj.exe" into "exe.jpg"); displayed user text never needs them.
_BIDI = re.compile("[\u200e\u200f\u061c\u202a-\u202e\u2066-\u2069]")


def strip_bidi(value: object) -> object:
    """Jinja2 ``finalize``: every value printed into a page loses its bidi control characters.

    Macro output arrives already escaped (Markup); deleting characters from escaped text
    cannot form a tag, so it stays Markup rather than being escaped twice.
    """
    if isinstance(value, Markup):
        return Markup(_BIDI.sub("", value))
    return _BIDI.sub("", value) if isinstance(value, str) else value


def safe_url(url: str | None) -> str | None:
    """The URL when it may be a link (http or https with a host); None for anything else."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(c in url for c in "\"'<>\\ \t\r\n") or _BIDI.search(url):
        return None
    return url


def _shown(value: str) -> str:
    """What a template prints of ``value``: its bidi controls removed (``strip_bidi``)."""
    return _BIDI.sub("", value)


def time_tag(value: str | None) -> Markup:
    """A stored timestamp as ``<time dir="ltr" datetime="VALUE">2025-06-16 19:30</time>``.

    A Python function rather than a template macro: a big story page prints ~450 of these and the
    outlet tags below, and a macro call cost more than its markup (6 of 12 ms of the template)."""
    return _TIME.format(_shown(value or ""), _shown(short_time(value)))


def outlet_tag(name: str | None) -> Markup:
    """An outlet's name as ``<span class="outlet"><bdi>NAME</bdi></span>`` ("؟" when unknown)."""
    return _OUTLET.format(_shown(name or "؟"))


# Markup.format escapes each value it is given.
_TIME = Markup('<time dir="ltr" datetime="{}">{}</time>')
_OUTLET = Markup('<span class="outlet"><bdi>{}</bdi></span>')


# -- highlighted article text --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mark:
    """One thing to highlight: a span of the article text and what it is."""

    start: int
    end: int
    kind: str  # "mention" | "date" | "quote" | "reuse"
    href: str | None = None
    note: str | None = None


@dataclass(slots=True)
class Piece:
    text: str
    kinds: tuple[str, ...] = ()
    href: str | None = None
    notes: tuple[str, ...] = ()


@dataclass(slots=True)
class Paragraph:
    kind: str
    start: int
    end: int
    pieces: list[Piece] = field(default_factory=list)


def highlight(text: str, start: int, end: int, marks: Sequence[Mark]) -> list[Piece]:
    """Cut ``text[start:end]`` at every mark boundary; each piece knows which marks cover it.

    Marks may overlap (a quote holding a mention holding a date): cutting at all boundaries
    gives flat pieces, so the HTML never needs overlapping elements.
    """
    inside = [m for m in marks if m.start < end and m.end > start and m.start < m.end]
    cuts = {start, end}
    for m in inside:
        cuts.add(max(start, m.start))
        cuts.add(min(end, m.end))
    bounds = sorted(cuts)
    pieces: list[Piece] = []
    for a, b in itertools.pairwise(bounds):
        covering = [m for m in inside if m.start <= a and m.end >= b]
        kinds = tuple(sorted({m.kind for m in covering}))
        # The innermost link wins: a mention inside a reused passage links to its entity.
        linked = sorted((m for m in covering if m.href), key=lambda m: m.end - m.start)
        notes = tuple(dict.fromkeys(m.note for m in covering if m.note))
        pieces.append(Piece(text[a:b], kinds, linked[0].href if linked else None, notes))
    return pieces


def paragraphs(text: str, blocks: Iterable[tuple[int, int, str]], marks: Sequence[Mark]) -> list[Paragraph]:
    """Blocks split into their blank-line paragraphs, each highlighted."""
    out: list[Paragraph] = []
    for b_start, b_end, kind in blocks:
        cursor = b_start
        for m in re.finditer(r"\n\s*\n", text[b_start:b_end]):
            _add_paragraph(out, text, cursor, b_start + m.start(), kind, marks)
            cursor = b_start + m.end()
        _add_paragraph(out, text, cursor, b_end, kind, marks)
    return out


def _add_paragraph(out: list[Paragraph], text: str, start: int, end: int, kind: str, marks: Sequence[Mark]) -> None:
    if text[start:end].strip():
        out.append(Paragraph(kind, start, end, highlight(text, start, end, marks)))


# -- copied words in aligned passages ------------------------------------------------------------


def copied_words(text: str, other: str) -> list[tuple[str, bool]]:
    """``text`` in pieces, a word marked when its normalised form also occurs in ``other``."""
    others = {t.norm for t in _words(other)}
    return _marked(text, _words(text), others, merge=False)


@dataclass(frozen=True, slots=True)
class CopiedPair:
    """Both sides of an aligned passage with their copied words marked, for display."""

    source: tuple[tuple[str, bool], ...]
    target: tuple[tuple[str, bool], ...]
    #: Share of the target's words that also occur in the source.
    share: float


#: Pairs kept: a story page shows at most 12 links × 6 passages, so this holds the passages of
#: the most viewed stories (about 30 full pages, a few MB of text) and the story page is cut
#: to its database reads when a popular story is viewed again.
_PAIR_CACHE = 2048


@lru_cache(maxsize=_PAIR_CACHE)
def copied_pair(source: str, target: str) -> CopiedPair:
    """``copied_words`` both ways, each side tokenised once, consecutive copied words in one run.

    One run per stretch of copied words rather than one piece per word: a wire copy is mostly
    copied, and one ``<mark>`` per word made the story page's passages cost a template call per
    word (measured: passages were 60% of a story page's time on a 2,000-article store).
    """
    src, tgt = _words(source), _words(target)
    src_norms, tgt_norms = {t.norm for t in src}, {t.norm for t in tgt}
    copied = sum(1 for t in tgt if t.norm in src_norms)
    # Tuples: the cached pieces are shared by every request that shows this passage.
    return CopiedPair(tuple(_marked(source, src, tgt_norms, merge=True)),
                      tuple(_marked(target, tgt, src_norms, merge=True)), copied / len(tgt) if tgt else 0.0)


def _words(text: str) -> list[textnorm.Token]:
    # Punctuation tokens would mark every comma as "copied": only words count (the isalnum
    # test first: nearly every token passes it, and the character scan was a tenth of the page).
    return [t for t in textnorm.tokens(text) if t.norm.isalnum() or any(ch.isalnum() for ch in t.norm)]


def _marked(text: str, words: Sequence[textnorm.Token], others: set[str], merge: bool) -> list[tuple[str, bool]]:
    runs: list[list[int]] = []
    previous_copied = False
    for tok in words:
        copied = tok.norm in others
        if copied and merge and previous_copied:
            runs[-1][1] = tok.end
        elif copied:
            runs.append([tok.start, tok.end])
        previous_copied = copied
    pieces: list[tuple[str, bool]] = []
    cursor = 0
    for start, end in runs:
        if start > cursor:
            pieces.append((text[cursor:start], False))
        pieces.append((text[start:end], True))
        cursor = end
    if cursor < len(text):
        pieces.append((text[cursor:], False))
    return pieces


def copied_share(pieces: Sequence[tuple[str, bool]]) -> float:
    words = [(len(p.split()), h) for p, h in pieces if p.strip()]
    total = sum(n for n, _ in words)
    return sum(n for n, h in words if h) / total if total else 0.0


# -- search snippets -----------------------------------------------------------------------------


def snippet(text: str, wanted: set[str], width: int = 220) -> list[tuple[str, bool]]:
    """About ``width`` characters of ``text`` around its first word whose stem is in ``wanted``,
    in (text, hit) pieces; the start of the text when no word matches.

    The text is tokenised a window at a time until the first hit, then the snippet's own window
    once: SaudiNewsNet articles are one paragraph, and tokenising paragraph by paragraph (whole
    articles) then a 440-character window made snippets 25 of a search page's 30 ms of CPU.
    """
    first = None
    cursor = 0
    while first is None and cursor < len(text):
        end = min(len(text), cursor + width)
        while end < len(text) and not text[end].isspace():
            end += 1  # never cut a word in two
        first = next((t for t in textnorm.tokens(text, cursor, end) if textnorm.stem(t.norm) in wanted), None)
        cursor = end
    if first is None:
        return [(text[:width], False)]
    start = max(0, first.start - width // 3)
    end = min(len(text), start + width)
    while start > 0 and not text[start - 1].isspace() and first.start - start < width // 2:
        start -= 1  # back to the start of the word the window cut
    pieces: list[tuple[str, bool]] = []
    cursor = start
    for t in textnorm.tokens(text, start, end):
        if t.start >= first.start and textnorm.stem(t.norm) in wanted:
            pieces.append((text[cursor : t.start], False))
            pieces.append((text[t.start : t.end], True))
            cursor = t.end
    pieces.append((text[cursor:end], False))
    return [(p, h) for p, h in pieces if p]


# -- dates ---------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def parse_when(value: str | None) -> datetime | None:
    """A stored ISO 8601 string (full timestamp or bare day, "YYYY-MM" or "YYYY") as a datetime.

    Cached (pure; datetimes are immutable): a big story page formats the same few hundred
    timestamps several times over (chart, map, lists), ~240 calls a page."""
    if not value:
        return None
    text = value.strip()
    try:
        if re.fullmatch(r"\d{4}", text):
            return datetime(int(text), 1, 1)
        if re.fullmatch(r"\d{4}-\d{2}", text):
            return datetime(int(text[:4]), int(text[5:7]), 1)
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time())
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Local wall-clock time as the outlet printed it: comparing days across zones must not
    # move a 23:30 story to the next day.
    return parsed.replace(tzinfo=None)


def day(value: str | None) -> str | None:
    when = parse_when(value)
    return when.date().isoformat() if when else None


@lru_cache(maxsize=8192)
def short_time(value: str | None) -> str:
    """"2025-06-16 19:30" (or the day alone when no time was given)."""
    if not value:
        return "—"
    when = parse_when(value)
    if when is None:
        return value
    return when.strftime("%Y-%m-%d") if len(value.strip()) <= 10 else when.strftime("%Y-%m-%d %H:%M")


# -- SVG layouts ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChartSettings:
    #: Wide enough for eight outlet lanes of labels on a desktop; the SVG scales down on phones
    #: through its viewBox, so one layout serves both.
    width: int = 720
    lane_height: int = 26
    #: Room at the right for outlet names (time flows right to left, with the text).
    label_width: int = 150
    margin: int = 16


def timeline_chart(
    articles: Sequence[dict[str, object]],
    events: Sequence[dict[str, object]],
    settings: ChartSettings = ChartSettings(),
) -> dict[str, object] | None:
    """Events as bands and articles as dots on a time axis, one lane per outlet.

    Time runs from right (earliest) to left, like the Arabic text around it.
    """
    points = [(a, parse_when(str(a.get("published") or ""))) for a in articles]
    dated = [(a, w) for a, w in points if w is not None]
    event_days = [(e, parse_when(str(e.get("date") or ""))) for e in events]
    whens = [w for _, w in dated] + [w for _, w in event_days if w is not None]
    if not whens:
        return None
    lo, hi = min(whens), max(whens)
    span = max((hi - lo).total_seconds(), 86400.0)
    outlets = sorted({str(a.get("source") or "؟") for a, _ in dated})
    top = 34
    height = top + settings.lane_height * max(1, len(outlets)) + 30
    plot_right = settings.width - settings.label_width
    plot_left = settings.margin
    plot_w = plot_right - plot_left

    def x_of(w: datetime) -> float:
        return round(plot_right - (w - lo).total_seconds() / span * plot_w, 1)

    lane_y: dict[str, float] = {name: top + i * settings.lane_height + settings.lane_height / 2
                                for i, name in enumerate(outlets)}
    label_x = settings.width - settings.margin // 2
    lanes = [{"name": name, "y": y, "label_x": label_x} for name, y in lane_y.items()]
    # Only what the template prints: a big story has a dot per article.
    dots = [
        {"id": a.get("id"), "at": svg_attrs(("cx", x_of(w)), ("cy", lane_y[str(a.get("source") or "؟")])),
         "title": f"{a.get('source') or ''} — {short_time(str(a.get('published') or ''))}: {a.get('title') or ''}"}
        for a, w in dated
    ]
    marks = []
    for i, (e, w) in enumerate(event_days):
        if w is None:
            continue
        marks.append({"x": x_of(w), "label": f"{i + 1}", "title": str(e.get("title") or ""),
                      "date": day(str(e.get("date")))})
    ticks = _day_ticks(lo, hi, x_of)
    return {
        "width": settings.width, "height": height, "top": top, "bottom": height - 24,
        "plot_left": plot_left, "plot_right": plot_right, "lanes": lanes, "dots": dots, "events": marks,
        "ticks": ticks,
    }


def _day_ticks(lo: datetime, hi: datetime, x_of: Callable[[datetime], float]) -> list[dict[str, object]]:
    days = (hi.date() - lo.date()).days + 1
    step = max(1, math.ceil(days / 7))
    ticks = []
    start = datetime.combine(lo.date(), datetime.min.time())
    for k in range(0, days + 1, step):
        when = start.fromordinal(start.toordinal() + k)
        if when < lo.replace(hour=0, minute=0, second=0, microsecond=0) or when > hi:
            continue
        ticks.append({"x": x_of(when), "label": when.strftime("%m-%d")})
    return ticks


def svg_attrs(*pairs: tuple[str, float | int | str]) -> Markup:
    """SVG attributes that the layout code computed (numbers, or a keyword such as an anchor) as one
    piece of markup, written as the template would print them one by one. A big story page has
    ~1,000 such values in its chart and map; escaping each through Jinja2 cost more than the rest of
    the SVG. Only numbers and the fixed words below are accepted, so nothing here can carry markup
    or a bidi mark."""
    out = []
    for name, value in pairs:
        if isinstance(value, str):
            if value not in _SVG_WORDS:
                raise ValueError(f"not an SVG keyword: {value!r}")
        elif isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"not a number: {value!r}")
        out.append(f'{name}="{value}"')
    return Markup(" ".join(out))


_SVG_WORDS = frozenset({"start", "middle", "end"})


def reuse_graph(
    nodes: Sequence[dict[str, object]], links: Sequence[dict[str, object]], size: int = 480
) -> dict[str, object] | None:
    """Articles on a circle (earliest at the top, clockwise in time); an arrow from each source
    to the article that reused its text, dashed when the direction is a guess."""
    if not links:
        return None
    centre = size / 2
    # Outlet names need about 120 px beside a node on either side of the circle.
    radius = size / 2 - 125 if len(nodes) > 2 else size / 4
    placed: dict[str, dict[str, object]] = {}
    where: dict[str, tuple[float, float]] = {}  # each node's centre, for the arrows
    for i, node in enumerate(nodes):
        angle = -math.pi / 2 + 2 * math.pi * i / max(1, len(nodes))
        x = centre + radius * math.cos(angle)
        y = centre + radius * math.sin(angle)
        anchor = "middle" if abs(x - centre) < 20 else ("start" if x > centre else "end")
        lx = round(x + (12 if x > centre + 20 else -12 if x < centre - 20 else 0), 1)
        ly = round(y + (-14 if y < centre else 22), 1)
        cx, cy = round(x, 1), round(y, 1)
        where[str(node["id"])] = (cx, cy)
        placed[str(node["id"])] = {**node, "at": svg_attrs(("cx", cx), ("cy", cy)),
                                   "label_at": svg_attrs(("x", lx), ("y", ly), ("text-anchor", anchor)),
                                   "sub_at": svg_attrs(("x", lx), ("y", ly + 13), ("text-anchor", anchor))}
    edges = []
    for link in links:
        source, target = str(link["source"]), str(link["target"])
        if source not in placed or target not in placed:
            continue
        a, b = placed[source], placed[target]
        (ax, ay), (bx, by) = where[source], where[target]
        length = math.hypot(bx - ax, by - ay) or 1.0
        # Stop the line at the node's edge so the arrow head stays visible.
        pad = 12 / length
        x1, y1 = round(ax + (bx - ax) * pad, 1), round(ay + (by - ay) * pad, 1)
        x2, y2 = round(bx - (bx - ax) * pad, 1), round(by - (by - ay) * pad, 1)
        width = round(1.2 + 3 * min(1.0, float(link.get("score") or 0)), 2)  # type: ignore[arg-type]
        edges.append({
            "known": bool(link.get("direction_known")), "title": f"{a.get('label')} ← {b.get('label')}",
            "attrs": svg_attrs(("x1", x1), ("y1", y1), ("x2", x2), ("y2", y2), ("stroke-width", width)),
        })
    return {"size": size, "nodes": list(placed.values()), "edges": edges}


def bars(counts: Sequence[tuple[str, int]], width: int = 600, height: int = 90) -> dict[str, object] | None:
    """Daily counts as bars, time flowing right to left; gaps between days are kept."""
    if not counts:
        return None
    days = [date.fromisoformat(d) for d, _ in counts]
    first, last = min(days), max(days)
    n_days = (last - first).days + 1
    slot = width / n_days
    peak = max(c for _, c in counts) or 1
    out = []
    for (d, c), when in zip(counts, days, strict=True):
        h = max(2.0, (height - 20) * c / peak)
        x = width - ((when - first).days + 1) * slot
        out.append({"x": round(x + slot * 0.15, 1), "w": round(max(1.0, slot * 0.7), 1),
                    "y": round(height - 16 - h, 1), "h": round(h, 1), "day": d, "count": c})
    return {"width": width, "height": height, "bars": out, "peak": peak,
            "first": first.isoformat(), "last": last.isoformat()}
