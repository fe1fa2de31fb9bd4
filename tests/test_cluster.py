from __future__ import annotations

from dataclasses import replace

import pytest

from rasd.cluster import (
    ClusterSettings,
    StoryClusterer,
    article_terms,
    cluster,
    fit_doc_freq,
    load_background,
    similarity,
    weigh,
)
from rasd.models import Article, Block, DuplicateSet

# Three stories written for these tests: a fire in a Jeddah hotel (two days, two reports a day),
# a football transfer, and the opening of a park in Taif; plus one undated follow-up on the fire.
FIRE_1A = "حريق في فندق بجدة يصيب 12 نزيلا", "اندلع حريق في فندق بحي الروضة في جدة فجر اليوم وأصيب 12 نزيلا باختناق ونقلتهم فرق الهلال الأحمر إلى المستشفى، وباشر الدفاع المدني إخماد الحريق في الطابق الرابع من الفندق."  # noqa: E501
FIRE_1B = "الدفاع المدني يخمد حريق فندق الروضة في جدة", "أخمدت فرق الدفاع المدني حريقا اندلع في فندق بحي الروضة في جدة، وأصيب 12 نزيلا بحالات اختناق نقلوا إلى المستشفى، وبدأ التحقيق في أسباب الحريق في الطابق الرابع."  # noqa: E501
FIRE_2A = "التحقيق في حريق فندق الروضة: تماس كهربائي في الطابق الرابع", "كشف التحقيق في حريق فندق بحي الروضة في جدة أن تماسا كهربائيا في الطابق الرابع سبب الحريق الذي أصاب 12 نزيلا، وأغلقت الأمانة الفندق حتى استكمال اشتراطات السلامة."  # noqa: E501
FIRE_2B = "إغلاق فندق الروضة في جدة بعد الحريق", "أغلقت أمانة جدة الفندق الذي شهد الحريق في حي الروضة بعد أن أثبت التحقيق أن تماسا كهربائيا في الطابق الرابع سبب الحريق وإصابة 12 نزيلا باختناق."  # noqa: E501
TRANSFER_A = "الاتحاد يتعاقد مع الحارس عساف القرني", "أعلن نادي الاتحاد التعاقد مع حارس مرمى الوحدة عساف القرني لمدة ثلاثة مواسم، وسيلتحق الحارس بمعسكر الفريق في ميلانو استعدادا للموسم الجديد في دوري المحترفين."  # noqa: E501
TRANSFER_B = "رسميا.. عساف القرني حارسا للاتحاد", "وقع حارس مرمى الوحدة عساف القرني عقدا مع نادي الاتحاد لثلاثة مواسم، ويلتحق بمعسكر الفريق في ميلانو خلال أيام تحضيرا لدوري المحترفين."  # noqa: E501
PARK = "أمير مكة يفتتح منتزه الردف في الطائف", "افتتح أمير منطقة مكة المكرمة منتزه الردف في محافظة الطائف، أكبر المشروعات السياحية والترفيهية في المحافظة، بمساحة تتجاوز مئة ألف متر مربع تضم ممرات للمشاة وألعابا للأطفال."  # noqa: E501


def art(aid: str, pair: tuple[str, str], published: str | None) -> Article:
    title, body = pair
    text = title + "\n\n" + body
    return Article(id=aid, text=text, title=title, source="test", published=published,
                   blocks=(Block(0, len(title), "title"), Block(len(title) + 2, len(text), "body")))


def corpus() -> list[Article]:
    return [
        art("fire-1a", FIRE_1A, "2025-06-15T08:00:00+03:00"),
        art("transfer-a", TRANSFER_A, "2025-06-15T09:00:00+03:00"),
        art("fire-1b", FIRE_1B, "2025-06-15T10:00:00+03:00"),
        art("park", PARK, "2025-06-15T11:00:00+03:00"),
        art("transfer-b", TRANSFER_B, "2025-06-15T12:00:00+03:00"),
        art("fire-2a", FIRE_2A, "2025-06-16T09:00:00+03:00"),
        art("fire-2b", FIRE_2B, "2025-06-16T10:00:00+03:00"),
    ]


