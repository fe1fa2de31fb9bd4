"""Lexicons, regular patterns and the Hijri calendar table behind ``rasd.timeline``.

Everything here is data or built from data at import time: the month, weekday, ordinal and unit
lexicons (all in the normalised spelling of ``rasd.textnorm.normalize``: ا for أإآ, ي for ى,
ه for ة, ASCII digits), the regular patterns that find temporal expressions, the trigger words
of the cheap prefilter that decides where the patterns run, and the Umm al-Qura table with the
Hijri/Gregorian conversions; also the scanning helpers built on them (the normalised view of a
text with its way back to the original offsets, and the prefilter windows). The resolution logic
lives in ``rasd.timeline``.
"""

from __future__ import annotations

import datetime as dt
import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from functools import lru_cache

from rasd.textnorm import normalize

# ---------------------------------------------------------------------------------------------
# Lexicon (all in normalised spelling: ا for أإآ, ي for ى, ه for ة)

# fmt: off

GREG_MONTHS = {
    "يناير": 1, "جانفي": 1, "فبراير": 2, "فيفري": 2, "مارس": 3, "ابريل": 4, "افريل": 4, "مايو": 5, "ماي": 5,
    "يونيو": 6, "يونيه": 6, "جوان": 6, "يوليو": 7, "يوليه": 7, "جويليه": 7, "اغسطس": 8, "اوت": 8, "غشت": 8,
    "سبتمبر": 9, "شتنبر": 9, "اكتوبر": 10, "نوفمبر": 11, "نونبر": 11, "ديسمبر": 12, "دجنبر": 12,
    "كانون الثاني": 1, "كانون ثاني": 1, "شباط": 2, "اذار": 3, "نيسان": 4, "ايار": 5, "حزيران": 6, "تموز": 7,
    "اب": 8, "ايلول": 9, "تشرين الاول": 10, "تشرين اول": 10, "تشرين الثاني": 11, "تشرين ثاني": 11,
    "كانون الاول": 12, "كانون اول": 12,
}
# Month names that are also common words (مارس "he practised", آب/أب "father", ماي): alone
# they are dates only with a day, a year, a qualifier, a pair or the word شهر beside them.
WEAK_MONTHS = {"مارس", "اب", "ماي", "اوت"}
HIJRI_MONTHS = {
    "محرم": 1, "صفر": 2, "ربيع الاول": 3, "ربيع الاخر": 4, "ربيع الثاني": 4, "جمادي الاولي": 5,
    "جمادي الاول": 5, "جمادي الاخره": 6, "جمادي الاخر": 6, "جمادي الثانيه": 6, "جمادي الثاني": 6, "رجب": 7,
    "شعبان": 8, "رمضان": 9, "شوال": 10, "ذو القعده": 11, "ذي القعده": 11, "ذو الحجه": 12, "ذي الحجه": 12,
}
# Hijri month names double as personal names (رمضان، شعبان، رجب) and صفر is "zero".
WEAK_HIJRI = {"صفر", "رجب", "شعبان", "رمضان", "محرم", "شوال"}
WEEKDAYS = {  # Python weekday(): Monday 0
    "الاثنين": 0, "الثلاثاء": 1, "الاربعاء": 2, "الخميس": 3, "الجمعه": 4, "السبت": 5, "الاحد": 6,
}
WEEKDAY_NAMES_AR = ["الاثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"]

_ORD_UNITS = {
    1: ("الاول", "الحادي", "الاولي", "الحاديه"), 2: ("الثاني", "الثانيه"), 3: ("الثالث", "الثالثه"),
    4: ("الرابع", "الرابعه"), 5: ("الخامس", "الخامسه"), 6: ("السادس", "السادسه"), 7: ("السابع", "السابعه"),
    8: ("الثامن", "الثامنه"), 9: ("التاسع", "التاسعه"),
}
_CARD_UNITS = {
    1: ("واحد", "واحده"), 2: ("اثنين", "اثنان", "اثنتين"), 3: ("ثلاث", "ثلاثه"), 4: ("اربع", "اربعه"),
    5: ("خمس", "خمسه"), 6: ("ست", "سته"), 7: ("سبع", "سبعه"), 8: ("ثماني", "ثمانيه", "ثمان"),
    9: ("تسع", "تسعه"), 10: ("عشر", "عشره"),
}


def _ordinal_words() -> dict[str, int]:
    words: dict[str, int] = {}
    for n, forms in _ORD_UNITS.items():
        for f in forms:
            if not f.startswith("الحادي"):
                words[f] = n
            teen = 10 + n
            words[f"{f} عشر"] = teen
            words[f"{f} عشره"] = teen
            for tens, name in ((20, "العشرين"), (30, "الثلاثين")):
                if tens + n <= 31:
                    words[f"{f} و{name}"] = tens + n
                    words[f"{f} و {name}"] = tens + n
    for n in range(3, 10):  # الخمسه عشر: cardinal with the article, as some writers date
        for f in _CARD_UNITS[n]:
            words[f"ال{f} عشر"] = 10 + n
    words.update({"العاشر": 10, "العاشره": 10, "العشرين": 20, "الثلاثين": 30})
    words.pop("الاول عشر", None)
    words.pop("الاولي عشر", None)
    return words


