"""The incremental pipeline: new articles analysed against the store, all-or-nothing per batch."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import pytest

from rasd.incremental import BatchResult, IncrementalPipeline, IncrementalSettings
from rasd.ingest.clean import make_article
from rasd.ingest.meta import parse_published
from rasd.models import Article
from rasd.store import Store

DATA = Path(__file__).resolve().parent / "data" / "watch_articles.json"


def fixture_articles() -> dict[str, Article]:
    out = {}
    for item in json.loads(DATA.read_text(encoding="utf-8")):
        text = item["title"] + "\n\n" + "\n\n".join(item["body"])
        out[item["slug"]] = make_article(
            text, title=item["title"], source=item["source"], url=f"https://news.example/{item['slug']}",
            published=parse_published(item["published"]),
        )
    return out


def story_of(store: Store, article_id: str) -> list[str]:
    return [r["story_id"] for r in store.query("SELECT story_id FROM story_articles WHERE article_id = ?",
                                               (article_id,))]


@pytest.fixture()
def arts() -> dict[str, Article]:
    return fixture_articles()


def test_pending_after_a_rowid_sees_only_later_articles(tmp_path: Path, arts: dict[str, Article]) -> None:
    with Store(tmp_path / "r.db") as store:
        store.upsert_articles([arts["water-1"]])
        (mark,) = store.db.execute("SELECT MAX(rowid) FROM articles").fetchone()
        store.upsert_articles([arts["football-1"]])
        inc = IncrementalPipeline(store)
        assert [a.id for a in inc.pending(after_rowid=mark)] == [arts["football-1"].id]
        assert {a.id for a in inc.pending()} == {arts["water-1"].id, arts["football-1"].id}
        inc.process_pending(after_rowid=mark)
        # Only the later article was analysed; a whole scan still finds the earlier one.
        assert story_of(store, arts["water-1"].id) == [] and len(story_of(store, arts["football-1"].id)) == 1
        assert [a.id for a in inc.pending()] == [arts["water-1"].id]


def test_batches_put_each_article_in_one_story_and_copies_together(tmp_path: Path, arts: dict[str, Article]) -> None:
    with Store(tmp_path / "r.db") as store:
        store.upsert_articles([arts["water-1"], arts["football-1"]])
        inc = IncrementalPipeline(store)
        assert [a.id for a in inc.pending()] == [arts["water-1"].id, arts["football-1"].id]
        first = inc.process_pending()
        assert sum(len(b.articles) for b in first) == 2
        assert inc.pending() == []
        store.upsert_articles([arts["water-2"], arts["football-1-copy"], arts["un-1"]])
        second = inc.process_pending()
        assert [len(b.articles) for b in second] == [3]
        for article in arts.values():
            if article.id in {a.id for b in first + second for a in b.articles}:
                assert len(story_of(store, article.id)) == 1, article.title
        # The wire copy is stored as a duplicate set and sits in its original's story.
        dups = store.query("SELECT kind, articles FROM duplicate_sets")
        assert [sorted(json.loads(d["articles"])) for d in dups] == [
            sorted([arts["football-1"].id, arts["football-1-copy"].id])
        ]
        assert story_of(store, arts["football-1-copy"].id) == story_of(store, arts["football-1"].id)
        # Two reports of the water rationing: one story, and unrelated news stays apart.
        assert story_of(store, arts["water-2"].id) == story_of(store, arts["water-1"].id)
        assert story_of(store, arts["un-1"].id) != story_of(store, arts["water-1"].id)
        # The story row was refreshed with both articles, its summary and its outlets.
        row = store.query("SELECT size, outlets, data FROM stories WHERE id = ?", story_of(store, arts["water-1"].id))
        assert row[0]["size"] == 2
        assert json.loads(row[0]["outlets"]) == sorted(["وكالة الساحل", "صحيفة الشروق"])
        data = json.loads(row[0]["data"])
        assert data["summary"] and all(s["article"] in data["articles"] for s in data["summary"])
        # Dates of the new articles are stored once each.
        dated = store.query("SELECT article_id, COUNT(*) AS n FROM dates GROUP BY article_id")
        assert {d["article_id"] for d in dated} >= {arts["water-1"].id, arts["water-2"].id}


def test_restart_rebuilds_state_and_keeps_story_ids(tmp_path: Path, arts: dict[str, Article]) -> None:
    path = tmp_path / "r.db"
    with Store(path) as store:
        store.upsert_articles([arts["water-1"], arts["water-2"], arts["football-1"]])
        IncrementalPipeline(store).process_pending()
        water_story = story_of(store, arts["water-1"].id)
        stories_before = store.query("SELECT id FROM stories ORDER BY id")
    with Store(path) as store:
        inc = IncrementalPipeline(store)
        assert inc.pending() == []
        store.upsert_articles([arts["water-3"], arts["football-1-copy"]])
        inc.process_pending()
        # The protest report joins the stored water story under its stored id, the copy joins
        # its original, and no article was analysed twice (one row of each per article).
        assert story_of(store, arts["water-3"].id) == water_story
        assert story_of(store, arts["football-1-copy"].id) == story_of(store, arts["football-1"].id)
        assert {r["id"] for r in stories_before} <= {r["id"] for r in store.query("SELECT id FROM stories")}
        counts = store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id")
        assert len(counts) == 5 and all(c["n"] == 1 for c in counts)


def test_a_failed_batch_writes_nothing_and_is_redone(tmp_path: Path, arts: dict[str, Article]) -> None:
    with Store(tmp_path / "r.db") as store:
        store.upsert_articles([arts["water-1"], arts["water-2"]])
        inc = IncrementalPipeline(store)

        def crash(_store: Store, _batch: BatchResult) -> None:
            raise RuntimeError("killed before commit")

        with pytest.raises(RuntimeError):
            inc.process_pending(crash)
        for table in ("story_articles", "stories", "dates", "quotes", "mentions", "reuse_links", "processed"):
            assert store.query(f"SELECT COUNT(*) AS n FROM {table}")[0]["n"] == 0, table
        assert len(inc.pending()) == 2
        done = inc.process_pending()
        assert sum(len(b.articles) for b in done) == 2
        quotes_once = store.query("SELECT COUNT(*) AS n FROM quotes")[0]["n"]
        assert IncrementalPipeline(store).process_pending() == []
        assert store.query("SELECT COUNT(*) AS n FROM quotes")[0]["n"] == quotes_once


def test_new_version_of_a_page_is_processed_and_old_one_kept(tmp_path: Path, arts: dict[str, Article]) -> None:
    with Store(tmp_path / "r.db") as store:
        old = arts["un-1"]
        store.upsert_articles([old])
        inc = IncrementalPipeline(store)
        inc.process_pending()
        edited = make_article(old.text.replace("عشرين شاحنة", "ثلاثين شاحنة"), title=old.title, source=old.source,
                              url=old.url, published=old.published)
        result = store.upsert_articles([edited])
        assert result.versions == [(edited.id, old.id)]
        assert [a.id for a in inc.pending()] == [edited.id]
        inc.process_pending()
        assert len(story_of(store, edited.id)) == 1
        assert inc.pending() == []


def test_an_article_given_twice_in_one_batch_is_analysed_once(tmp_path: Path, arts: dict[str, Article]) -> None:
    tables = ("story_articles", "quotes", "dates", "mentions", "processed")
    counts = []
    for name, batch in (("twice", [arts["water-1"], arts["water-2"], arts["water-1"]]),
                        ("once", [arts["water-1"], arts["water-2"]])):
        with Store(tmp_path / f"{name}.db") as store:
            store.upsert_articles(batch)
            result = IncrementalPipeline(store).process(batch)
            assert sorted(a.id for a in result.articles) == sorted({a.id for a in batch})
            counts.append({t: store.query(f"SELECT COUNT(*) AS n FROM {t}")[0]["n"] for t in tables})
    assert counts[0] == counts[1]


def test_entity_rows_count_the_mentions_written_across_batches(tmp_path: Path, arts: dict[str, Article]) -> None:
    with Store(tmp_path / "r.db") as store:
        inc = IncrementalPipeline(store)
        # Water reports one by one: the later ones name entities the first one stored.
        for slug in ("water-1", "water-2", "water-3", "un-1"):
            store.upsert_articles([arts[slug]])
            inc.process([arts[slug]])
        rows = store.query(
            "SELECT e.id, e.mention_count, (SELECT COUNT(*) FROM mentions m WHERE m.entity_id = e.id) AS n,"
            " (SELECT COUNT(DISTINCT m.article_id) FROM mentions m WHERE m.entity_id = e.id) AS articles"
            " FROM entities e"
        )
        assert rows and all(r["mention_count"] == r["n"] for r in rows)
        assert any(r["articles"] > 1 for r in rows)  # some entity was updated, not only inserted


def test_the_rebuilt_indexes_are_frozen_out_of_the_garbage_collector(tmp_path: Path) -> None:
    try:
        gc.unfreeze()
        with Store(tmp_path / "r.db") as store:
            IncrementalPipeline(store, incremental=IncrementalSettings(freeze_after_rebuild=False))
            assert gc.get_freeze_count() == 0
            IncrementalPipeline(store)
            assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
