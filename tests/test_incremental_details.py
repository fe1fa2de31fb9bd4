"""Story details in the incremental pipeline: a big story is updated from its new articles only,
and what that gives equals what the pipeline's own stage gives over all its articles."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

from rasd import pipeline
from rasd.incremental import IncrementalPipeline, IncrementalSettings
from rasd.ingest.clean import make_article
from rasd.models import Analysis, Article, Event, Story, TimeRef
from rasd.report import build_report, story_entry
from rasd.settings import Settings
from rasd.store import Store
from tests.test_incremental import fixture_articles, story_of

# Every story of more than one article is extended rather than detailed again, until it has grown
# by 150% since its summary: 1 article (full), 2 (extended), 3 (>= 2.5 x 1: full again).
EXTEND = IncrementalSettings(summary_full_size=1, summary_growth=1.5)


def stored_story(store: Store, story_id: str) -> dict[str, object]:
    return json.loads(store.query("SELECT data FROM stories WHERE id = ?", (story_id,))[0]["data"])


def full_details(store: Store, story_id: str) -> dict[str, object]:
    """The story as run_story_details makes it from all of its stored articles and dates."""
    data = stored_story(store, story_id)
    articles = [store.article(a) for a in data["articles"]]  # type: ignore[union-attr]
    events = tuple(Event(e["id"], tuple(e["articles"]), None, e["title"]) for e in data["events"])  # type: ignore[index]
    story = Story(story_id, str(data["title"]), tuple(data["articles"]), events)  # type: ignore[arg-type]
    dates = [TimeRef(r["article_id"], r["text"], (r["start"], r["end"]), r["value"], r["anchor"], r["warning"])
             for r in store.query("SELECT * FROM dates ORDER BY article_id, start")]
    analysis = Analysis(articles=[a for a in articles if a is not None], stories=[story], dates=dates)
    pipeline.run_story_details(analysis, Settings())
    return story_entry(analysis.stories[0])


def test_a_growing_story_is_extended_exactly_and_summarised_again_once_grown(tmp_path: Path) -> None:
    arts = fixture_articles()
    with Store(tmp_path / "r.db") as store:
        inc = IncrementalPipeline(store, incremental=EXTEND)
        store.upsert_articles([arts["water-1"]])
        inc.process_pending()
        story_id = story_of(store, arts["water-1"].id)[0]
        first_summary = stored_story(store, story_id)["summary"]
        assert first_summary and {s["article"] for s in first_summary} == {arts["water-1"].id}  # type: ignore[index]

        store.upsert_articles([arts["water-2"], arts["football-1-copy"], arts["un-1"]])
        inc.process_pending()
        assert story_of(store, arts["water-2"].id) == [story_id]
        extended, full = stored_story(store, story_id), full_details(store, story_id)
        # Timeline and event dates come out as if every article had been analysed again...
        assert extended["timeline"] == full["timeline"]
        assert extended["timeline"], "the water story names dates"
        assert extended["events"] == full["events"]
        assert extended["articles"] == full["articles"]
        # ...while the summary is still the one made from the first article.
        assert extended["summary"] == first_summary

        store.upsert_articles([arts["water-3"]])
        inc.process_pending()
        assert story_of(store, arts["water-3"].id) == [story_id]
        # Grown by 150% since its summary: detailed in full, summary included.
        assert stored_story(store, story_id) == full_details(store, story_id)


def test_after_a_restart_the_stored_story_is_extended(tmp_path: Path) -> None:
    arts = fixture_articles()
    path = tmp_path / "r.db"
    with Store(path) as store:
        store.upsert_articles([arts["water-1"], arts["football-1"]])
        IncrementalPipeline(store, incremental=EXTEND).process_pending()
        story_id = story_of(store, arts["water-1"].id)[0]
        before = stored_story(store, story_id)
    with Store(path) as store:
        inc = IncrementalPipeline(store, incremental=replace(EXTEND, summary_growth=5.0))
        store.upsert_articles([arts["water-2"], arts["water-3"], arts["football-1-copy"], arts["un-1"]])
        inc.process_pending()
        after, full = stored_story(store, story_id), full_details(store, story_id)
        assert len(after["articles"]) == 3  # type: ignore[arg-type]
        assert after["timeline"] == full["timeline"]
        assert after["events"] == full["events"]
        # The summary read back from the store is kept: the story has not grown enough.
        assert after["summary"] == before["summary"]
        assert full["summary"] != before["summary"]


def test_continues_from_a_store_the_batch_pipeline_analysed(tmp_path: Path) -> None:
    arts = fixture_articles()
    with Store(tmp_path / "r.db") as store:
        store.upsert_articles([arts["water-1"], arts["football-1"], arts["un-1"]])
        analysis = pipeline.analyze(list(store.articles()), Settings())
        store.save_analysis(build_report(analysis, Settings().report))
        water_story = story_of(store, arts["water-1"].id)
        inc = IncrementalPipeline(store)
        assert inc.pending() == [] and inc.restored == 3
        store.upsert_articles([arts["water-2"], arts["football-1-copy"]])
        [batch] = inc.process_pending()
        assert len(batch.articles) == 2
        assert story_of(store, arts["water-2"].id) == water_story
        assert story_of(store, arts["football-1-copy"].id) == story_of(store, arts["football-1"].id)
        counts = store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id")
        assert len(counts) == 5 and all(c["n"] == 1 for c in counts)
        assert IncrementalPipeline(store).pending() == []


def moved(article: Article, days: int) -> Article:
    """The same report published ``days`` later (a different text, so a different article)."""
    when = datetime.fromisoformat(article.published or "") + timedelta(days=days)
    return make_article(f"{article.text}\n\nتحديث {days}.", title=article.title, source=article.source,
                        url=f"{article.url}-{days}", published=when.isoformat())


def test_only_live_stories_are_restored_and_old_ones_are_left_as_stored(tmp_path: Path) -> None:
    arts = fixture_articles()
    path = tmp_path / "r.db"
    old = [moved(arts["un-1"], -30)]
    with Store(path) as store:
        store.upsert_articles(old)
        IncrementalPipeline(store).process_pending()
        store.upsert_articles([arts["water-1"], arts["football-1"]])
        IncrementalPipeline(store).process_pending()
        old_rows = store.query("SELECT * FROM stories WHERE id IN (SELECT story_id FROM story_articles"
                               " WHERE article_id = ?) ORDER BY id", [a.id for a in old])
    with Store(path) as store:
        inc = IncrementalPipeline(store)
        # A month-old story can take no new article: it is not loaded, and not analysed again.
        assert inc.restored == 2
        assert inc.pending() == []
        store.upsert_articles([arts["water-2"], arts["water-3"], moved(arts["un-1"], -29)])
        inc.process_pending()
        assert story_of(store, arts["water-2"].id) == story_of(store, arts["water-1"].id)
        counts = store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id")
        assert len(counts) == 6 and all(c["n"] == 1 for c in counts)
        assert old_rows and store.query("SELECT * FROM stories WHERE id IN (SELECT story_id FROM story_articles"
                           " WHERE article_id = ?) ORDER BY id", [a.id for a in old]) == old_rows