ORDINALS = _ordinal_words()
COUNT_WORDS = {f: n for n, forms in _CARD_UNITS.items() for f in forms}
UNITS = {
    "يوم": ("day", 1), "يوما": ("day", 1), "يومين": ("day", 2), "يومان": ("day", 2), "ايام": ("day", 0),
    "اسبوع": ("week", 1), "اسبوعا": ("week", 1), "اسبوعين": ("week", 2), "اسبوعان": ("week", 2),
    "اسابيع": ("week", 0), "شهر": ("month", 1), "شهرا": ("month", 1), "شهرين": ("month", 2),
    "شهران": ("month", 2), "اشهر": ("month", 0), "شهور": ("month", 0), "عام": ("year", 1),
    "عاما": ("year", 1), "عامين": ("year", 2), "عامان": ("year", 2), "اعوام": ("year", 0),
    "سنه": ("year", 1), "سنتين": ("year", 2), "سنتان": ("year", 2), "سنوات": ("year", 0),
    "سنين": ("year", 0), "ساعه": ("hour", 1), "ساعتين": ("hour", 2), "ساعتان": ("hour", 2),
    "ساعات": ("hour", 0), "دقيقه": ("minute", 1), "دقيقتين": ("minute", 2), "دقيقتان": ("minute", 2),
    "دقائق": ("minute", 0),
}
PAST_QUAL = ("الماضي", "الماضيه", "المنصرم", "المنصرمه", "الفائت", "الفائته", "المنقضي", "السابق")
NEXT_QUAL = ("المقبل", "المقبله", "القادم", "القادمه", "التالي")
THIS_QUAL = ("الجاري", "الجاريه", "الحالي", "الحاليه")
PARTS = {  # part of a period -> where in it (used only to pick the day for week-level parts)
    "مطلع": "start", "بدايه": "start", "أوائل": "start", "مستهل": "start", "اول": "start", "منتصف": "mid",
    "أواسط": "mid", "أواخر": "end", "نهايه": "end", "اخر": "end", "ختام": "end", "بقيه": "rest",
    "باقي": "rest",
}
DECADES = ("عشرين", "ثلاثين", "اربعين", "خمسين", "ستين", "سبعين", "ثمانين", "تسعين")
SEASONS = {"الربيع": 3, "ربيع": 3, "الصيف": 6, "صيف": 6, "الخريف": 9, "خريف": 9, "الشتاء": 12, "شتاء": 12}
# Holidays: (0, month, day) Gregorian | (1, month, day) Hijri | (2, month, weekday, n) the nth
# weekday of a Gregorian month (Python weekday, Monday 0). Only holidays with one date across the
# Arab world: national days differ by country and Easter by church, so they are left out.
HOLIDAYS: dict[str, tuple[int, ...]] = {
    "عيد الميلاد": (0, 12, 25), "عيد الميلاد المجيد": (0, 12, 25), "راس السنه": (0, 1, 1),
    "راس السنه الميلاديه": (0, 1, 1), "راس السنه الجديده": (0, 1, 1),
    "ليله راس السنه": (0, 12, 31), "ليله راس السنه الميلاديه": (0, 12, 31),
    "ليله راس السنه الجديده": (0, 12, 31), "عيد العمال": (0, 5, 1), "عيد الحب": (0, 2, 14),
    "عيد الام": (0, 3, 21), "عيد الشكر": (2, 11, 3, 4), "يوم الشكر": (2, 11, 3, 4),
    "عيد الفطر": (1, 10, 1), "عيد الاضحي": (1, 12, 10), "يوم عرفه": (1, 12, 9),
    "راس السنه الهجريه": (1, 1, 1), "المولد النبوي": (1, 3, 12), "يوم عاشوراء": (1, 1, 10),
}
HALVES = r"(?:النصف|الربع)\s+(?:الاول|الثاني|الثالث|الرابع|الاخير)"


def _norm_keys(table: dict[str, int]) -> dict[str, int]:
    """Lexicon keys in the matching spelling (أوائل -> اواءل), whatever way they were typed."""
    return {normalize(k): v for k, v in table.items()}


GREG_MONTHS = _norm_keys(GREG_MONTHS)
HOLIDAYS = {normalize(k): v for k, v in HOLIDAYS.items()}
UNITS = {normalize(k): v for k, v in UNITS.items()}  # دقائق -> دقاءق
HIJRI_MONTHS = _norm_keys(HIJRI_MONTHS)
PARTS = {normalize(k): v for k, v in PARTS.items()}


def alt(words: Sequence[str]) -> str:
    """A regex alternation, longest first, with any single space matching any whitespace."""
    return (
        "(?:"
        + "|".join(re.escape(w).replace(r"\ ", r"\s+") for w in sorted(words, key=len, reverse=True))
        + ")"
    )


