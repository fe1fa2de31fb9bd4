from __future__ import annotations

import datetime as dt

from hypothesis import example, given, settings
from hypothesis import strategies as st

from rasd.models import Article, Block, TimeRef
from rasd.timeline import (
    SentenceSpans,
    event_date,
    extract,
    find_dates,
    gregorian_to_hijri,
    hijri_to_gregorian,
    story_timeline,
)

SUNDAY = dt.date(2025, 6, 15)
MONDAY = dt.date(2025, 6, 16)


def _article(
    text: str,
    published: str | None = "2025-06-16T09:30:00+03:00",
    aid: str = "a1",
    source: str = "وكالة الأنباء",
) -> Article:
    return Article(
        id=aid, text=text, blocks=(Block(0, len(text), "body"),), source=source, published=published
    )


def _values(text: str, ref: dt.date | None) -> list[tuple[str, str | None]]:
    return [(x.text, x.value) for x in extract(text, ref)]


def test_weekday_with_yesterday_agrees_with_publication() -> None:
    art = _article("أعلنت وزارة الداخلية أمس الأحد عن ضبط شحنة مخدرات.")
    [ref] = find_dates(art)
    assert (ref.text, ref.value, ref.anchor, ref.warning) == ("أمس الأحد", "2025-06-15", "publication", None)
    assert art.text[ref.span[0] : ref.span[1]] == ref.text


def test_weekday_disagreement_keeps_day_before_publication_and_warns() -> None:
    [ref] = find_dates(_article("أعلن الجيش أمس السبت عن مقتل ثلاثة جنود."))
    assert ref.value == "2025-06-15"
    assert ref.warning is not None and "السبت" in ref.warning and "الأحد" in ref.warning


def test_relative_days_and_weekdays() -> None:
    text = (
        "قال اليوم الإثنين إن الوفد وصل أول أمس وسيغادر بعد غد، "
        "وكان اللقاء الأحد الماضي والقمة الخميس المقبل."
    )
    assert _values(text, MONDAY) == [
        ("اليوم الإثنين", "2025-06-16"),
        ("أول أمس", "2025-06-14"),
        ("بعد غد", "2025-06-18"),
        ("الأحد الماضي", "2025-06-15"),
        ("الخميس المقبل", "2025-06-19"),
    ]


def test_bare_weekday_is_past_unless_a_future_verb_precedes() -> None:
    assert _values("وأضاف أن الاجتماع عقد الخميس بحضور الوزراء.", SUNDAY) == [("الخميس", "2025-06-12")]
    assert _values("وسيعقد البرلمان جلسة استثنائية الثلاثاء.", SUNDAY) == [("الثلاثاء", "2025-06-17")]


def test_relative_periods() -> None:
    text = "ارتفع التضخم الشهر الماضي مقارنة بالعام الماضي، ويتوقع نموا هذا العام وفي الشهر المقبل."
    assert _values(text, SUNDAY) == [
        ("الشهر الماضي", "2025-05"),
        ("العام الماضي", "2024"),
        ("هذا العام", "2025"),
        ("الشهر المقبل", "2025-07"),
    ]
    [week] = extract("تراجعت الأسعار خلال الأسبوع الماضي.", SUNDAY)
    assert (week.value, week.anchor) == ("2025-06-08", "approximate")


def test_month_series_pairs_and_qualifiers() -> None:
    assert _values("حكمت المحكمة في 27 من يونيو/ حزيران الماضي.", SUNDAY) == [
        ("27 من يونيو/ حزيران الماضي", "2024-06-27")
    ]
    assert _values("بدأت الاحتجاجات في يناير (كانون الثاني) 2011.", SUNDAY) == [
        ("يناير (كانون الثاني) 2011", "2011-01")
    ]
    assert _values("وقع الزلزال في 3 يونيو/حزيران الجاري.", SUNDAY) == [
        ("3 يونيو/حزيران الجاري", "2025-06-03")
    ]
    assert _values("عاد اللاجئون في شباط الماضي.", SUNDAY) == [("شباط الماضي", "2025-02")]
    assert _values("نظمت وقفة يوم 14 جانفي الماضي وأخرى في جويلية 2017.", SUNDAY) == [
        ("14 جانفي الماضي", "2025-01-14"),
        ("جويلية 2017", "2017-07"),
    ]
    assert _values("تأجلت الجلسة إلى 22 يوليه المقبل.", SUNDAY) == [("22 يوليه المقبل", "2025-07-22")]


def test_parts_of_periods_resolve_at_month_or_year() -> None:
    text = (
        "عقدت القمة منتصف ديسمبر الماضي، وتجرى الانتخابات أواخر العام المقبل، "
        "والقضية تعود إلى نهاية عام 2019."
    )
    assert _values(text, SUNDAY) == [
        ("منتصف ديسمبر الماضي", "2024-12"),
        ("أواخر العام المقبل", "2026"),
        ("نهاية عام 2019", "2019"),
    ]