def story_of(stories: list, aid: str):  # type: ignore[no-untyped-def]
    return next(s for s in stories if aid in s.articles)


def test_stories_and_events_on_written_fixtures() -> None:
    stories = cluster(corpus())
    fire = story_of(stories, "fire-1a")
    assert set(story_of(stories, "transfer-a").articles) == {"transfer-a", "transfer-b"}
    assert story_of(stories, "park").articles == ("park",)
    # The blaze and, a day later, the inquiry are one story (the next test splits its events).
    assert fire.articles == ("fire-1a", "fire-1b", "fire-2a", "fire-2b")
    assert fire.events[0].date == "2025-06-15"
    # Titles are real headlines of the cluster.
    assert fire.title in {FIRE_1A[0], FIRE_1B[0], FIRE_2A[0], FIRE_2B[0]}
    assert story_of(stories, "park").title == PARK[0]


def test_every_article_in_exactly_one_story_and_event() -> None:
    arts = corpus()
    stories = cluster(arts)
    in_stories = [a for s in stories for a in s.articles]
    in_events = [a for s in stories for e in s.events for a in e.articles]
    assert sorted(in_stories) == sorted(a.id for a in arts)
    assert sorted(in_events) == sorted(a.id for a in arts)


def test_ids_are_stable_across_runs_and_input_order() -> None:
    arts = corpus()
    first = cluster(arts)
    again = cluster(list(reversed(arts)))
    assert [(s.id, s.articles, [e.id for e in s.events]) for s in first] == [
        (s.id, s.articles, [e.id for e in s.events]) for s in again
    ]


def test_adding_articles_never_renumbers_existing_stories() -> None:
    arts = corpus()
    clusterer = StoryClusterer(ClusterSettings(), fit_doc_freq(arts))
    for a in arts[:5]:
        clusterer.add(a)
    before = {s.id: set(s.articles) for s in clusterer.stories()}
    for a in arts[5:]:
        clusterer.add(a)
    after = {s.id: set(s.articles) for s in clusterer.stories()}
    for sid, members in before.items():
        assert sid in after
        assert members <= after[sid]


def test_take_changes_reports_only_the_stories_a_batch_touched() -> None:
    arts = corpus()
    clusterer = StoryClusterer(ClusterSettings(), fit_doc_freq(arts))
    for a in arts[:4]:
        clusterer.add(a)
    first, gone = clusterer.take_changes()
    assert sorted(a for s in first.values() for a in s.articles) == sorted(a.id for a in arts[:4])
    assert gone == set()
    assert clusterer.take_changes() == ({}, set())  # nothing added since
    clusterer.add(arts[4])  # transfer-b joins transfer-a's story; the fire and park stories stay
    built, gone = clusterer.take_changes()
    assert [set(s.articles) for s in built.values()] == [{"transfer-a", "transfer-b"}]
    # What stories() returns is what the changes add up to.
    everything = dict(first)
    everything.update(built)
    assert sorted(everything.values(), key=lambda s: s.id) == sorted(clusterer.stories(), key=lambda s: s.id)


def test_restore_from_assignments_gives_the_same_stories() -> None:
    arts = corpus()
    doc_freq = fit_doc_freq(arts)
    clusterer = StoryClusterer(ClusterSettings(), doc_freq)
    for a in arts[:5]:
        clusterer.add(a)
    stored = clusterer.assignments()
    restored = StoryClusterer.restore(arts[:5], stored, ClusterSettings(), doc_freq)
    assert restored.assignments() == stored
    for a in arts[5:]:
        clusterer.add(a)
        restored.add(a)
    assert [(s.id, s.articles) for s in restored.stories()] == [(s.id, s.articles) for s in clusterer.stories()]


def test_undated_article_still_clustered_by_content() -> None:
    arts = [*corpus(), art("fire-undated", FIRE_2B, None)]
    stories = cluster(arts)
    assert "fire-undated" in story_of(stories, "fire-2b").articles


def test_near_duplicates_count_once_and_share_the_event() -> None:
    arts = [*corpus(), art("park-copy", PARK, "2025-06-15T11:30:00+03:00")]
    dup = DuplicateSet(articles=("park", "park-copy"), kind="exact", similarity=1.0)
    stories = cluster(arts, duplicates=[dup])
    park = story_of(stories, "park")
    assert set(park.articles) == {"park", "park-copy"}
    assert len(park.events) == 1