MONTH = alt(list(GREG_MONTHS))
HMONTH = alt(list(HIJRI_MONTHS))
WEEKDAY = alt(list(WEEKDAYS))
ORD = alt(list(ORDINALS))
NTH = r"(?:الاول|الثاني|الثالث|الرابع|الخامس|الاخير)"
QUAL = alt(PAST_QUAL + NEXT_QUAL + THIS_QUAL)
DAYNUM = r"(?:[012]?\d|3[01])(?!\d|[.,/]\d)"
DAY = rf"(?:{DAYNUM}|{ORD}|اول)"
YEAR4 = r"\d{4}(?!\d)"
# A month with its optional twin from another series: يونيو/حزيران، يونيو (حزيران)
MONTHX = rf"{MONTH}(?:\s*[/\\-]\s*{MONTH}|\s*\(\s*{MONTH}\s*\))?"
REL_YEAR = (
    r"(?:هذا\s+العام|هذه\s+السنه|العام\s+(?:الماضي|المنصرم|الفائت|المقبل|القادم|الجاري|الحالي)"
    r"|السنه\s+(?:الماضيه|المنصرمه|المقبله|القادمه|الجاريه|الحاليه))"
)
YEARQ = (
    rf"(?:\s*[,،]?\s*(?:من\s+)?(?:عام|العام|سنه|لعام)?\s*{YEAR4}(?:\s*م(?!\w))?"
    rf"|\s+(?:من\s+)?{REL_YEAR})"
)
MONTH_FULL = rf"(?:شهر\s+)?{MONTHX}(?:\s+{QUAL})?(?:{YEARQ})?"
HIJRI_SUFFIX = r"(?:\s*(?:ه|هـ|هجري|هجريه|للهجره)(?!\w))"
COUNT = rf"(?:\d{{1,3}}|{alt(list(COUNT_WORDS))}|عده|بضعه|بضع)"
UNIT = alt(list(UNITS))
PART = alt(list(PARTS))
PERIOD = r"(?:الاسبوع|الشهر|العام|السنه)"
PERIOD_QUAL = alt((*PAST_QUAL, *NEXT_QUAL, *THIS_QUAL, "بعد القادم", "بعد المقبل"))
HOLIDAY = alt(list(HOLIDAYS))
TRIGGER = r"(?:في|يوم|بتاريخ|عند|حتي|منذ|الي)"

# Every pattern captures the expression in group "e"; a proclitic (و، ف، ب، ل، ك) before it
# stays outside the span, as in the reference annotations (بالأمس -> الأمس).
PRE = r"(?<!\w)(?:[وف]?[بلك]?)"
END = r"(?!\w)"

