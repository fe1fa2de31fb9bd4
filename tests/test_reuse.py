"""Passage alignment, candidate retrieval and direction on Arabic texts written for these tests."""

from __future__ import annotations

import re

import numpy as np
import pytest

from rasd.models import Article, Block, ReuseLink
from rasd.reuse import ReuseIndex, ReuseSettings, _member, align, direction, find_reuse, reuse_chains
from rasd.textnorm import tokens

# An original report: three paragraphs.
P1 = (
    "أعلنت هيئة الأرصاد الجوية في المملكة أن موجة من الأمطار الغزيرة ستضرب مناطق مكة المكرمة "
    "والباحة وعسير اعتبارا من مساء الخميس، مصحوبة برياح نشطة وسيول في الأودية والشعاب المنخفضة. "
    "ودعت الهيئة السكان إلى الابتعاد عن مجاري السيول وعدم المجازفة بعبور الأودية أثناء جريانها."
)
P2 = (
    "وأوضح المتحدث الرسمي للدفاع المدني العقيد سعيد الغامدي أن فرق الإنقاذ رفعت جاهزيتها في "
    "المحافظات الجبلية، وأن ثلاثمائة آلية ومئة وعشرين قاربا مطاطيا وزعت على المراكز الميدانية "
    "تحسبا لأي طارئ، مشيرا إلى أن غرفة العمليات تعمل على مدار الساعة لاستقبال البلاغات."
)
P3 = (
    "وكانت الأمطار التي هطلت على محافظة القنفذة الأسبوع الماضي قد تسببت في احتجاز عشرات "
    "المركبات وانقطاع التيار الكهربائي عن أحياء عدة، قبل أن تتمكن الفرق الفنية من إعادته بعد "
    "ساعات من العمل المتواصل."
)
SOURCE = f"{P1}\n\n{P2}\n\n{P3}"

# A rewrite: paragraph order changed, sentences reordered inside paragraphs, words swapped for
# synonyms, clauses added, and two new paragraphs of its own.
NEW1 = (
    "وفي سياق متصل، افتتح أمير المنطقة مشروع توسعة الطريق الدائري الذي يربط الأحياء الشرقية "
    "بوسط المدينة بتكلفة تجاوزت ثمانمائة مليون ريال، ويتوقع أن يخفف الزحام في ساعات الذروة."
)
R2 = (
    "من جهته، أكد الناطق الرسمي للدفاع المدني العقيد سعيد الغامدي أن ثلاثمائة آلية ومئة وعشرين "
    "قاربا مطاطيا وزعت على المراكز الميدانية تحسبا لأي طارئ، وأن فرق الإنقاذ رفعت استعدادها في "
    "المحافظات الجبلية، لافتا إلى أن غرفة العمليات تعمل على مدار الساعة لتلقي البلاغات."
)
R1 = (
    "وحثت الهيئة المواطنين والمقيمين على الابتعاد عن مجاري السيول وعدم المغامرة بعبور الأودية "
    "أثناء جريانها. وكانت هيئة الأرصاد الجوية قد أعلنت أن موجة من الأمطار الغزيرة ستضرب مناطق "
    "مكة المكرمة والباحة وعسير ابتداء من مساء الخميس، مصحوبة برياح نشطة وسيول في الأودية والشعاب."
)
NEW2 = (
    "على صعيد آخر، دشنت جامعة الملك خالد برنامجا صيفيا لتدريب ألفي طالب على مهارات البرمجة "
    "والذكاء الاصطناعي بالشراكة مع شركات تقنية محلية، ويستمر البرنامج ستة أسابيع."
)
TARGET = f"{NEW1}\n\n{R2}\n\n{R1}\n\n{NEW2}"

UNRELATED = (
    "تراجعت أسعار النفط في التعاملات الآسيوية المبكرة بعد صدور بيانات أظهرت ارتفاع المخزونات "
    "الأمريكية أكثر من المتوقع، وهبط خام برنت إلى أدنى مستوى له منذ ثلاثة أشهر، فيما توقع محللون "
    "أن تواصل الأسعار تذبذبها حتى اجتماع منظمة أوبك المقبل في فيينا مطلع الشهر المقبل."
)
VERSE = (
    "﴿ وَمَا خَلَقْتُ الْجِنَّ وَالْإِنسَ إِلَّا لِيَعْبُدُونِ مَا أُرِيدُ مِنْهُم مِّن رِّزْقٍ "
    "وَمَا أُرِيدُ أَن يُطْعِمُونِ إِنَّ اللَّهَ هُوَ الرَّزَّاقُ ذُو الْقُوَّةِ الْمَتِينُ ﴾"
)