def test_time_window_splits_distant_reports() -> None:
    others = [a for a in corpus() if not a.id.startswith("transfer")]
    far = [art("t1", TRANSFER_A, "2025-06-01T09:00:00+03:00"), art("t2", TRANSFER_B, "2025-07-20T09:00:00+03:00")]
    near = [far[0], art("t2", TRANSFER_B, "2025-06-01T12:00:00+03:00")]
    assert story_of(cluster(far + others), "t1").articles == ("t1",)
    assert story_of(cluster(near + others), "t1").articles == ("t1", "t2")


def test_entities_pull_articles_together() -> None:
    a = art("a", ("بيان حول الزيارة", "أكد المتحدث أن الزيارة ناجحة وأن المباحثات تناولت ملفات عديدة."), None)
    b = art("b", ("تصريح بعد الاجتماع", "قال مسؤول إن الاجتماع بحث التعاون في مجالات الطاقة والنقل."), None)
    plain = similarity(a, b)
    # The NER stage gives one entity id per mention, so a name said twice counts twice.
    mentions = ["عادل الجبير", "عادل الجبير", "القاهرة"]
    linked = similarity(a, b, entities={"a": mentions, "b": mentions})
    unrelated = similarity(a, b, entities={"a": mentions, "b": ["سامح شكري", "واشنطن"]})
    assert plain == unrelated == 0.0
    assert linked >= ClusterSettings().same_story_threshold


def test_similarity_orders_same_story_above_different() -> None:
    arts = corpus()
    df = fit_doc_freq(arts)
    same = similarity(arts[0], arts[2], doc_freq=df)
    other = similarity(arts[0], arts[1], doc_freq=df)
    assert same >= ClusterSettings().same_story_threshold > other


def test_bad_settings_fail_at_once() -> None:
    with pytest.raises(ValueError, match="window"):
        ClusterSettings(event_window_days=5, story_window_days=1)
    with pytest.raises(ValueError, match="thresholds"):
        ClusterSettings(event_threshold=0)


def test_a_later_day_must_clear_the_new_day_bar() -> None:
    # With a strict event bar the blaze and the next day's inquiry are two events; the inquiry then
    # joins the blaze's story only if it clears the bar for a story last seen the day before (and
    # with merging off, the repair pass does not join the two stories afterwards).
    strict_events = replace(ClusterSettings(), event_threshold=0.45, merge_threshold=0.9)
    fire = story_of(cluster(corpus(), strict_events), "fire-1a")
    assert [e.articles for e in fire.events] == [("fire-1a", "fire-1b"), ("fire-2a", "fire-2b")]
    assert [e.date for e in fire.events] == ["2025-06-15", "2025-06-16"]
    raised = cluster(corpus(), replace(strict_events, new_day_threshold=0.9))
    assert story_of(raised, "fire-1a").articles == ("fire-1a", "fire-1b")
    assert story_of(raised, "fire-2a").articles == ("fire-2a", "fire-2b")


def test_diacritised_words_are_the_same_terms() -> None:
    plain = "محمد يزور جدة اليوم ويلتقي الامير"
    marked = "مُحَمَّدٌ يَزُورُ جُدَّةَ اليَوْمَ وَيَلتَقِي الأَمِيرَ"
    arts = [Article(id=i, text=t, blocks=(Block(0, len(t), "body"),)) for i, t in (("p", plain), ("m", marked))]
    assert article_terms(arts[0], ClusterSettings()) == article_terms(arts[1], ClusterSettings())
    assert len(article_terms(arts[1], ClusterSettings())) == 5  # اليوم is a stop word


def test_stories_output_follows_later_additions() -> None:
    arts = corpus()
    clusterer = StoryClusterer(ClusterSettings(), fit_doc_freq(arts))
    for a in arts[:4]:
        clusterer.add(a)
    first = clusterer.stories()
    assert clusterer.stories() == first  # nothing changed: the same output
    for a in arts[4:]:
        clusterer.add(a)
    again = clusterer.stories()
    assert again == cluster(arts)
    assert sorted(a for s in again for a in s.articles) == sorted(a.id for a in arts)