PATTERNS: list[tuple[str, str]] = [
    (
        "numeric",
        rf"{PRE}(?P<e>\d{{4}}[-/.]\d{{1,2}}[-/.]\d{{1,2}}|\d{{1,2}}[-/.]\d{{1,2}}[-/.](?:\d{{4}}|\d{{2}})"
        rf"|\d{{1,2}}/\d{{1,2}}\s*,\s*(?:\d{{4}}|\d{{2}})|\d{{4}}[.]\s*{MONTH}\s*[.]\d{{1,2}})(?![\d/-])",
    ),
    # Day/month without a year only after a word that announces a date: alone, 3-1 is a score and
    # 3.2 a decimal.
    ("numeric_short", rf"(?<!\w){TRIGGER}\s+(?P<e>\d{{1,2}}[-/]\d{{1,2}})(?![\d/.-]|\s*%)"),
    (
        "month_year_numeric",
        r"(?<!\w)(?P<e>(?:0?[1-9]|1[0-2])[-/]\d{4}|\d{4}[-/.](?:0?[1-9]|1[0-2]))(?![\d/.-])",
    ),
    (
        "range",
        rf"{PRE}(?P<e>(?:(?:من|بين)\s+)?{DAY}(?:\s+(?:من\s+)?{MONTHX})?(?:{YEARQ})?"
        rf"\s*(?:الي|حتي|و|-)\s*{DAY}\s*(?:من\s+)?(?:{MONTH_FULL}"
        rf"|(?:من\s+|في\s+)?(?:هذا\s+الشهر|الشهر\s+{PERIOD_QUAL})))",
    ),
    ("range_after", rf"{PRE}(?P<e>(?:شهر\s+)?{MONTHX}\s+بين\s+{DAY}\s*و\s*{DAY})"),
    (
        "day_month",
        rf"{PRE}(?P<e>(?:(?:(?:اليوم|امس|غدا)\s+)?{WEEKDAY}\s*[,،]?\s*|(?:اليوم|امس|غدا)\s*[,،]?\s*)?{DAY}"
        rf"\s*(?:-\s*|\s+(?:من\s+)?)"
        rf"{MONTH_FULL})",
    ),
    ("day_rel_month", rf"{PRE}(?P<e>{DAY}\s+(?:من\s+)?(?:هذا\s+الشهر|الشهر\s+{PERIOD_QUAL}))"),
    (
        "month_day",
        rf"{PRE}(?P<e>(?:{WEEKDAY}\s*[,،]?\s*)?(?:شهر\s+)?{MONTHX}\s+(?:{ORD}|{DAYNUM}(?!\s*\d))"
        rf"(?:\s*[,،]?\s*{YEAR4})?)",
    ),
    (
        "hijri",
        rf"{PRE}(?P<e>(?:{DAY}\s+(?:من\s+)?)?(?:شهر\s+)?{HMONTH}"
        rf"(?:\s+(?:من\s+)?(?:عام|العام|سنه)?\s*{YEAR4}{HIJRI_SUFFIX}?|\s+{QUAL})?)",
    ),
    (
        "part",
        rf"{PRE}(?P<e>(?:عطله\s+)?{PART}\s+(?:{MONTH_FULL}|(?:هذا\s+)?{PERIOD}(?:\s+{PERIOD_QUAL})?"
        rf"|(?:عام|العام|سنه)\s+{YEAR4}|{YEAR4}))",
    ),
    ("month", rf"{PRE}(?P<e>(?:هذا\s+(?:الشهر\s+|شهر\s+)?)?{MONTH_FULL})"),
    (
        "year",
        rf"{PRE}(?P<e>(?:(?:عام|العام|سنه|السنه|لعام)\s+){YEAR4}(?:\s*م(?!\w)|{HIJRI_SUFFIX})?"
        rf"|{YEAR4}\s*(?:م|ميلاديه|ميلادي)(?!\w)|{YEAR4}{HIJRI_SUFFIX})",
    ),
    ("bare_year", rf"(?<![\w/.,-])(?P<e>{YEAR4})(?![\w/.-]|,\d|\s*(?:%|\$))"),
    (
        "rel_day",
        rf"{PRE}(?P<e>(?:(?:اول\s+(?:من\s+)?|قبل\s+(?:يوم\s+)?)?(?:امس|الامس|البارحه)"
        rf"|اليوم(?!\s+(?:التالي|الاتي|السابق))|غدا|غد|الغد|بعد\s+(?:غد|الغد))"
        rf"(?:\s*[,،]?\s*(?:يوم\s+)?{WEEKDAY})?|هذا\s+(?:الصباح|المساء)|(?:هذه\s+)?الليله(?:\s+الماضيه)?)",
    ),
    ("next_day", rf"{PRE}(?P<e>اليوم\s+(?:التالي|الاتي|السابق))"),
    # الأحد الثاني is the second Sunday (of the month); an ordinal past the fifth cannot be that.
    (
        "weekday",
        rf"{PRE}(?P<e>{WEEKDAY}"
        rf"(?:\s*[,،]?\s*(?:في\s+)?{DAYNUM}(?!\s*\d)|\s+في\s+{ORD}|\s+{NTH})?"
        rf"(?:\s+(?:من\s+)?(?:هذا\s+الاسبوع|الاسبوع\s+{PERIOD_QUAL}))?(?:\s+{QUAL})?)",
    ),
    ("week_weekday", rf"{PRE}(?P<e>(?:هذا\s+الاسبوع|الاسبوع\s+{PERIOD_QUAL})\s+(?:يوم\s+)?{WEEKDAY})"),
    ("rel_period", rf"{PRE}(?P<e>(?:هذا|هذه)\s+{PERIOD}|{PERIOD}\s+{PERIOD_QUAL})"),
    # "بعد يومين من الاجتماع" counts from the meeting, not from publication: not matched.
    (
        "count",
        rf"{PRE}(?P<e>(?:(?:قبل|منذ|بعد|خلال|في\s+غضون)\s+(?:{COUNT}\s+)?|في\s+{COUNT}\s+){UNIT}"
        rf"(?:\s+(?:من\s+الان|في\s+المستقبل|مضت|مضي|الماضيه|الاخيره|القادمه|المقبله))?)"
        rf"(?!\s+من\s+(?!الان))",
    ),
    (
        "vague_period",
        rf"{PRE}(?P<e>(?:في\s+)?(?:(?:الايام|الاسابيع|الاشهر|الشهور|السنوات|الاعوام)\s+"
        rf"(?:القليله\s+|العديده\s+|الاخيره\s+)?(?:(?:ال)?{COUNT}\s+)?|{COUNT}\s+{UNIT}\s+)"
        rf"(?:الماضيه|المقبله|القادمه|الاخيره)|اخر\s+{COUNT}\s+{UNIT})",
    ),
    (
        "season",
        rf"{PRE}(?P<e>(?:هذا\s+)?{alt(list(SEASONS))}(?:\s+{QUAL}|\s+(?:(?:من\s+)?(?:عام|العام)\s+)?"
        rf"{YEAR4}|\s+{REL_YEAR})|هذا\s+{alt(list(SEASONS))})",
    ),
    (
        "quarter",
        rf"{PRE}(?P<e>{HALVES}\s+(?:من\s+)?(?:(?:عام|العام|سنه)\s+{YEAR4}|{YEAR4}|{REL_YEAR}"
        rf"|(?:هذا\s+)?(?:العام|السنه)(?:\s+{PERIOD_QUAL})?)|{YEAR4}\s+{HALVES})",
    ),
    (
        "decade",
        rf"{PRE}(?P<e>(?:ال)?{alt(DECADES)}يات"
        rf"(?:\s+(?:من\s+)?القرن\s+(?:الماضي|العشرين|التاسع\s+عشر))?)",
    ),
    ("numeric_day", rf"(?<!\w)(?P<e>يوم\s+{DAYNUM})(?!\s*\w)"),
    (
        "holiday",
        rf"{PRE}(?P<e>(?:يوم\s+)?{HOLIDAY}(?:\s+(?:المبارك|السعيد))?(?:\s+{QUAL}"
        rf"|\s+(?:من\s+)?(?:(?:عام|العام|سنه|لعام)\s+)?{YEAR4}(?:{HIJRI_SUFFIX}|\s*م(?!\w))?)?)",
    ),
    # أسبوع 30 نوفمبر: the week around a day, dated approximately by that day.
    ("week_of", rf"{PRE}(?P<e>(?:ال)?اسبوع\s+(?:{DAY}\s+(?:من\s+)?{MONTH_FULL}|{MONTHX}\s+{DAYNUM}))"),
]
# Every expression ends at a word boundary (else "اب" would match the start of "ابو").
COMPILED = [(kind, re.compile(p + r"(?!\w)")) for kind, p in PATTERNS]
MONTH_RE = re.compile(rf"(?<!\w){MONTH}(?!\w)")
HMONTH_RE = re.compile(rf"(?<!\w){HMONTH}(?!\w)")
WEEKDAY_RE = re.compile(rf"(?<!\w)[وفبل]?({WEEKDAY})(?![^\W\d_])")  # digits may follow: الاربعاء20
ORD_RE = re.compile(rf"(?<!\w)(?:[وفبل]|لل)?({ORD})(?!\w)")
YEAR_RE = re.compile(r"(?<!\d)(\d{4})(?!\d)")
DAYNUM_RE = re.compile(r"(?<![\d/.-])(\d{1,2})(?![\d/.])")
REL_YEAR_RE = re.compile(REL_YEAR)
UNIT_WORDS_AFTER = re.compile(
    r"\s*(?:ريال|دولار|يورو|جنيه|درهم|دينار|ليره|شخص|طن|متر|كيلو|الف|مليون|مليار|برميل|سهم|نسمه|مواطن|حاله|"
    r"وحده|طالب|موظف|عامل|مشروع|سياره|منزل|%|\$)"
)

