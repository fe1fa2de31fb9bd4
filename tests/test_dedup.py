"""Exact and near duplicates on small Arabic texts written for these tests."""

from __future__ import annotations

import pytest

from rasd.dedup import DedupSettings, DuplicateIndex, find_duplicates
from rasd.models import Article, Block

WIRE = (
    "الرياض - أعلنت وزارة الصحة اليوم عن افتتاح ثلاثة مستشفيات جديدة في منطقة جازان بطاقة "
    "استيعابية تبلغ ستمائة سرير، وذلك ضمن خطة الوزارة لتوسيع الخدمات الصحية في المناطق الجنوبية. "
    "وقال المتحدث الرسمي باسم الوزارة إن المستشفيات الجديدة ستبدأ استقبال المرضى مطلع الشهر المقبل، "
    "وإن الوزارة استقطبت أكثر من ألف طبيب وممرض للعمل فيها. وأضاف أن تكلفة المشروع بلغت "
    "مليارا ومئتي مليون ريال، وأن العمل جار على إنشاء مركزين للرعاية الأولية في محافظتي صبيا وأبو عريش."
)
OTHER = (
    "جدة - شهدت أسواق الخضار والفواكه في المدينة ارتفاعا ملحوظا في الأسعار خلال الأسبوع الماضي، "
    "بسبب تراجع الكميات الواردة من المزارع بعد موجة الحر التي ضربت المنطقة. وطالب المستهلكون "
    "الجهات المختصة بمراقبة الأسعار ومنع التلاعب بها، فيما أكد التجار أن الارتفاع مؤقت."
)


def art(aid: str, text: str, blocks: tuple[Block, ...] | None = None, source: str = "outlet") -> Article:
    return Article(id=aid, text=text, blocks=blocks if blocks is not None else (Block(0, len(text), "body"),),
                   source=source, published="2025-06-15T10:00:00+03:00")


def test_exact_copy_with_other_spelling_and_masthead_is_exact() -> None:
    masthead = "صحيفة الوطن | الصفحة الأولى\n"
    copied = masthead + WIRE.replace("إن", "ان").replace("أعلنت", "أعْلَنَت")
    blocks = (Block(0, len(masthead), "boilerplate"), Block(len(masthead), len(copied), "body"))
    sets = find_duplicates([art("a", WIRE), art("b", copied, blocks), art("c", OTHER)])
    assert len(sets) == 1
    assert sets[0].articles == ("a", "b")
    assert (sets[0].kind, sets[0].similarity) == ("exact", 1.0)


def test_exact_copy_through_unicode_variants_is_exact() -> None:
    # Presentation-form ligature (not NFKC-normalised: the whole text is normalised), no-break
    # spaces, tatweel, a zero-width joiner inside a word and Arabic-Indic digits: one text.
    variant = (
        WIRE.replace("لا", "\ufefb", 1).replace(" ", "\xa0", 5).replace("الصحة", "الصـــحة")
        .replace("الوزارة", "الوز\u200dارة", 1) + " ٢٠٢٥"
    )
    plain = WIRE + " 2025"
    sets = find_duplicates([art("a", plain), art("b", variant), art("c", OTHER)])
    assert [(s.articles, s.kind, s.similarity) for s in sets] == [(("a", "b"), "exact", 1.0)]
    index = DuplicateIndex()
    index.add(art("a", plain))
    assert index.add(art("b", variant)) == ["a"]
    assert index.signature(art("a", plain)).content_hash == index.signature(art("b", variant)).content_hash
    # A word change is a different text.
    assert index.signature(art("x", plain.replace("ثلاثة", "أربعة"))).content_hash != index.signature(
        art("a", plain)).content_hash


def test_lightly_edited_copy_is_near() -> None:
    edited = WIRE.replace("الرياض - ", "جازان - ") + " وكان أمير المنطقة قد دشن المشروع العام الماضي."
    sets = find_duplicates([art("a", WIRE), art("b", edited), art("c", OTHER)])
    assert len(sets) == 1
    assert sets[0].kind == "near"
    assert sets[0].articles == ("a", "b")
    assert DedupSettings().threshold <= sets[0].similarity < 1.0