def test_duplicate_sets_may_name_articles_outside_the_batch() -> None:
    arts = [*corpus(), art("park-copy", PARK, "2025-06-15T11:30:00+03:00")]
    dup = DuplicateSet(articles=("elsewhere", "park-copy", "park"), kind="near", similarity=0.9)
    park = story_of(cluster(arts, duplicates=[dup]), "park")
    assert set(park.articles) == {"park", "park-copy"}


def test_an_old_article_added_late_does_not_hide_recent_ones() -> None:
    # A watcher may add an article published weeks earlier after recent ones; the recent articles
    # behind it in the index must still be found.
    arts = corpus()
    clusterer = StoryClusterer(ClusterSettings(), fit_doc_freq(arts))
    clusterer.add(arts[0])  # fire-1a, 15 June
    clusterer.add(art("old-fire", FIRE_1B, "2025-05-20T09:00:00+03:00"))  # an old copy
    clusterer.add(arts[2])  # fire-1b, 15 June
    stories = clusterer.stories()
    assert story_of(stories, "fire-1a").articles == ("fire-1a", "fire-1b")
    assert story_of(stories, "old-fire").articles == ("old-fire",)


def test_title_words_count_title_boost_times_whole_or_fractional() -> None:
    # An integral boost repeats the title's words before one count; a fractional one multiplies.
    title, body = "حريق في فندق جدة", "اندلع حريق في فندق بحي الروضة"
    text = title + "\n\n" + body
    blocks = (Block(0, len(title), "title"), Block(len(title) + 2, len(text), "body"))
    article = Article(id="a", text=text, blocks=blocks)
    whole = article_terms(article, replace(ClusterSettings(), title_boost=3.0))
    half = article_terms(article, replace(ClusterSettings(), title_boost=2.5))
    assert list(whole) == list(half)  # the same terms, in the order of the text
    fire = next(t for t in whole if whole[t] == 4)  # حريق: three times in the title, once in the body
    assert half[fire] == 3.5
    assert sorted(whole.values()) == [1, 1, 1, 3, 4, 4]  # جدة; اندلع, بحي, الروضة once; في is a stop word


def test_marks_and_underscores_around_words_change_no_term() -> None:
    plain = "أمير منطقة مكة يفتتح منتزه الردف"
    marked = "\u200fأمير منطقة_مكة يفتتح منتزه الردف\u200f"
    arts = [Article(id=i, text=t, blocks=(Block(0, len(t), "body"),)) for i, t in (("p", plain), ("m", marked))]
    assert article_terms(arts[0], ClusterSettings()) == article_terms(arts[1], ClusterSettings())


def test_vectors_are_unit_length_and_heaviest_first() -> None:
    arts = corpus()
    doc_freq = fit_doc_freq(arts)
    for a in arts:
        vec = weigh(article_terms(a, ClusterSettings()), doc_freq, ClusterSettings())
        weights = list(vec.values())
        assert weights == sorted(weights, reverse=True)
        assert abs(sum(w * w for w in weights) - 1.0) < 1e-9
        assert 0 < len(vec) <= ClusterSettings().vector_terms