# Future markers: سوف, "scheduled" words, and the future prefix س on an imperfect verb
# (سيعقد، ستبدأ، سنعلن), with an optional و/ف in front.
BARE_WEEKDAY = re.compile(WEEKDAY)
FUTURE_CUE = re.compile(r"[وف]?(?:سوف|المقرر|المزمع|المنتظر|يعتزم|تعتزم|س[يتن]\w{2,})")

# Words after which a bare weak month or Hijri month name (مارس، رمضان) is a date.
AFTER_IN = re.compile(r"(?<!\w)(?:في|خلال|شهر|منذ|حتي|مطلع|منتصف|نهايه|بدايه)\s+$")
# What joins the two ends of a range: X حتى Y, X إلى Y, X - Y, بين X و Y.
RANGE_JOIN = re.compile(r"\s*(?:حتي|الي|لغايه|-|و)\s*")

# fmt: on


# ---------------------------------------------------------------------------------------------
# Prefilter: where the patterns can match
#
# Every match of a pattern holds at least one trigger of a category listed for it below: a digit
# group that can be part of a date (four digits, or digits around - / .), or a trigger word at a
# word start (after up to two proclitics). The patterns therefore run only in windows around
# triggers, each window with just the patterns its triggers can start; on SaudiNewsNet this skips
# most of the text and most of the patterns (docs/timeline.md, Speed).

# How far a match can reach from the trigger inside it, in normalised characters. The longest
# expressions (ranges such as "من الحادي والعشرين الى الثامن والعشرين من شهر يونيو/حزيران") hold
# their trigger within about 55 characters of either end; the patterns' look-aheads need a few more.
TRIGGER_REACH = 64

_TRIGGER_WORDS: dict[str, str] = {}
for _cat, _words in (
    ("month", [k.split()[0] for k in GREG_MONTHS]),
    # Multi-word Hijri months by their distinctive word (ذو/ذي alone are common words).
    ("hijri", [k.split()[-1] if k.startswith(("ذو", "ذي")) else k.split()[0] for k in HIJRI_MONTHS]),
    ("weekday", list(WEEKDAYS)),
    ("rel_day", ["امس", "الامس", "البارحه", "اليوم", "غدا", "غد", "الغد", "الليله", "الصباح", "المساء"]),
    ("holiday", ["عيد", "راس", "عرفه", "الشكر", "المولد", "عاشوراء"]),
    ("period", ["الاسبوع", "الشهر", "العام", "السنه"]),
    ("unit", [*UNITS, "الايام", "الاسابيع", "الاشهر", "الشهور", "السنوات", "الاعوام"]),
    ("season", list(SEASONS)),
    ("decade", [f"{pre}{d}يات" for d in DECADES for pre in ("", "ال")]),
):
    for _w in _words:
        _TRIGGER_WORDS[_w] = _TRIGGER_WORDS.get(_w, "") + " " + _cat