def test_years_and_explicit_dates_in_any_digits() -> None:
    text = "حظر عام 2011 وتأسست سنة ٢٠١١ وصدر قرار 2011م ثم في 15 يونيو 2025 و١٥/٦/٢٠٢٥ و2025-06-15."
    got = [(x.text, x.value, x.anchor) for x in extract(text, None)]
    assert got == [
        ("عام 2011", "2011", "absolute"),
        ("سنة ٢٠١١", "2011", "absolute"),
        ("2011م", "2011", "absolute"),
        ("15 يونيو 2025", "2025-06-15", "absolute"),
        ("١٥/٦/٢٠٢٥", "2025-06-15", "absolute"),
        ("2025-06-15", "2025-06-15", "absolute"),
    ]


def test_hijri_dates_use_umm_al_qura() -> None:
    assert _values("توفي الشيخ في 12 رمضان 1446 هـ بعد مرض.", SUNDAY) == [("12 رمضان 1446 هـ", "2025-03-12")]
    assert hijri_to_gregorian(1445, 12, 9) == dt.date(2024, 6, 15)  # Arafat day 1445
    assert hijri_to_gregorian(1446, 10, 1) == dt.date(2025, 3, 30)  # Eid al-Fitr 1446
    assert gregorian_to_hijri(dt.date(2025, 3, 1)) == (1446, 9, 1)
    for day in (dt.date(1990, 1, 1), dt.date(2024, 6, 15), dt.date(2060, 12, 31), dt.date(1900, 5, 5)):
        assert hijri_to_gregorian(*gregorian_to_hijri(day)) == day


def test_approximate_anchors() -> None:
    got = [
        (x.text, x.value, x.anchor)
        for x in extract(
            "بدأت المفاوضات منذ عدة أسابيع، ووقع الهجوم قبل ثلاثة أيام، وأصيب اللاعب قبل أسبوعين.", SUNDAY
        )
    ]
    assert got == [
        ("منذ عدة أسابيع", "2025-05-25", "approximate"),
        ("قبل ثلاثة أيام", "2025-06-12", "publication"),
        ("قبل أسبوعين", "2025-06-01", "approximate"),
    ]


def test_not_dates() -> None:
    text = "مارس النواب ضغوطا، وانتهت المباراة بنتيجة 3-1، وارتفع المؤشر في 3.2 نقطة، وشارك 2000 شخص."
    assert extract(text, SUNDAY) == []
    assert _values("بعد يومين من الاجتماع أعلن الاتفاق.", SUNDAY) == []


def test_spans_cover_marks_and_leave_proclitics_out() -> None:
    text = "سيصل الوفد غداً، وكان قد وصل بالأمس."
    assert _values(text, SUNDAY) == [("غداً", "2025-06-16"), ("الأمس", "2025-06-14")]


def test_without_publication_date_only_absolute_expressions_resolve() -> None:
    art = _article("صرح الوزير أمس بأن الاتفاق الموقع في 3 مارس 2015 ما زال ساريا.", published=None)
    assert [(r.text, r.value, r.anchor) for r in find_dates(art)] == [
        ("3 مارس 2015", "2015-03-03", "absolute")
    ]


def test_only_title_and_body_blocks_are_read() -> None:
    text = "قمة الرياض أمس\nعقدت القمة في 3 يونيو 2025.\nنشر في 16 يونيو 2025"
    title_end = text.index("\n")
    body_end = text.index("\n", title_end + 1)
    art = Article(
        id="a1",
        text=text,
        published="2025-06-16",
        blocks=(
            Block(0, title_end, "title"),
            Block(title_end + 1, body_end, "body"),
            Block(body_end + 1, len(text), "boilerplate"),
        ),
    )
    assert [r.text for r in find_dates(art)] == ["أمس", "3 يونيو 2025"]


def test_event_date_prefers_reported_day_then_publication() -> None:
    a1 = _article("وقع الانفجار أمس الأحد في الميناء.", "2025-06-16T08:00:00+03:00", "a1")
    a2 = _article("أكدت السلطات أن انفجار الميناء وقع الأحد 15 يونيو.", "2025-06-16T12:00:00+03:00", "a2")
    a3 = _article("تستمر التحقيقات وتعقد جلسة في 20 يونيو 2025.", "2025-06-16T13:00:00+03:00", "a3")
    refs = [r for a in (a1, a2, a3) for r in find_dates(a)]
    date, evidence = event_date([a1, a2, a3], refs)
    assert date == "2025-06-15"
    assert "2" in evidence
    date, evidence = event_date([a3], find_dates(a3))  # 20 June is after publication: not the event
    assert (date, evidence) == ("2025-06-16", "earliest publication date")


