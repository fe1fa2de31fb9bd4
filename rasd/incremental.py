"""The incremental pipeline: only new articles are analysed, against what the store already holds.

The batch pipeline (``rasd analyze``) recomputes everything; a watcher cannot afford that for each
new item. Here the online indexes of the stages (:class:`rasd.dedup.DuplicateIndex`,
:class:`rasd.reuse.ReuseIndex`, :class:`rasd.cluster.StoryClusterer`) are rebuilt from the store
once, at start-up, and then each new article is added to them. Entities, quotes and dates of the
new articles come from the pipeline's own stage functions run over the batch; summaries and
timelines are refreshed only for the stories the batch changed.

Crash safety: an article counts as processed when it has a row in ``story_articles``; every row a
batch produces (duplicates, reuse, entities, quotes, dates, stories and the caller's alerts) is
written in one transaction, so a run killed at any moment leaves either the whole batch or none of
it, and the next start processes exactly the articles without a story.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rasd import pipeline
from rasd.cluster import StoryClusterer
from rasd.dedup import DuplicateIndex
from rasd.models import Analysis, Article, Entity, Story, TimeRef
from rasd.report import date_entry, quote_entry, reuse_entry, story_entry
from rasd.reuse import ReuseIndex
from rasd.settings import Settings
from rasd.store import Store


@dataclass(frozen=True, slots=True)
class IncrementalSettings:
    # Articles analysed per transaction. A feed poll brings a few to a few dozen new items; 50
    # keeps one commit per cycle in the usual case while a backlog (a first start on a store
    # filled by `rasd ingest`) still commits every few seconds, so a kill loses little work.
    batch_size: int = 50
    # At start-up the reuse index is rebuilt only from articles published within this many days
    # of the newest one. ReuseIndex has no way to index an article without aligning it with its
    # candidates, so rebuilding costs the alignments again: measured 30-130 ms per SaudiNewsNet
    # article (dense wire copy), i.e. minutes for a week of 14 outlets. Outlets carry wire copy
    # the same day, so one day keeps nearly all live reuse links; older sources are missed.
    reuse_window_days: float = 1.0


@dataclass
class BatchResult:
    """What one processed batch changed; alert rules read it."""

    articles: list[Article] = field(default_factory=list)
    #: story id per new article (after repairs).
    story_of: dict[str, str] = field(default_factory=dict)
    #: stories written again (new, grown, merged into, split from).
    stories: list[Story] = field(default_factory=list)
    #: stories that no longer exist (merged into another).
    removed_stories: list[str] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    duplicates: int = 0
    reuse: int = 0
    quotes: int = 0
    dates: int = 0
    seconds: float = 0.0
    #: CPU seconds per step of the batch, for the benchmark.
    cpu: dict[str, float] = field(default_factory=dict)


BeforeCommit = Callable[[Store, BatchResult], None]


def _time(published: str | None) -> float:
    if not published:
        return float("inf")
    try:
        value = datetime.fromisoformat(published.replace("Z", "+00:00"))
    except ValueError:
        return float("inf")
    return value.timestamp() if value.tzinfo else value.replace(tzinfo=None).timestamp()


def _order(articles: Iterable[Article]) -> list[Article]:
    return sorted(articles, key=lambda a: (_time(a.published), a.id))


class IncrementalPipeline:
    """The stage indexes for one store, kept in memory and advanced one batch at a time."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        incremental: IncrementalSettings = IncrementalSettings(),
        clock: Callable[[], float] = time.time,
    ) -> None:
        if incremental.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {incremental.batch_size}")
        self.store = store
        self.settings = settings or Settings()
        self.incremental = incremental
        self.clock = clock
        self.dedup = DuplicateIndex(self.settings.dedup)
        self.reuse = ReuseIndex(self.settings.reuse)
        self.clusterer = StoryClusterer(self.settings.cluster)
        self.rebuild_seconds = 0.0
        self.rebuild()

    # -- start-up -----------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Rebuild every index from the processed articles in the store (their stored stories)."""
        start = time.perf_counter()
        s = self.settings
        self.dedup = DuplicateIndex(s.dedup)
        self.reuse = ReuseIndex(s.reuse)
        assignments: dict[str, tuple[str, str]] = {}
        for row in self.store.db.execute("SELECT story_id, event_id, article_id FROM story_articles"):
            # A story written by `rasd analyze` may list an article outside every event.
            assignments[row[2]] = (row[0], row[1] or f"e-{row[0]}")
        articles = _order(a for a in self.store.articles(latest_only=False) if a.id in assignments)
        newest = max((_time(a.published) for a in articles if a.published), default=float("inf"))
        reuse_from = newest - self.incremental.reuse_window_days * 86_400.0
        for article in articles:
            self.dedup.add(article)
            if _time(article.published) >= reuse_from:
                self.reuse.add(article)
        self.clusterer = StoryClusterer.restore(
            articles, assignments, s.cluster, entities=self._stored_entity_ids()
        )
        self.rebuild_seconds = time.perf_counter() - start

    def _stored_entity_ids(self) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for row in self.store.db.execute(
            "SELECT m.article_id, m.entity_id FROM mentions m JOIN entities e ON e.id = m.entity_id"
            " WHERE e.type IN ('PER', 'ORG', 'LOC')"
        ):
            out.setdefault(row[0], []).append(row[1])
        return out

    # -- processing ---------------------------------------------------------------------------

    def pending(self) -> list[Article]:
        """Latest versions of stored articles that are in no story yet, in publication order."""
        rows = self.store.db.execute(
            "SELECT id FROM articles WHERE id NOT IN (SELECT article_id FROM story_articles)"
            " AND id NOT IN (SELECT supersedes FROM articles WHERE supersedes IS NOT NULL)"
        ).fetchall()
        found = (self.store.article(r[0]) for r in rows)
        return _order(a for a in found if a is not None)

    def process_pending(self, before_commit: BeforeCommit | None = None) -> list[BatchResult]:
        pending = self.pending()
        size = self.incremental.batch_size
        return [self.process(pending[i : i + size], before_commit) for i in range(0, len(pending), size)]

    def process(self, articles: Sequence[Article], before_commit: BeforeCommit | None = None) -> BatchResult:
        """Analyse ``articles`` (already stored) against everything processed before; write it all
        in one transaction. On any error the indexes are rebuilt from the store, which the failed
        batch did not touch, and the error is raised."""
        start = time.perf_counter()
        batch = [a for a in _order(articles) if a.id not in self.clusterer.docs]
        result = BatchResult(articles=batch)
        if not batch:
            return result
        try:
            self._process(batch, result, before_commit)
        except Exception:
            self.rebuild()
            raise
        result.seconds = time.perf_counter() - start
        return result

    def _process(self, batch: list[Article], result: BatchResult, before_commit: BeforeCommit | None) -> None:
        s = self.settings
        tick = _Ticker(result.cpu)
        copies: dict[str, list[str]] = {}
        links = []
        for article in batch:
            dups = self.dedup.add(article)
            if dups:
                copies[article.id] = dups
        tick("duplicates")
        for article in batch:
            links.extend(self.reuse.add(article))
        tick("reuse")
        mini = Analysis(articles=list(batch))
        pipeline.run_entities(mini, s)
        tick("entities")
        pipeline.run_quotes(mini, s)
        tick("quotes")
        pipeline.run_dates(mini, s)
        tick("dates")
        entity_ids: dict[str, list[str]] = {}
        for entity in mini.entities:
            if entity.type in ("PER", "ORG", "LOC"):
                for mention in entity.mentions:
                    entity_ids.setdefault(mention.article, []).append(entity.id)
        before = self.clusterer.assignments()
        for article in batch:
            # A copy joins its earliest indexed original's event, as in the batch pipeline.
            originals = sorted(
                (o for o in copies.get(article.id, ()) if o in self.clusterer.docs),
                key=lambda o: self.clusterer.docs[o].key,
            )
            self.clusterer.add(article, entity_ids.get(article.id, ()), originals[0] if originals else None)
        stories = {st.id: st for st in self.clusterer.stories()}
        after = self.clusterer.assignments()
        changed: set[str] = set()
        for aid, (story_id, event_id) in after.items():
            old = before.get(aid)
            if old != (story_id, event_id):
                changed.add(story_id)
                if old is not None:
                    changed.add(old[0])
        result.story_of = {a.id: after[a.id][0] for a in batch}
        result.removed_stories = sorted(c for c in changed if c not in stories)
        tick("stories")
        result.stories = self._details([stories[c] for c in sorted(changed) if c in stories], mini)
        tick("summaries and timelines")
        result.entities = mini.entities
        result.reuse = len(links)
        result.quotes = len(mini.quotes)
        result.dates = len(mini.dates)
        dup_sets = []
        if copies:
            touched = set(copies)
            dup_sets = [d for d in self.dedup.sets() if touched & set(d.articles)]
        result.duplicates = len(dup_sets)
        with self.store.transaction() as db:
            self._write_duplicates(db, dup_sets)
            db.executemany(
                "INSERT OR REPLACE INTO reuse_links VALUES (?, ?, ?, ?, ?)",
                [(link.source, link.target, int(link.direction_known), link.score,
                  _dumps(reuse_entry(link, s.report.max_passages_per_pair))) for link in links],
            )
            self._write_entities(db, mini.entities)
            db.executemany(
                "INSERT INTO quotes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(q["article"], q["speaker"], q["speaker_text"], q["text"], q["span"][0], q["span"][1],
                  int(q["direct"])) for q in map(quote_entry, mini.quotes)],
            )
            db.executemany(
                "INSERT INTO dates VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(d["article"], d["text"], d["span"][0], d["span"][1], d["value"], d["anchor"], d["warning"])
                 for d in map(date_entry, mini.dates)],
            )
            self._write_stories(db, result.stories, result.removed_stories)
            now = self.clock()
            db.executemany(
                "INSERT OR REPLACE INTO processed VALUES (?, ?)", [(a.id, now) for a in batch]
            )
            if before_commit is not None:
                before_commit(self.store, result)
        tick("store")

    def _details(self, stories: list[Story], mini: Analysis) -> list[Story]:
        """Event dates, timelines and summaries of the changed stories, by the pipeline's own stage."""
        if not stories:
            return []
        fresh = {a.id: a for a in mini.articles}
        wanted = {a for st in stories for a in st.articles}
        members = [fresh[a] if a in fresh else self.store.article(a) for a in sorted(wanted)]
        refs = list(mini.dates) + self._stored_dates(wanted - set(fresh))
        analysis = Analysis(articles=[a for a in members if a is not None], stories=stories, dates=refs)
        pipeline.run_story_details(analysis, self.settings)
        return analysis.stories

    def _stored_dates(self, ids: set[str]) -> list[TimeRef]:
        out: list[TimeRef] = []
        for chunk in _chunks(sorted(ids), 500):
            marks = ",".join("?" * len(chunk))
            for r in self.store.db.execute(
                f'SELECT article_id, text, start, "end", value, anchor, warning FROM dates'
                f" WHERE article_id IN ({marks}) ORDER BY article_id, start",
                chunk,
            ):
                out.append(TimeRef(r[0], r[1], (r[2], r[3]), r[4], r[5], r[6]))
        return out

    # -- writing (the shapes of Store.save_analysis) -----------------------------------------

    @staticmethod
    def _write_duplicates(db: Any, dup_sets: list[Any]) -> None:
        members = sorted({a for d in dup_sets for a in d.articles})
        for chunk in _chunks(members, 500):
            marks = ",".join("?" * len(chunk))
            db.execute(
                "DELETE FROM duplicate_sets WHERE id IN (SELECT d.id FROM duplicate_sets d, json_each(d.articles) j"
                f" WHERE j.value IN ({marks}))",
                chunk,
            )
        db.executemany(
            "INSERT INTO duplicate_sets (kind, similarity, articles) VALUES (?, ?, ?)",
            [(d.kind, round(d.similarity, 4), json.dumps(list(d.articles))) for d in dup_sets],
        )

    @staticmethod
    def _write_entities(db: Any, entities: list[Entity]) -> None:
        for entity in entities:
            row = db.execute("SELECT aliases FROM entities WHERE id = ?", (entity.id,)).fetchone()
            if row is None:
                db.execute(
                    "INSERT INTO entities VALUES (?, ?, ?, ?, ?)",
                    (entity.id, entity.type, entity.name, _dumps(list(entity.aliases)), len(entity.mentions)),
                )
            else:
                aliases = sorted(set(json.loads(row[0])) | set(entity.aliases))
                db.execute(
                    "UPDATE entities SET aliases = ?, mention_count = mention_count + ? WHERE id = ?",
                    (_dumps(aliases), len(entity.mentions), entity.id),
                )
            db.executemany(
                "INSERT INTO mentions VALUES (?, ?, ?, ?, ?, ?)",
                [(entity.id, m.article, m.span[0], m.span[1], m.text, m.title) for m in entity.mentions],
            )

    @staticmethod
    def _write_stories(db: Any, stories: list[Story], removed: list[str]) -> None:
        for story_id in [st.id for st in stories] + removed:
            db.execute("DELETE FROM stories WHERE id = ?", (story_id,))
            db.execute("DELETE FROM story_articles WHERE story_id = ?", (story_id,))
        for story in stories:
            # An article that moved here from a story not rewritten in this batch leaves it.
            for chunk in _chunks(list(story.articles), 500):
                marks = ",".join("?" * len(chunk))
                db.execute(f"DELETE FROM story_articles WHERE article_id IN ({marks})", chunk)
            published: list[str] = []
            outlets: set[str] = set()
            for chunk in _chunks(list(story.articles), 500):
                marks = ",".join("?" * len(chunk))
                for r in db.execute(f"SELECT published, source FROM articles WHERE id IN ({marks})", chunk):
                    if r[0]:
                        published.append(r[0])
                    if r[1]:
                        outlets.add(r[1])
            published.sort()
            db.execute(
                "INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, ?)",
                (story.id, story.title, len(story.articles), published[0] if published else None,
                 published[-1] if published else None, _dumps(sorted(outlets)), _dumps(story_entry(story))),
            )
            event_of = {a: e.id for e in story.events for a in e.articles}
            db.executemany(
                "INSERT OR IGNORE INTO story_articles VALUES (?, ?, ?)",
                [(story.id, event_of.get(a), a) for a in story.articles],
            )


class _Ticker:
    def __init__(self, into: dict[str, float]) -> None:
        self.into = into
        self.last = time.process_time()

    def __call__(self, step: str) -> None:
        now = time.process_time()
        self.into[step] = self.into.get(step, 0.0) + now - self.last
        self.last = now


def _chunks(items: Sequence[str], size: int) -> Iterable[Sequence[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def process_store(
    store: Store, settings: Settings | None = None, before_commit: BeforeCommit | None = None
) -> list[BatchResult]:
    """Analyse every stored article not yet in a story (one-shot form of the watcher's step)."""
    return IncrementalPipeline(store, settings).process_pending(before_commit)
