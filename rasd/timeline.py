"""Temporal expressions in Arabic news, resolved against the publication date, and timelines.

``extract`` finds expressions in any string and resolves them against a reference date;
``find_dates`` runs it over an article's title and body blocks; ``event_date`` and
``story_timeline`` turn the resolved references into an event's date and a story's timeline.

Matching runs on a character-level normalisation of the text (hamza-less alef, ى->ي, ة->ه,
ASCII digits, no diacritics or tatweel) that keeps, for every normalised character, the index of
the original character it came from, so spans always point into the text exactly as decoded.
A cheap prefilter (trigger words and date-like digit groups) decides where the patterns run and
which of them can match there; the lexicons, patterns, prefilter and Hijri calendar live in
``rasd.timeline_lexicon``.
The resolution rules (which year an unqualified "15 يونيو" means, what "الأحد الماضي" is, how a
Hijri date becomes a Gregorian one) are documented in docs/timeline.md.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rasd import timeline_lexicon as lx
from rasd.models import Article, ArticleMemo, TimelineEntry, TimeRef
from rasd.textnorm import normalize, sentences
from rasd.timeline_lexicon import gregorian_to_hijri as gregorian_to_hijri  # re-exported
from rasd.timeline_lexicon import hijri_to_gregorian as hijri_to_gregorian  # re-exported


@dataclass(frozen=True, slots=True)
class TimelineSettings:
    #: "عدة/بضعة أيام" names no number; three is the smallest count the words are used for
    #: (اثنان would be a dual), so the approximate value errs on the near side.
    few: int = 3
    #: Months between a date and a story's first publication before the date is "background"
    #: (a 2011 embargo cited in 2025 news). Twelve months: anything older than a year is context
    #: rather than the news itself; the bundled fixtures put all genuine event dates within weeks.
    background_months: int = 12
    #: An unqualified day-and-month (15 يونيو) takes the year that puts it nearest the
    #: reference; news dates lie mostly in the past, so a date this many days ahead of the
    #: reference is moved back a year instead (a June article naming "20 ديسمبر" means last year).
    future_window_days: int = 120
    #: Four-digit numbers alone count as years only inside this range: outside it they are
    #: amounts far more often than years in news text.
    bare_year_min: int = 1900
    bare_year_max: int = 2100


DEFAULT_SETTINGS = TimelineSettings()


@dataclass(frozen=True, slots=True)
class TimeExpression:
    """One temporal expression in a string: span into that string, resolved value or None."""

    start: int
    end: int
    text: str
    kind: str
    value: str | None
    anchor: str  # "publication" | "absolute" | "approximate"
    warning: str | None = None


# ---------------------------------------------------------------------------------------------
# Extraction


def extract(
    text: str,
    reference: dt.date | None,
    start: int = 0,
    end: int | None = None,
    settings: TimelineSettings = DEFAULT_SETTINGS,
) -> list[TimeExpression]:
    """Temporal expressions in ``text[start:end]`` (offsets into ``text``), earliest first.

    Relative expressions resolve against ``reference``; without one only expressions that carry
    their own year get a value, the rest come back with ``value=None``.
    """
    end = len(text) if end is None else end
    norm, back = lx.normalised_view(text, start, end)
    if not norm:
        return []
    candidates: list[tuple[int, int, str, str]] = []
    for w_start, w_end, cats in lx.trigger_windows(norm):
        for kind, rx in lx.patterns_for(cats):
            for m in rx.finditer(norm, w_start, w_end):
                s, e = m.span("e")
                while e > s and norm[e - 1] in " ,،":
                    e -= 1
                if e > s:
                    candidates.append((s, e, kind, norm[s:e]))
    # Longest match wins; ties go to the earlier start, then to the earlier pattern.
    candidates.sort(key=lambda c: (-(c[1] - c[0]), c[0], lx.PATTERN_ORDER[c[2]]))
    taken: list[tuple[int, int]] = []
    out: list[TimeExpression] = []
    for s, e, kind, ntext in candidates:
        if any(s < te and ts < e for ts, te in taken):
            continue
        if not _plausible(kind, ntext, norm, s, e, settings):
            continue
        taken.append((s, e))
        o_start, o_end = back(s), back(e - 1) + 1
        while o_end < end and not text[o_end].isspace() and not lx.norm_char(text[o_end]):
            o_end += 1  # marks the normalisation dropped (غداً، هـ) belong to the expression
        value, anchor, warning = _resolve(kind, ntext, norm, s, e, reference, settings)
        if kind == "weekday" and reference is not None and value is not None:
            value = _future_weekday(ntext, norm[max(0, s - 40) : s], reference) or value
        out.append(TimeExpression(o_start, o_end, text[o_start:o_end], kind, value, anchor, warning))
    out.sort(key=lambda x: x.start)
    return _merge_ranges(text, out)


_RANGE_ENDS = {
    "day_month",
    "month_day",
    "numeric",
    "rel_day",
    "weekday",
    "week_weekday",
    "month",
    "day_rel_month",
}


def _merge_ranges(text: str, found: list[TimeExpression]) -> list[TimeExpression]:
    """ "X حتى Y" / "بين X و Y" become one expression dated by its start, X."""
    out: list[TimeExpression] = []
    for x in found:
        prev = out[-1] if out else None
        if prev is not None and prev.kind in _RANGE_ENDS and x.kind in _RANGE_ENDS:
            gap = normalize(text[prev.end : x.start]) if text[prev.end : x.start].strip() else ""
            between = normalize(text[max(0, prev.start - 5) : prev.start]).endswith("بين")
            if lx.RANGE_JOIN.fullmatch(" " + gap + " ") and (gap not in ("و", "") or between) and gap:
                start = prev.start
                if between:
                    start = text.rfind("بين", 0, prev.start)
                out[-1] = TimeExpression(
                    start, x.end, text[start : x.end], "range", prev.value, prev.anchor, prev.warning
                )
                continue
        out.append(x)
    return out


def _plausible(kind: str, ntext: str, norm: str, s: int, e: int, settings: TimelineSettings) -> bool:
    """Reject matches that are usually not dates in news text (verbs, names, amounts)."""
    if kind == "month":
        months = lx.MONTH_RE.findall(ntext)
        bare = len(months) == 1 and ntext.strip() == months[0]
        if bare and lx.squash(months[0]) in lx.WEAK_MONTHS and not lx.AFTER_IN.search(norm, max(0, s - 12), s):
            return False
    if kind == "hijri":
        has_context = bool(
            lx.YEAR_RE.search(ntext) or lx.DAYNUM_RE.search(ntext) or lx.ORD_RE.search(ntext) or ntext.startswith("شهر")
        )
        name = lx.HMONTH_RE.search(ntext)
        has_context = (
            has_context or bool(re.search(lx.QUAL + "$", ntext)) or bool(lx.AFTER_IN.search(norm, max(0, s - 12), s))
        )
        if not has_context and name is not None and lx.squash(name.group()) in lx.WEAK_HIJRI:
            return False
    if kind == "bare_year":
        year = int(ntext)
        if not settings.bare_year_min <= year <= settings.bare_year_max:
            return False
        if lx.UNIT_WORDS_AFTER.match(norm, e):
            return False
    return not (kind == "year" and lx.UNIT_WORDS_AFTER.match(norm, e))


# ---------------------------------------------------------------------------------------------
# Resolution


Resolved = tuple[str | None, str, str | None]


def _resolve(
    kind: str, ntext: str, norm: str, s: int, e: int, ref: dt.date | None, settings: TimelineSettings
) -> Resolved:
    handler = _RESOLVERS.get(kind)
    if handler is None:
        return None, "publication", None
    try:
        return handler(ntext, ref, settings)
    except ValueError:  # an impossible date such as 31 فبراير
        return None, "absolute", "not a valid calendar date"


def _resolve_calendar(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    """Dates built from a month name: day_month, month_day, month, part, range."""
    fm = lx.first_month(ntext)
    year, explicit = lx.year_info(ntext, ref)
    days = lx.day_numbers(ntext)
    rel_month = re.search(r"(?:هذا\s+الشهر|الشهر\s+(" + lx.PERIOD_QUAL + "))", ntext)
    if fm is None:
        if rel_month is None or ref is None:
            return None, "publication", None
        q = rel_month.group(1)
        shift = 0 if q is None or q in lx.THIS_QUAL else (-1 if q in lx.PAST_QUAL else 1)
        y, m = lx.add_months(ref.year, ref.month, shift)
    else:
        m, name = fm
        if year is None:
            if ref is None:
                return None, "publication", None
            qual = lx.month_qualifier(ntext, name)
            y = (
                lx.day_year(m, days[0], qual, ref, settings.future_window_days)
                if days and qual is None
                else lx.month_year(m, qual, ref)
            )
        else:
            y = year
    anchor = "absolute" if explicit else "publication"
    if not days:  # a month or a part of a month
        return lx.ym(y, m), anchor, None
    day = dt.date(y, m, days[0])  # a range (من 4 إلى 22 يناير) is dated by its first day
    return lx.fmt(day), anchor, lx.weekday_check(ntext, day)


def _resolve_numeric(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    if lx.MONTH_RE.search(ntext):  # 2016. نوفمبر .16
        y = int(lx.YEAR_RE.search(ntext).group(1))  # type: ignore[union-attr]
        d = int(re.findall(r"\d+", ntext)[-1])
        return lx.fmt(dt.date(y, lx.GREG_MONTHS[lx.squash(lx.MONTH_RE.search(ntext).group())], d)), "absolute", None  # type: ignore[union-attr]
    parts = [int(p) for p in re.findall(r"\d+", ntext)]
    raw = re.findall(r"\d+", ntext)
    if len(raw[0]) == 4:
        y, m, d = parts
    else:
        a, b, c = parts
        y = c if len(raw[2]) == 4 else 2000 + c
        # Arabic writes day first (15/6/2025); month first only when the day position cannot be a
        # month and the month position can (9-18-15).
        d, m = (b, a) if b > 12 >= a else (a, b)
    try:
        return lx.fmt(dt.date(y, m, d)), "absolute", None
    except ValueError:  # 2015-1-32: keep the part that is a valid date, and say so
        if 1 <= m <= 12:
            return lx.ym(y, m), "absolute", "not a valid calendar date; only the month is kept"
        return f"{y:04d}", "absolute", "not a valid calendar date; only the year is kept"


def _resolve_numeric_short(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    a, b = (int(p) for p in re.findall(r"\d+", ntext))
    d, m = (b, a) if b > 12 >= a else (a, b)
    if ref is None:
        dt.date(2000, m, d)  # still reject impossible dates
        return None, "publication", None
    y = lx.day_year(m, d, None, ref, settings.future_window_days)
    return lx.fmt(dt.date(y, m, d)), "publication", None


def _resolve_month_year_numeric(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    raw = re.findall(r"\d+", ntext)
    y, m = (int(raw[0]), int(raw[1])) if len(raw[0]) == 4 else (int(raw[1]), int(raw[0]))
    if not 1 <= m <= 12:
        raise ValueError(ntext)
    return lx.ym(y, m), "absolute", None


def _resolve_year(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    y = int(lx.YEAR_RE.search(ntext).group(1))  # type: ignore[union-attr]
    if re.search(lx.HIJRI_SUFFIX + "$", ntext):
        start = lx.hijri_to_gregorian(y, 1, 1)
        return f"{start.year:04d}", "absolute", f"Hijri year {y} runs from {start.isoformat()}"
    return f"{y:04d}", "absolute", None


def _resolve_hijri(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    name = lx.HMONTH_RE.search(ntext)
    if name is None:  # the pattern matched but its parts did not (glued digits)
        return None, "publication", None
    hm = lx.HIJRI_MONTHS[lx.squash(name.group())]
    year_m = lx.YEAR_RE.search(ntext)
    days = lx.day_numbers(ntext[: name.start()])
    explicit = year_m is not None
    if year_m is not None:
        hy = int(year_m.group(1))
    elif ref is not None:
        hy, hm_ref, _ = lx.gregorian_to_hijri(ref)
        q = re.search(lx.QUAL, ntext[name.end() :])
        if q is not None and q.group() in lx.PAST_QUAL and hm >= hm_ref:
            hy -= 1
        elif q is not None and q.group() in lx.NEXT_QUAL and hm <= hm_ref:
            hy += 1
    else:
        return None, "publication", None
    if not 1300 <= hy <= 1600:  # a Gregorian-looking year after a Hijri month is not convertible
        return None, "absolute", "year out of the Hijri range"
    greg = lx.hijri_to_gregorian(hy, hm, days[0] if days else 1)
    anchor = "absolute" if explicit else "publication"
    note = None if 1400 <= hy <= 1500 else "tabular Islamic calendar; observed calendars may differ by a day"
    if days:
        return lx.fmt(greg), anchor, note
    return lx.ym(greg.year, greg.month), anchor, note


def _resolve_rel_day(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    if ref is None:
        return None, "publication", None
    if re.match(r"(?:اول\s+(?:من\s+)?|قبل\s+(?:يوم\s+)?)(?:امس|الامس|البارحه)", ntext):
        shift = -2
    elif re.match(r"(?:امس|الامس|البارحه)", ntext):
        shift = -1
    elif re.match(r"بعد\s+(?:غد|الغد)", ntext):
        shift = 2
    elif re.match(r"(?:غدا|غد|الغد)", ntext):
        shift = 1
    elif ntext.endswith("الماضيه"):  # الليلة الماضية: the night before publication
        shift = -1
    else:
        shift = 0
    day = ref + dt.timedelta(days=shift)
    warning = lx.weekday_check(ntext, day)
    if warning:
        warning = "weekday disagrees with the publication date: " + warning
    return lx.fmt(day), "publication", warning


def _resolve_weekday(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    if ref is None:
        return None, "publication", None
    w = lx.WEEKDAY_RE.search(ntext)
    if w is None:
        return None, "publication", None
    wd = lx.WEEKDAYS[w.group(1)]
    nth = re.match(r"\s+(" + lx.NTH + r")$", ntext[w.end() :])
    if nth is not None:  # السبت الثاني: the second Saturday of the reference month
        first = ref.replace(day=1)
        first_wd = first + dt.timedelta(days=(wd - first.weekday()) % 7)
        k = ("الاول", "الثاني", "الثالث", "الرابع", "الخامس").index(nth.group(1)) if nth.group(1) != "الاخير" else 4
        day = first_wd + dt.timedelta(days=7 * k)
        while day.month != ref.month:
            day -= dt.timedelta(days=7)
        return lx.fmt(day), "publication", None
    days = lx.day_numbers(ntext[w.end() :])
    if days:  # الخميس 21: the 21st nearest the reference among those that are Thursdays, if any
        d = days[0]
        best: dt.date | None = None
        for shift in (0, -1, 1):
            y, m = lx.add_months(ref.year, ref.month, shift)
            try:
                cand = dt.date(y, m, d)
            except ValueError:
                continue
            key = (cand.weekday() != wd, abs((cand - ref).days))
            if best is None or key < (best.weekday() != wd, abs((best - ref).days)):
                best = cand
        if best is None:
            raise ValueError(ntext)
        return lx.fmt(best), "publication", lx.weekday_check(ntext, best)
    week = re.search(r"(?:هذا\s+الاسبوع|الاسبوع\s+(" + lx.PERIOD_QUAL + "))", ntext)
    tail = ntext[w.end() :]
    if week is not None:
        q = week.group(1)
        shift = 0 if q is None or q in lx.THIS_QUAL else (-7 if q in lx.PAST_QUAL else 7)
        monday = ref - dt.timedelta(days=ref.weekday()) + dt.timedelta(days=shift)
        return lx.fmt(monday + dt.timedelta(days=wd)), "publication", None
    q = re.search(lx.QUAL, tail)
    diff = (ref.weekday() - wd) % 7
    if q is not None and q.group() in lx.NEXT_QUAL:
        ahead = (wd - ref.weekday()) % 7 or 7
        return lx.fmt(ref + dt.timedelta(days=ahead)), "publication", None
    if q is not None and q.group() in lx.PAST_QUAL:
        return lx.fmt(ref - dt.timedelta(days=diff or 7)), "publication", None
    # A weekday alone is the most recent such day, publication day included: news reports what
    # happened; a future verb before it (سيعقد الخميس) is handled by the caller's context.
    return lx.fmt(ref - dt.timedelta(days=diff)), "publication", None


def _resolve_rel_period(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    if ref is None:
        return None, "publication", None
    period = re.search(lx.PERIOD, ntext)
    if period is None:  # the pattern matched but its parts did not (glued digits)
        return None, "publication", None
    q = re.search(lx.PERIOD_QUAL, ntext[period.end() :])
    word = q.group() if q else ""
    sign = 2 if "بعد" in word else -1 if word in lx.PAST_QUAL else 1 if word in lx.NEXT_QUAL else 0
    unit = period.group()
    if unit == "الاسبوع":
        # A week has no calendar value of its own: the same weekday that many weeks away.
        return lx.fmt(ref + dt.timedelta(days=7 * sign)), "approximate", None
    if unit == "الشهر":
        y, m = lx.add_months(ref.year, ref.month, sign)
        return lx.ym(y, m), "publication", None
    return f"{ref.year + sign:04d}", "publication", None


def _resolve_part(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    ntext = re.sub(r"^عطله\s+", "", ntext)
    rest = re.sub(r"^" + lx.PART + r"\s+", "", ntext)
    if lx.MONTH_RE.search(rest):
        return _resolve_calendar(rest, ref, settings)
    if re.match(r"(?:(?:عام|العام|سنه)\s+)?\d{4}", rest):
        return _resolve_year(rest, ref, settings)
    value, anchor, warning = _resolve_rel_period(
        rest if re.search(lx.PERIOD_QUAL, rest) or "هذ" in rest else "هذا " + rest, ref, settings
    )
    if value is None or anchor != "approximate" or ref is None:
        return value, anchor, warning
    # Part of a week: Sunday, Tuesday or Thursday of that week (the Arab working week).
    where = lx.PARTS[ntext.split()[0]]
    base = dt.date.fromisoformat(value)
    sunday = base - dt.timedelta(days=(base.weekday() + 1) % 7)
    if where == "rest":
        return lx.fmt(ref), "approximate", None
    offset = {"start": 0, "mid": 2, "end": 4}[where]
    return lx.fmt(sunday + dt.timedelta(days=offset)), "approximate", None


def _resolve_count(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    if ref is None:
        return None, "approximate", None
    unit_m = re.search(rf"(?<!\w){lx.UNIT}(?!\w)", ntext)
    if unit_m is None:  # the pattern matched but its parts did not (glued digits)
        return None, "publication", None
    unit, n = lx.UNITS[unit_m.group()]
    count_m = re.search(rf"(?<!\w)({lx.COUNT})\s+{re.escape(unit_m.group())}", ntext)
    vague = False
    if count_m is not None:
        c = count_m.group(1)
        if c.isdigit():
            n = int(c)
        elif c in lx.COUNT_WORDS:
            n = lx.COUNT_WORDS[c]
        else:
            n, vague = settings.few, True
    elif n == 0:
        if unit in ("month", "year"):  # منذ سنوات: too vague to date
            return None, "approximate", None
        n, vague = settings.few, True
    sign = -1 if ntext.startswith(("قبل", "منذ")) else 1
    anchor = "approximate" if vague or unit in ("week", "hour", "minute") else "publication"
    if unit in ("hour", "minute"):  # the reference is a day: whole days only (بعد 48 ساعة)
        return lx.fmt(ref + dt.timedelta(days=sign * (n // 24 if unit == "hour" else 0))), anchor, None
    if unit in ("day", "week"):
        return lx.fmt(ref + dt.timedelta(days=sign * n * (7 if unit == "week" else 1))), anchor, None
    if unit == "month":
        y, m = lx.add_months(ref.year, ref.month, sign * n)
        return lx.ym(y, m), anchor, None
    return f"{ref.year + sign * n:04d}", anchor, None


def _resolve_season(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    """A season is dated by the year it starts in (winter starts in December)."""
    name = re.search(lx.alt(list(lx.SEASONS)), ntext)
    if name is None:  # the pattern matched but its parts did not (glued digits)
        return None, "publication", None
    start = lx.SEASONS[name.group()]
    year, explicit = lx.year_info(ntext, ref)
    if year is not None:
        return f"{year:04d}", "absolute" if explicit else "publication", None
    if ref is None:
        return None, "publication", None
    q = re.search(lx.QUAL, ntext[name.end() :])
    qual = (
        None if q is None else "past" if q.group() in lx.PAST_QUAL else "next" if q.group() in lx.NEXT_QUAL else "this"
    )
    return f"{lx.month_year(start, qual or 'this', ref):04d}", "publication", None


def _resolve_quarter(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    """A half or quarter of a year is dated at year granularity (the value has no finer unit)."""
    year, explicit = lx.year_info(ntext, ref)
    if year is None:
        if ref is None:
            return None, "publication", None
        q = re.search(lx.PERIOD_QUAL, ntext)
        word = q.group() if q else ""
        year = ref.year + (-1 if word in lx.PAST_QUAL else 1 if word in lx.NEXT_QUAL else 0)
    return f"{year:04d}", "absolute" if explicit else "publication", None


def _resolve_numeric_day(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    return (_resolve_weekday("الاحد " + ntext.split()[-1], ref, settings)[0], "publication", None)


def _resolve_holiday(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    """A holiday in a given year, or its occurrence the qualifier or the reference points to."""
    name = re.search(lx.HOLIDAY, ntext)
    if name is None:  # the pattern matched but its parts did not (glued digits)
        return None, "publication", None
    spec = lx.HOLIDAYS[lx.squash(name.group())]
    year = lx.YEAR_RE.search(ntext)
    if year is not None:
        return lx.fmt(lx.holiday_date(spec, int(year.group(1)))), "absolute", None
    if ref is None:
        return None, "publication", None
    days = lx.holiday_occurrences(spec, ref)
    q = re.search(lx.QUAL, ntext[name.end() :])
    if q is not None and q.group() in lx.PAST_QUAL:
        day = max(d for d in days if d < ref)
    elif q is not None and q.group() in lx.NEXT_QUAL:
        day = min(d for d in days if d > ref)
    else:  # the nearest occurrence, leaning to the past as for 15 يونيو (future_window_days)
        ahead = settings.future_window_days
        window = [d for d in days if ahead - 365 <= (d - ref).days <= ahead]
        day = min(window or days, key=lambda d: abs((d - ref).days))
    return lx.fmt(day), "publication", None


def _resolve_week_of(ntext: str, ref: dt.date | None, settings: TimelineSettings) -> Resolved:
    """أسبوع 30 نوفمبر: a week has no value of its own; the day that names it, approximately."""
    value, _, warning = _resolve_calendar(re.sub(r"^(?:ال)?اسبوع\s+", "", ntext), ref, settings)
    return value, "approximate", warning


_RESOLVERS: dict[str, Callable[[str, dt.date | None, TimelineSettings], Resolved]] = {
    "numeric": _resolve_numeric,
    "numeric_short": _resolve_numeric_short,
    "month_year_numeric": _resolve_month_year_numeric,
    "range": _resolve_calendar,
    "range_after": _resolve_calendar,
    "day_month": _resolve_calendar,
    "day_rel_month": _resolve_calendar,
    "month_day": _resolve_calendar,
    "month": _resolve_calendar,
    "hijri": _resolve_hijri,
    "part": _resolve_part,
    "year": _resolve_year,
    "bare_year": _resolve_year,
    "rel_day": _resolve_rel_day,
    "weekday": _resolve_weekday,
    "week_weekday": _resolve_weekday,
    "rel_period": _resolve_rel_period,
    "count": _resolve_count,
    "numeric_day": _resolve_numeric_day,
    "season": _resolve_season,
    "quarter": _resolve_quarter,
    "holiday": _resolve_holiday,
    "week_of": _resolve_week_of,
}


# ---------------------------------------------------------------------------------------------
# Articles


def publication_date(article: Article) -> dt.date | None:
    """The publication day in the article's own time zone, or None when missing or unreadable."""
    if not article.published:
        return None
    try:
        return dt.datetime.fromisoformat(article.published.replace("Z", "+00:00")).date()
    except ValueError:
        try:
            return dt.date.fromisoformat(article.published[:10])
        except ValueError:
            return None