def test_story_timeline_orders_marks_background_and_dedupes() -> None:
    shared = "وكانت الولايات المتحدة قد فرضت حظرا على الشركة عام 2011."
    a1 = _article(f"رفعت الحكومة الحظر أمس الأحد. {shared}", "2025-06-16", "a1", "المصدر أ")
    a2 = _article(f"قررت الحكومة رفع الحظر في 15 يونيو 2025. {shared}", "2025-06-16", "a2", "المصدر ب")
    refs = [r for a in (a1, a2) for r in find_dates(a)]
    timeline = story_timeline([a1, a2], refs)
    assert [(e.date, e.background) for e in timeline] == [
        ("2011", True),
        ("2025-06-15", False),
        ("2025-06-15", False),
    ]
    assert timeline[0].text == shared
    assert {e.article for e in timeline[1:]} == {"a1", "a2"}


def test_kept_sentence_spans_give_the_same_timeline() -> None:
    a1 = _article("رفعت الحكومة الحظر أمس الأحد. وكانت قد فرضته عام 2011.", "2025-06-16", "a1")
    a2 = _article("قررت الحكومة رفع الحظر في 15 يونيو 2025. وقال الوزير إن القرار نهائي.", "2025-06-16", "a2")
    spans = SentenceSpans()
    for members in ([a1], [a1, a2], [a2, a1]):
        refs = [r for a in members for r in find_dates(a)]
        assert story_timeline(members, refs, spans=spans) == story_timeline(members, refs)
    # Another text under a kept id is split again.
    other = _article("أعلنت الشركة نتائجها أمس. وارتفعت أرباحها في 2024.", "2025-06-16", "a1")
    refs = find_dates(other)
    assert story_timeline([other], refs, spans=spans) == story_timeline([other], refs)
    assert {e.text for e in story_timeline([other], refs, spans=spans)} <= {"أعلنت الشركة نتائجها أمس.",
                                                                          "وارتفعت أرباحها في 2024."}


def test_find_dates_returns_timerefs_with_exact_slices() -> None:
    art = _article("ولد الشاعر في 10 أيار 1950 وتوفي في ١٢ رمضان ١٤٤٦ هـ.")
    refs = find_dates(art)
    assert all(isinstance(r, TimeRef) and art.text[r.span[0] : r.span[1]] == r.text for r in refs)
    assert [r.value for r in refs] == ["1950-05-10", "2025-03-12"]


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("أمس الأحد 15 يونيو/حزيران ٢٠٢٥ هـ،.-/ًّـ0123456789رمضانقبلعدة")),
        max_size=80,
    )
)
def test_extract_never_raises_and_spans_are_slices(text: str) -> None:
    for x in extract(text, SUNDAY):
        assert 0 <= x.start < x.end <= len(text)
        assert text[x.start : x.end] == x.text
        assert x.value is None or len(x.value) in (4, 7, 10)


SATURDAY = dt.date(2025, 6, 14)


def test_weekday_next_said_on_its_eve_is_the_next_day_and_on_the_day_a_week_ahead() -> None:
    assert _values("ويعقد المؤتمر الأحد المقبل في الرياض.", SATURDAY) == [("الأحد المقبل", "2025-06-15")]
    assert _values("ويعقد المؤتمر الأحد المقبل في الرياض.", SUNDAY) == [("الأحد المقبل", "2025-06-22")]
    assert _values("ويعقد المؤتمر الأحد المقبل في الرياض.", MONDAY) == [("الأحد المقبل", "2025-06-22")]
    assert _values("وعقد الاجتماع السبت الماضي.", SUNDAY) == [("السبت الماضي", "2025-06-14")]


def test_parts_of_a_day_stay_outside_the_span_and_tonight_is_a_date() -> None:
    text = "قتل ثلاثة مساء أمس، ووصل الوفد صباح اليوم، وهطلت الأمطار الليلة الماضية، وتعقد القمة الليلة."
    assert _values(text, MONDAY) == [
        ("أمس", "2025-06-15"),
        ("اليوم", "2025-06-16"),
        ("الليلة الماضية", "2025-06-15"),
        ("الليلة", "2025-06-16"),
    ]
    assert _values("وسيلتقي الرئيس نظيره مساء الخميس.", MONDAY) == [("الخميس", "2025-06-19")]
    assert _values("سأعود هذا الصباح في السابعة", MONDAY) == [("هذا الصباح", "2025-06-16")]
    assert _values("وقال الشيخ صباح الأحمد إن الكويت تدعم الحوار، وظهر اللاعب بعد غياب.", MONDAY) == []