TRIGGER_CATEGORIES: dict[str, frozenset[str]] = {w: frozenset(c.split()) for w, c in _TRIGGER_WORDS.items()}

# The trigger categories whose presence lets each pattern match (derived from the patterns above:
# e.g. "part" needs a month, a period word or a four-digit year after its part word).
PATTERN_TRIGGERS: dict[str, frozenset[str]] = {
    kind: frozenset(cats.split())
    for kind, cats in {
        "numeric": "digits",
        "numeric_short": "digits",
        "month_year_numeric": "digits",
        "range": "month period",
        "range_after": "month",
        "day_month": "month",
        "day_rel_month": "period",
        "month_day": "month",
        "hijri": "hijri",
        "part": "month period digits",
        "month": "month",
        "year": "digits",
        "bare_year": "digits",
        "rel_day": "rel_day",
        "next_day": "rel_day",
        "weekday": "weekday",
        "week_weekday": "weekday",
        "rel_period": "period",
        "count": "unit",
        "vague_period": "unit",
        "season": "season",
        "quarter": "digits period",
        "decade": "decade",
        "numeric_day": "unit",
        "holiday": "holiday",
        "week_of": "month",
    }.items()
}


def trie_alt(words: Sequence[str]) -> str:
    """A regex alternation factored as a trie: one character test per step instead of one
    test per word, which keeps a scan over every word start cheap."""
    trie: dict[str, dict] = {}
    for w in words:
        node = trie
        for ch in w:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict[str, dict]) -> str:
        branches = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        if "" in node:  # a word may end here
            return "(?:" + body + ")?"
        return body

    return emit(trie)


# Characters that normalise to themselves, among those news text is mostly made of (ASCII and
# the Arabic block): every other character is looked up.
_STABLE = "".join(
    c for c in map(chr, (*range(0x20, 0x7F), *range(0x600, 0x700))) if normalize(c) == c and not c.isspace()
)
UNSTABLE_CHAR_RE = re.compile("[^" + re.escape(_STABLE) + " ]")
DIGIT_TRIGGER_RE = re.compile(r"\d(?:\d\d\d|[-/.]\d)")
WORD_TRIGGER_RE = re.compile(rf"[^\w][وفبلك]{{0,2}}(?P<word>{trie_alt(list(TRIGGER_CATEGORIES))})(?![^\W\d_])")


# ---------------------------------------------------------------------------------------------
# Reading the parts of a matched expression (day numbers, years, qualifiers) and calendar steps


def squash(s: str) -> str:
    return re.sub(r"\s+", " ", s).strip()


def fmt(d: dt.date) -> str:
    return d.isoformat()


def ym(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}"


def add_months(y: int, m: int, n: int) -> tuple[int, int]:
    k = y * 12 + (m - 1) + n
    return k // 12, k % 12 + 1


def first_month(ntext: str) -> tuple[int, str] | None:
    m = MONTH_RE.search(ntext)
    if m is None:
        return None
    return GREG_MONTHS[squash(m.group())], squash(m.group())


def day_numbers(ntext: str) -> list[int]:
    """Day numbers written as digits or ordinal words, in order, outside four-digit years."""
    found: list[tuple[int, int]] = []
    # "اول" alone (أول يناير) is day one only when a month follows.
    for m in re.finditer(r"(?<!\w)اول(?=\s+(?:من\s+)?" + MONTH + ")", ntext):
        found.append((m.start(), 1))
    # Month names hold ordinals of their own (تشرين الأول، جمادى الثانية): blank them out first.
    ntext = MONTH_RE.sub(lambda m: " " * len(m.group()), ntext)
    ntext = HMONTH_RE.sub(lambda m: " " * len(m.group()), ntext)
    for m in DAYNUM_RE.finditer(ntext):
        found.append((m.start(), int(m.group(1))))
    for m in ORD_RE.finditer(ntext):
        found.append((m.start(), ORDINALS[squash(m.group(1))]))
    found.sort()
    return [d for _, d in found if 1 <= d <= 31]


def year_info(ntext: str, ref: dt.date | None) -> tuple[int | None, bool]:
    """The year written in the expression (4 digits or العام الماضي...); bool: explicit digits."""
    m = YEAR_RE.search(ntext)
    if m:
        return int(m.group(1)), True
    r = REL_YEAR_RE.search(ntext)
    if r and ref is not None:
        word = r.group()
        if any(q in word for q in ("الماضي", "المنصرم", "الفائت")):
            return ref.year - 1, False
        if any(q in word for q in ("المقبل", "القادم")):
            return ref.year + 1, False
        return ref.year, False
    return None, False


def month_qualifier(ntext: str, month_name: str) -> str | None:
    """past/next/this when a qualifier follows the month (and no year phrase claims it)."""
    after = ntext[ntext.find(month_name) + len(month_name) :] if month_name in ntext else ntext
    after = re.sub(r"^\s*[/\\-]\s*" + MONTH + r"|^\s*\(\s*" + MONTH + r"\s*\)", "", after)
    m = re.match(r"\s+(" + QUAL + r")", after)
    if not m:
        return None
    q = m.group(1)
    return "past" if q in PAST_QUAL else "next" if q in NEXT_QUAL else "this"