def art(aid: str, text: str, published: str | None = "2025-06-15T10:00:00+03:00", source: str = "outlet",
        credit: str | None = None, blocks: tuple[Block, ...] | None = None) -> Article:
    return Article(id=aid, text=text, blocks=blocks if blocks is not None else (Block(0, len(text), "body"),),
                   source=source, published=published, credit=credit)


def span_of(text: str, part: str) -> tuple[int, int]:
    start = text.index(part)
    return start, start + len(part)


def inside(span: tuple[int, int], outer: tuple[int, int]) -> bool:
    return outer[0] <= span[0] and span[1] <= outer[1]


def test_rewrite_passages_have_correct_spans_and_direction() -> None:
    original = art("orig", SOURCE, published="2025-06-15T08:00:00+03:00", source="الوطن")
    rewrite = art("copy", TARGET, published="2025-06-15T11:30:00+03:00", source="المدينة")
    links = find_reuse([rewrite, original])
    assert len(links) == 1
    link = links[0]
    assert (link.source, link.target, link.direction_known, link.evidence) == ("orig", "copy", True, "published")
    # Each rewritten paragraph is found against its original paragraph, and nothing in the new ones.
    pairs = {(inside(p.source_span, span_of(SOURCE, P1)), inside(p.target_span, span_of(TARGET, R1)),
              inside(p.source_span, span_of(SOURCE, P2)), inside(p.target_span, span_of(TARGET, R2)))
             for p in link.passages}
    assert (True, True, False, False) in pairs
    assert (False, False, True, True) in pairs
    for p in link.passages:
        assert p.target_text == TARGET[p.target_span[0] : p.target_span[1]]
        assert p.source_text == SOURCE[p.source_span[0] : p.source_span[1]]
        for new in (NEW1, NEW2):
            s, e = span_of(TARGET, new)
            assert p.target_span[1] <= s or p.target_span[0] >= e
    # The rewritten paragraphs are mostly covered: at least 80% of their characters.
    for para in (R1, R2):
        s, e = span_of(TARGET, para)
        covered = sum(max(0, min(e, p.target_span[1]) - max(s, p.target_span[0])) for p in link.passages)
        assert covered >= 0.8 * (e - s)
    assert 0.3 < link.score < 0.8


def test_align_spans_follow_token_offsets_of_textnorm() -> None:
    passages = align(art("a", SOURCE), art("b", TARGET))
    assert passages
    starts = {t.start for t in tokens(TARGET)}
    ends = {t.end for t in tokens(TARGET)}
    for p in passages:
        assert p.target_span[0] in starts and p.target_span[1] in ends


def test_word_shuffled_copy_is_found() -> None:
    words = re.findall(r"\S+", P2)
    shuffled = " ".join(words[k] for k in [*range(1, len(words), 2), *range(0, len(words), 2)])
    text = f"{UNRELATED}\n{shuffled}"
    passages = align(art("a", SOURCE), art("b", text))
    assert len(passages) == 1
    p = passages[0]
    assert inside(p.source_span, span_of(SOURCE, P2))
    assert p.target_span[0] >= len(UNRELATED)
    assert p.target_span[1] - p.target_span[0] >= 0.8 * len(shuffled)


def test_phrase_shuffled_paragraph_is_one_passage() -> None:
    # Two source paragraphs cut into 15-word phrases and written back in reverse order as one
    # paragraph: the pieces are out of order, but inside one target paragraph they are one case.
    words = re.findall(r"\S+", f"{P1} {P2}")
    chunks = [words[k : k + 15] for k in range(0, len(words), 15)]
    shuffled = " ".join(w for chunk in reversed(chunks) for w in chunk)
    text = f"{UNRELATED}\n{shuffled}\n{NEW2}"
    passages = align(art("a", SOURCE), art("b", text))
    assert len(passages) == 1
    p = passages[0]
    s, e = span_of(text, shuffled)
    assert s <= p.target_span[0] and p.target_span[1] <= e
    assert p.target_span[1] - p.target_span[0] >= 0.9 * (e - s)
    assert inside(p.source_span, (0, span_of(SOURCE, P2)[1]))
    assert p.source_span[1] - p.source_span[0] >= 0.9 * span_of(SOURCE, P2)[1]


def test_shared_quran_verse_is_not_reuse() -> None:
    a = art("a", f"{UNRELATED}\nوفي خطبة الجمعة تلا الإمام قوله تعالى {VERSE} ثم دعا للمصلين.")
    b = art("b", f"{P3}\nوختم الواعظ محاضرته بقوله تعالى: {VERSE}")
    assert find_reuse([a, b]) == []
    assert align(a, b) == []