def find_dates(article: Article, settings: TimelineSettings = DEFAULT_SETTINGS) -> list[TimeRef]:
    """Resolved temporal expressions in the article's title and body blocks, in text order.

    Expressions that cannot be resolved (a relative one without a publication date, "اليوم
    التالي" whose anchor is another event) are left out.
    """
    ref = publication_date(article)
    refs: list[TimeRef] = []
    for block in article.blocks:
        if block.kind not in ("title", "body"):
            continue
        for x in extract(article.text, ref, block.start, block.end, settings):
            if x.value is not None:
                refs.append(TimeRef(article.id, x.text, (x.start, x.end), x.value, x.anchor, x.warning))
    return refs


def _future_weekday(ntext: str, before: str, ref: dt.date) -> str | None:
    """A bare weekday after a future verb (سيعقد الخميس) is the next such day, not the last."""
    if not lx.BARE_WEEKDAY.fullmatch(ntext):
        return None
    if not any(lx.FUTURE_CUE.fullmatch(w) for w in before.split()[-5:]):
        return None
    wd = lx.WEEKDAYS[lx.WEEKDAY_RE.search(ntext).group(1)]  # type: ignore[union-attr]
    return lx.fmt(ref + dt.timedelta(days=(wd - ref.weekday()) % 7))