def month_year(month: int, qual: str | None, ref: dt.date) -> int:
    """The year of a month named without a year, from its qualifier and the reference."""
    if qual == "past":
        return ref.year if month < ref.month else ref.year - 1
    if qual == "next":
        return ref.year if month > ref.month else ref.year + 1
    if qual == "this":
        return ref.year
    # Unqualified: the nearest occurrence, leaning to the past (see future_window_days).
    return ref.year if month <= ref.month or (month - ref.month) <= 4 else ref.year - 1


def day_year(month: int, day: int, qual: str | None, ref: dt.date, future_window_days: int) -> int:
    if qual is not None:
        return month_year(month, qual, ref)
    candidate = dt.date(ref.year, month, min(day, 28))
    if (candidate - ref).days > future_window_days:
        return ref.year - 1
    if (ref - candidate).days > 365 - future_window_days:
        return ref.year + 1
    return ref.year


def weekday_check(ntext: str, day: dt.date) -> str | None:
    w = WEEKDAY_RE.search(ntext)
    if w is None:
        return None
    named = WEEKDAYS[w.group(1)]
    if named == day.weekday():
        return None
    return (
        f"the text names {WEEKDAY_NAMES_AR[named]} but {day.isoformat()} is a "
        f"{WEEKDAY_NAMES_AR[day.weekday()]}; the date is kept"
    )


# ---------------------------------------------------------------------------------------------
# Normalised view with a way back, and the prefilter windows


@lru_cache(maxsize=4096)
def norm_char(ch: str) -> str:
    if ch.isspace():
        return " "
    return normalize(ch)


def normalised_view(text: str, start: int, end: int) -> tuple[str, Callable[[int], int]]:
    """The normalised text of ``text[start:end]`` and a map from its indices to ``text``'s."""
    seg = text[start:end]
    # Only characters outside the stable set can change; finding them with one regex scan is
    # cheaper than building the set of every distinct character of the text.
    table = {c: norm_char(c) for c in set(UNSTABLE_CHAR_RE.findall(seg))}
    if all(len(v) <= 1 for v in table.values()):  # the usual case: marks dropped, nothing expands
        # A few characters change (أ إ ى ة, Arabic digits, marks, line breaks): one replace per
        # character is several times faster than str.translate over the whole text.
        norm = seg
        dropped: list[int] = []
        for c, v in table.items():
            if v == c:
                continue
            if not v:
                i = seg.find(c)
                while i >= 0:
                    dropped.append(i)
                    i = seg.find(c, i + 1)
            norm = norm.replace(c, v)
        if not dropped:
            return norm, lambda i: start + i
        # The k-th dropped character comes after (its position - k) kept ones: an index of the
        # normalised text moves right by the number of drops at or before it.
        dropped.sort()
        keys = [p - k for k, p in enumerate(dropped)]
        return norm, lambda i: start + i + bisect_right(keys, i)
    out: list[str] = []
    back: list[int] = []
    for i, c in enumerate(seg, start):
        n = table.get(c, c)
        out.append(n)
        back.extend([i] * len(n))
    return "".join(out), back.__getitem__


def trigger_windows(norm: str) -> list[tuple[int, int, frozenset[str]]]:
    """Stretches of ``norm`` around prefilter triggers, with the trigger categories in each.

    Each trigger's window reaches TRIGGER_REACH characters either side, widened to whole words;
    overlapping windows merge, so a match never straddles two of them.
    """
    hits = [(m.start(), m.end(), _DIGITS) for m in DIGIT_TRIGGER_RE.finditer(norm)]
    # The word pattern starts with the non-word character before the word (a prefix sre scans for
    # quickly); a space in front lets the text's first word match too.
    hits += [
        (m.start("word") - 1, m.end() - 1, TRIGGER_CATEGORIES[m.group("word")])
        for m in WORD_TRIGGER_RE.finditer(" " + norm)
    ]
    hits.sort(key=lambda h: h[0])
    spans: list[tuple[int, int, frozenset[str]]] = []
    for h_start, h_end, cats in hits:
        lo = norm.rfind(" ", 0, max(0, h_start - TRIGGER_REACH)) + 1
        hi = norm.find(" ", h_end + TRIGGER_REACH)
        hi = len(norm) if hi < 0 else hi
        if spans and lo <= spans[-1][1] + 1:
            p_lo, p_hi, p_cats = spans[-1]
            spans[-1] = (p_lo, max(p_hi, hi), p_cats | cats)
        else:
            spans.append((lo, hi, cats))
    return spans


_DIGITS = frozenset({"digits"})
PATTERN_ORDER = {kind: i for i, (kind, _) in enumerate(PATTERNS)}


@lru_cache(maxsize=1024)
def patterns_for(cats: frozenset[str]) -> list[tuple[str, re.Pattern[str]]]:
    return [(kind, rx) for kind, rx in COMPILED if PATTERN_TRIGGERS[kind] & cats]