def test_shared_stock_phrase_is_not_reuse() -> None:
    stock = "والله ولي التوفيق، وصلى الله وسلم على نبينا محمد وعلى آله وصحبه أجمعين."
    a = art("a", f"{UNRELATED} {stock}")
    b = art("b", f"{P3} {stock}")
    assert find_reuse([a, b]) == []


def test_boilerplate_only_and_empty_articles() -> None:
    boiler = art("b1", SOURCE, blocks=(Block(0, len(SOURCE), "boilerplate"),))
    boiler2 = art("b2", SOURCE, blocks=(Block(0, len(SOURCE), "boilerplate"),))
    empty = art("e", "")
    punct = art("p", "... ؟ !! ـــ «» ()")
    assert find_reuse([boiler, boiler2, empty, punct, art("o", SOURCE)]) == []
    assert align(empty, punct) == []


def test_one_megabyte_article_is_aligned() -> None:
    filler = (UNRELATED + "\n") * 3000
    big = f"{filler}{P2}\n{filler}"
    assert len(big) > 1_000_000
    links = find_reuse([art("big", big, published="2025-06-16T10:00:00+03:00"), art("orig", SOURCE)])
    assert len(links) == 1
    assert links[0].source == "orig"
    assert any(inside(span_of(big, P2), (p.target_span[0] - 5, p.target_span[1] + 5)) for p in links[0].passages)


def test_one_text_carried_by_100_outlets() -> None:
    articles = [art("orig", SOURCE, published="2025-06-15T08:00:00+03:00", source="واس")]
    articles += [art(f"o{n:03d}", TARGET, published=None, source=f"outlet {n}", credit=None) for n in range(100)]
    links = find_reuse(articles)
    # The copies share their passages with every other copy, but past max_df the keys read as
    # stock phrasing: carriers of one wire story are a duplicate set, found by rasd.dedup.
    assert all(isinstance(link, ReuseLink) for link in links)
    assert len(links) <= 100 * 101 // 2


def test_direction_from_credit_line_without_dates() -> None:
    a = art("wire", SOURCE, published=None, source="واس")
    b = art("paper", "الرياض (واس)\n" + TARGET, published=None, source="المدينة")
    src, tgt, known, evidence = direction(b, a)
    assert (src.id, tgt.id, known, evidence) == ("wire", "paper", True, "credit")
    c = art("site", TARGET + "\nنقلا عن صحيفة الوطن", published=None, source="موقع")
    d = art("watan", SOURCE, published=None, source="الوطن")
    assert direction(c, d)[0].id == "watan"
    e = art("x", SOURCE, published=None, source="x", credit="الوطن")
    assert direction(e, d)[:3] == (d, e, True)
    unknown = direction(art("u1", SOURCE, published=None), art("u2", TARGET, published=None))
    assert unknown[2:] == (False, "unknown")


def test_incremental_index_matches_batch() -> None:
    index = ReuseIndex()
    assert index.add(art("orig", SOURCE, published="2025-06-15T08:00:00+03:00")) == []
    assert index.add(art("other", UNRELATED)) == []
    links = index.add(art("copy", TARGET, published="2025-06-15T11:30:00+03:00"))
    assert [(x.source, x.target) for x in links] == [("orig", "copy")]
    assert index.query(art("probe", TARGET, published="2025-06-16T11:30:00+03:00"))[0].source == "orig"
    assert len(index) == 3
    with pytest.raises(ValueError, match="already indexed"):
        index.add(art("orig", SOURCE))


def test_reuse_chains() -> None:
    def link(s: str, t: str, known: bool = True) -> ReuseLink:
        return ReuseLink(s, t, known, 0.5, (), "published" if known else "unknown")

    links = [link("a", "b"), link("b", "c"), link("c", "d"), link("x", "y"), link("b", "e"), link("q", "a", False)]
    assert reuse_chains(links) == [["a", "b", "c", "d"], ["a", "b", "e"]]


def test_bad_settings_fail_at_once() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ReuseIndex(ReuseSettings(window=0))


def test_member_is_isin_against_a_sorted_set() -> None:
    rng = np.random.default_rng(7)
    for size in (0, 1, 5, 60):
        pool = np.unique(rng.integers(0, 100, size=size)).astype(np.int32)
        values = rng.integers(-5, 110, size=300).astype(np.int32)
        assert np.array_equal(_member(values, pool), np.isin(values, pool))