# ---------------------------------------------------------------------------------------------
# Events and timelines


def event_date(articles: Sequence[Article], refs: Sequence[TimeRef]) -> tuple[str | None, str]:
    """The event's day and the evidence for it.

    The most common day-level reference in the event's articles on or before the earliest
    publication day (what the reports say happened), else the earliest publication day itself.
    """
    ids = {a.id for a in articles}
    pubs = sorted(d for d in (publication_date(a) for a in articles) if d is not None)
    first = pubs[0] if pubs else None
    days = Counter(
        r.value
        for r in refs
        if r.article in ids
        and len(r.value) == 10
        and r.anchor != "approximate"
        and (first is None or r.value <= first.isoformat())
    )
    if days:
        value, count = max(days.items(), key=lambda kv: (kv[1], kv[0]))
        return value, f"{count} reference(s) in the articles name {value}"
    if first is not None:
        return first.isoformat(), "earliest publication date"
    return None, "no dated reference and no publication date"


class SentenceSpans(ArticleMemo[list[tuple[int, int]]]):
    """Sentence spans of the title and body blocks of articles, each split once while it stays
    among the last ``size`` asked about."""

    def __init__(self, size: int = 2000) -> None:
        super().__init__(_sentence_spans, size)


def _sentence_spans(article: Article) -> list[tuple[int, int]]:
    return [s for b in article.blocks if b.kind in ("title", "body") for s in sentences(article.text, b.start, b.end)]