def test_hours_and_minutes_date_to_whole_days_approximately() -> None:
    got = [(x.text, x.value, x.anchor) for x in extract("أعلنت الشرطة قبل ساعات أن النتائج تصدر بعد 48 ساعة.", MONDAY)]
    assert got == [("قبل ساعات", "2025-06-16", "approximate"), ("بعد 48 ساعة", "2025-06-18", "approximate")]
    assert _values("يبدأ الاجتماع في غضون 10 دقائق.", MONDAY) == [("في غضون 10 دقائق", "2025-06-16")]


def test_holidays_resolve_by_calendar_year_qualifier_or_nearest_occurrence() -> None:
    assert _values("ارتفعت الأسعار خلال عيد الأضحى الماضي.", MONDAY) == [("عيد الأضحى الماضي", "2025-06-06")]
    assert _values("تتوقع الشركة زيادة المبيعات في عيد الفطر المقبل.", MONDAY) == [("عيد الفطر المقبل", "2026-03-20")]
    assert _values("تزينت الشوارع احتفالا بعيد الميلاد.", MONDAY) == [("عيد الميلاد", "2024-12-25")]
    assert _values("وقعت الحادثة في عيد الشكر 2010.", None) == [("عيد الشكر 2010", "2010-11-25")]
    assert _values("تعود القضية إلى رأس السنة الهجرية 1445 هـ.", None) == [("رأس السنة الهجرية 1445 هـ", "2023-07-19")]
    assert _values("احتفل اللاعب بعيد ميلاده الثلاثين.", MONDAY) == []


def test_invalid_numeric_dates_keep_the_valid_part_with_a_warning() -> None:
    [x] = extract("صدر القرار بتاريخ 31/2/2024 بحسب الوثيقة.", MONDAY)
    assert (x.text, x.value) == ("31/2/2024", "2024-02")
    assert x.warning is not None and "month" in x.warning
    [y] = extract("2017-13-12", MONDAY)
    assert (y.value, y.anchor) == ("2017", "absolute")


def test_week_of_a_day_is_approximate() -> None:
    [x] = extract("ماذا لدي أسبوع 30 نوفمبر", dt.date(2016, 11, 7))
    assert (x.text, x.value, x.anchor) == ("أسبوع 30 نوفمبر", "2016-11-30", "approximate")


def test_weekday_with_day_number_prefers_a_month_where_they_agree() -> None:
    # 21 July 2025 is a Monday, 21 June a Saturday: "الاثنين 21" said on 16 June is in July.
    [x] = extract("وتبدأ الدورة الاثنين 21 بمشاركة واسعة.", MONDAY)
    assert (x.value, x.warning) == ("2025-07-21", None)


# fmt: off
_FRAGMENTS = [
    "أمس", "الأحد", "الماضي", "المقبل", "مساء", "صباح", "يوم", "15", "2025", "٢٠١١", "يونيو", "/",
    "حزيران", "من", "إلى", "حتى", "قبل", "ثلاثة", "أيام", "ساعات", "عيد", "الفطر", "رمضان", "1446",
    "هـ", "عام", "العام", "الشهر", "نهاية", "منتصف", "الليلة", "غداً", "في", "و", "قال", "الوزير",
    "15/6/2025", "2025-06-15", "السبعينيات", "الصيف", "النصف", "الأول", "،", ".", "بين", "سيعقد",
]
# fmt: on


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map(" ".join))
# The longest reaches from a trigger word: a range whose only month comes last, a count whose
# look-ahead decides the match, a future verb five words before a bare weekday.
@example("وتستمر الدورة من الحادي والعشرين الى الثامن والعشرين من شهر يونيو/حزيران المقبل")
@example("وسيعقد المجلس الأعلى للقضاء جلسته الطارئة الثلاثاء")
@example("أعلن الاتفاق بعد يومين من الاجتماع الطارئ")
def test_prefilter_changes_nothing(text: str) -> None:
    """The patterns run only near trigger words; running them everywhere must give the same."""
    import rasd.timeline_lexicon as lx

    everything = frozenset(c for cats in lx.PATTERN_TRIGGERS.values() for c in cats)
    with_prefilter = extract(text, SUNDAY)
    original = lx.trigger_windows
    lx.trigger_windows = lambda norm: [(0, len(norm), everything)]
    try:
        assert extract(text, SUNDAY) == with_prefilter
    finally:
        lx.trigger_windows = original


def test_relative_day_weekday_and_date_form_one_expression() -> None:
    [x] = extract("وقال المتحدث أمس الأحد ١٥ يونيو إن الهدنة صامدة.", MONDAY)
    assert (x.text, x.value, x.warning) == ("أمس الأحد ١٥ يونيو", "2025-06-15", None)