def test_index_query_matches_a_plain_scan_of_the_postings() -> None:
    # The index reads its postings with C-level map/zip; a plain loop over (time, article, weight)
    # entries, pruned the same way, must find the same neighbours in the same order: equal
    # weights (ties), articles added out of time order, entries dropped from the window and
    # postings compacted.
    from collections import deque
    from itertools import islice

    from rasd.cluster import _ArticleIndex

    window, depth = 3.0, 20
    index = _ArticleIndex(window, depth)
    plain: dict[str, deque[tuple[float, str, float]]] = {}
    terms = [f"t{i}" for i in range(6)]
    appended: dict[str, int] = {}
    for n in range(400):
        t = n * 0.05 if n % 37 else n * 0.05 - 5.0  # every 37th article published days earlier
        vec = {term: (n * (i + 3) % 7 + 1) / 8 for i, term in enumerate(terms) if (n + i) % 3}
        if not vec:
            continue
        query = list(vec)[:3]
        cutoff = t - window
        acc: dict[str, float] = {}
        for term in query:
            for when, aid, w in islice(reversed(plain.get(term, ())), depth):
                if when >= cutoff:
                    acc[aid] = acc.get(aid, 0.0) + vec[term] * w
        expected = [a for a, _ in sorted(acc.items(), key=lambda kv: kv[1], reverse=True)[:5]]
        assert index.nearest(vec, query, t, 5) == expected
        index.add(f"a{n}", t, vec, list(vec))
        for term in vec:
            appended[term] = appended.get(term, 0) + 1
            post = plain.setdefault(term, deque())
            while post and post[0][0] < cutoff:
                post.popleft()
            post.append((t, f"a{n}", vec[term]))
    # Compacted as the window moved: a posting holds fewer entries than were ever added to it.
    assert any(len(p.docs) < appended[term] for term, p in index.postings.items())


def test_terms_are_the_same_with_a_cold_or_a_warm_word_cache() -> None:
    # New words are stemmed in place as they are met; the counts and their order (which breaks
    # ties between equal weights) must not depend on which words were seen before.
    from rasd import cluster as rc

    text = "ﻻ تمديد لمهلة كوفيد19 في جدة_الجديدة، وقال الوزير: لا تمديد لمهلة التسجيل ٢٠١٥"
    article = Article(id="w", text=text, title="تمديد المهلة", blocks=(Block(0, len(text), "body"),))
    rc._STEMS.clear()
    cold = list(article_terms(article, ClusterSettings(), ["وزير الصحة"]).items())
    warm = list(article_terms(article, ClusterSettings(), ["وزير الصحة"]).items())
    assert cold == warm
    # Title words first, counted title_boost (5) times; the article is removed before stemming
    # (المهلة -> مهل, as مهلة), a bare ل is not (لمهلة -> لمهل); ﻻ (a ligature) is the stop word لا;
    # the underscore splits جدة_الجديدة; Arabic-Indic digits are read as ASCII ones.
    assert cold == [("تمديد", 7), ("مهل", 5), ("لمهل", 2), ("كوفيد19", 1), ("جده", 1), ("جديد", 1),
                    ("زير", 1), ("تسجيل", 1), ("2015", 1), ("@وزير الصحه", 2.0)]


def test_the_shipped_background_table_speaks_this_stemmer() -> None:
    # Built from ANT by scripts/build_cluster_background.py with article_terms: if the stemmer or
    # article_terms change, the table must be rebuilt, or its terms stop matching the batch's.
    background = load_background()
    assert background.n == 10_161
    terms = {t for a in corpus() for t in article_terms(a, ClusterSettings())}
    assert sum(t in background.df for t in terms) / len(terms) >= 0.85


def test_background_weighs_a_common_word_below_a_rare_one_in_a_small_batch() -> None:
    # Each word is in one article of the seven, so the batch alone cannot tell them apart; the
    # background knows that "new" (جديد) is everywhere in the news and a park's name (الردف) is not.
    arts = corpus()
    common, rare = next(iter(article_terms(art("x", ("جديد", "جديد"), None), ClusterSettings()))), "ردف"
    batch_only = fit_doc_freq(arts, replace(ClusterSettings(), background_weight=0.0))
    with_background = fit_doc_freq(arts)
    assert batch_only.df[common] == batch_only.df[rare] == 1
    max_ratio = ClusterSettings().max_df_ratio
    assert batch_only.idf(common, max_ratio) == batch_only.idf(rare, max_ratio)
    assert with_background.idf(common, max_ratio) < 0.5 * with_background.idf(rare, max_ratio)


def test_a_word_common_in_the_batch_weighs_nothing_whatever_the_background() -> None:
    # Genre words of the batch's own press (rare in the background corpus) are cut as before.
    arts = [art(f"a{i}", ("خادم الحرمين", f"خادم الحرمين يستقبل الوفد رقم {i}"), None) for i in range(30)]
    doc_freq = fit_doc_freq(arts)
    assert doc_freq.idf("خادم", ClusterSettings().max_df_ratio) == 0.0