# ---------------------------------------------------------------------------------------------
# Hijri calendar: Umm al-Qura (the Saudi civil calendar) for 1400-1500 AH, tabular outside it

# Month lengths of the Umm al-Qura calendar, 1400-1500 AH: three hex digits per year, twelve bits
# from Muharram (most significant) to Dhu al-Hijja, 1 = 30 days, 0 = 29. Taken from the table of
# the hijridate package (MIT, github.com/dralshehri/hijridate), itself from the published
# Umm al-Qura calendar; 1 Muharram 1400 = 20 November 1979.
_UAQ_FIRST_YEAR = 1400
_UAQ_START = dt.date(1979, 11, 20)
_UAQ_BITS = (
    "d2b54aea57526e936aaad555aa5b52ba95b49ba4db25d52daa5ad4aea56d4bd23d91da95b4ab5a56d2b693b49b6556"
    "a9754b6a56caad555b29b92ba95d4ada55aaab595749764baa5b52b6a56d2ae9572a75535a95d49ba4dd26d535aaaad4"
    "b6a57527a95b4ab5536c9ae4b6a96b4ada55d25d92dc96d4ad6556d2b693749b64d72ab54b6a5752b6956b2ad94dc95d"
    "4aea56caad5556c97"
)


@lru_cache(maxsize=1)
def _uaq_month_starts() -> list[dt.date]:
    starts = [_UAQ_START]
    for i in range(0, len(_UAQ_BITS), 3):
        bits = int(_UAQ_BITS[i : i + 3], 16)
        for m in range(12):
            starts.append(starts[-1] + dt.timedelta(days=30 if bits >> (11 - m) & 1 else 29))
    return starts


_HIJRI_EPOCH = 1948440  # Julian day number of 1 Muharram 1 AH (civil epoch)


def hijri_to_gregorian(year: int, month: int, day: int) -> dt.date:
    """Gregorian date of a Hijri date: Umm al-Qura for 1400-1500 AH, otherwise the tabular
    Islamic calendar (leap years 2,5,7,10,13,16,18,21,24,26,29 of each 30-year cycle), which can
    differ from observation-based calendars by a day or two."""
    if not (1 <= month <= 12 and 1 <= day <= 30):
        raise ValueError(f"not a Hijri date: {year}-{month}-{day}")
    k = (year - _UAQ_FIRST_YEAR) * 12 + month - 1
    starts = _uaq_month_starts()
    if 0 <= k < len(starts) - 1:
        if day > (starts[k + 1] - starts[k]).days:
            raise ValueError(f"Hijri month {year}-{month} has {(starts[k + 1] - starts[k]).days} days")
        return starts[k] + dt.timedelta(days=day - 1)
    return _tabular_to_gregorian(year, month, day)


def _tabular_to_gregorian(year: int, month: int, day: int) -> dt.date:
    jdn = day + (59 * (month - 1) + 1) // 2 + (year - 1) * 354 + (3 + 11 * year) // 30 + _HIJRI_EPOCH - 1
    return dt.date.fromordinal(jdn - 1721425)


def gregorian_to_hijri(day: dt.date) -> tuple[int, int, int]:
    """The tabular Hijri (year, month, day) of a Gregorian date (inverse of hijri_to_gregorian)."""
    jdn = day.toordinal() + 1721425
    year = (30 * (jdn - _HIJRI_EPOCH) + 10646) // 10631
    year = max(year, 1)
    while hijri_to_gregorian(year, 1, 1) > day:
        year -= 1
    while hijri_to_gregorian(year + 1, 1, 1) <= day:
        year += 1
    month = 12
    while hijri_to_gregorian(year, month, 1) > day:
        month -= 1
    return year, month, (day - hijri_to_gregorian(year, month, 1)).days + 1


def holiday_date(spec: tuple[int, ...], year: int) -> dt.date:
    """The day a holiday (a HOLIDAYS value) falls on in ``year``: a Hijri year for Hijri holidays
    when ``year`` < 1600, else a Gregorian year (a Hijri holiday's first occurrence in it)."""
    kind, month = spec[0], spec[1]
    if kind == 0:
        return dt.date(year, month, spec[2])
    if kind == 2:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(spec[2] - first.weekday()) % 7 + 7 * (spec[3] - 1))
    if year < 1600:
        return hijri_to_gregorian(year, month, spec[2])
    hy = gregorian_to_hijri(dt.date(year, 1, 1))[0]
    day = hijri_to_gregorian(hy, month, spec[2])
    return day if day.year == year else hijri_to_gregorian(hy + 1, month, spec[2])


def holiday_occurrences(spec: tuple[int, ...], around: dt.date) -> list[dt.date]:
    """The holiday's days within about a year either side of ``around``, earliest first."""
    if spec[0] == 1:
        hy = gregorian_to_hijri(around)[0]
        return [holiday_date(spec, y) for y in range(hy - 1, hy + 2)]
    return [holiday_date(spec, y) for y in range(around.year - 1, around.year + 2)]