def test_different_stories_are_not_duplicates() -> None:
    assert find_duplicates([art("a", WIRE), art("b", OTHER)]) == []


def test_one_text_carried_by_100_outlets_is_one_set() -> None:
    articles = []
    for n in range(100):
        text = f"{WIRE}\nالمصدر: المنفذ {n}"
        body_end = len(WIRE)
        blocks = (Block(0, body_end, "body"), Block(body_end + 1, len(text), "credit"))
        articles.append(art(f"o{n:03d}", text, blocks, source=f"outlet {n}"))
    # Two outlets cut the last clause: still one set, now a near one.
    trimmed = WIRE[: WIRE.rindex("، وأن العمل")] + "."
    articles += [art("t1", trimmed), art("t2", trimmed)]
    sets = find_duplicates(articles)
    assert len(sets) == 1
    assert len(sets[0].articles) == 102
    assert sets[0].kind == "near"


def test_all_boilerplate_and_empty_articles_are_ignored() -> None:
    boiler = "جميع الحقوق محفوظة ٢٠٢٥ اشترك في النشرة البريدية"
    articles = [
        art("b1", boiler, (Block(0, len(boiler), "boilerplate"),)),
        art("b2", boiler, (Block(0, len(boiler), "boilerplate"),)),
        art("e1", "... ؟ !! ـــ"),
        art("e2", "... ؟ !! ـــ"),
        art("n", ""),
    ]
    assert find_duplicates(articles) == []


def _long_text(n_chars: int, seed: int) -> str:
    # Words of the fixtures in a pseudo-random order: long, varied, and reproducible.
    vocab = sorted(set((WIRE + " " + OTHER).split()))
    words, x, size = [], seed, 0
    while size < n_chars:
        x = (x * 1103515245 + 12345) % 2**31
        words.append(vocab[(x >> 8) % len(vocab)])
        size += len(words[-1]) + 1
    return " ".join(words)


def test_one_megabyte_article() -> None:
    big = _long_text(1_000_000, seed=7)
    assert len(big) > 990_000
    sets = find_duplicates([art("big", big), art("big2", big), art("small", WIRE)])
    assert [s.articles for s in sets] == [("big", "big2")]


def test_incremental_index_reports_what_it_duplicates() -> None:
    index = DuplicateIndex()
    assert index.add(art("a", WIRE)) == []
    assert index.add(art("c", OTHER)) == []
    assert index.add(art("b", WIRE)) == ["a"]
    edited = WIRE.replace("الرياض - ", "جازان - ")
    assert index.add(art("d", edited)) == ["a", "b"]
    assert len(index) == 4
    with pytest.raises(ValueError, match="already indexed"):
        index.add(art("a", OTHER))


def test_bad_settings_fail_at_once() -> None:
    with pytest.raises(ValueError, match="Jaccard"):
        DuplicateIndex(DedupSettings(threshold=1.5))


def test_sets_among_given_articles_are_those_of_all_sets_that_hold_them() -> None:
    index = DuplicateIndex()
    other_copy = OTHER.replace("جدة - ", "مكة - ")
    edited = WIRE.replace("الرياض - ", "جازان - ") + " وكان أمير المنطقة قد دشن المشروع العام الماضي."
    for a in (art("a", WIRE), art("x", OTHER), art("b", WIRE), art("y", other_copy), art("c", edited),
              art("lone", WIRE[:200] + OTHER)):
        index.add(a)
    every = index.sets()
    assert [d.articles for d in every] == [("a", "b", "c"), ("x", "y")]
    assert every[0].kind == "near" and every[0].similarity < 1.0
    assert index.sets(among=["c"]) == [every[0]]
    assert index.sets(among=["y", "b"]) == every
    assert index.sets(among=["lone", "unknown"]) == []