def story_timeline(
    articles: Sequence[Article],
    refs: Sequence[TimeRef],
    settings: TimelineSettings = DEFAULT_SETTINGS,
    spans: SentenceSpans | None = None,
) -> list[TimelineEntry]:
    """Dated sentences of a story, earliest first, one per date and sentence across outlets.

    ``spans`` keeps each article's sentences for the next call; the timeline is the same."""
    by_id = {a.id: a for a in articles}
    pubs = sorted(d for d in (publication_date(a) for a in articles) if d is not None)
    first = pubs[0] if pubs else None
    cutoff = None
    if first is not None:
        y, m = lx.add_months(first.year, first.month, -settings.background_months)
        cutoff = f"{y:04d}-{m:02d}"
    seen: set[tuple[str, str]] = set()
    entries: list[TimelineEntry] = []
    spans_cache: dict[str, list[tuple[int, int]]] = {}
    for r in sorted(refs, key=lambda r: (r.value, r.article, r.span)):
        art = by_id.get(r.article)
        if art is None:
            continue
        if art.id not in spans_cache:
            spans_cache[art.id] = spans.get(art) if spans is not None else _sentence_spans(art)
        sent = next(((s, e) for s, e in spans_cache[art.id] if s <= r.span[0] < e), r.span)
        text = art.text[sent[0] : sent[1]]
        key = (r.value, normalize(text))
        if key in seen:
            continue
        seen.add(key)
        background = cutoff is not None and r.value[:7] < cutoff
        entries.append(TimelineEntry(r.value, text, r.article, background))
    return entries
