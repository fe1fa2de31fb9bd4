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

import gc
import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from rasd import pipeline, summarize, timeline
from rasd.cluster import StoryClusterer
from rasd.dedup import DuplicateIndex
from rasd.models import Analysis, Article, DuplicateSet, Entity, Event, Story, SummarySentence, TimelineEntry, TimeRef
from rasd.report import date_entry, quote_entry, reuse_entry, story_entry
from rasd.reuse import ReuseIndex
from rasd.settings import Settings
from rasd.store import Store
from rasd.textnorm import normalize
from rasd.timeline import publication_date

#: The SQL condition on ``articles`` of an article still to analyse: in no story, and not replaced
#: by a newer version. Shared with the web app, which counts and waits for such articles.
PENDING_WHERE = (
    "id NOT IN (SELECT article_id FROM story_articles)"
    " AND id NOT IN (SELECT supersedes FROM articles WHERE supersedes IS NOT NULL)"
)


@dataclass(frozen=True, slots=True)
class IncrementalSettings:
    # Articles analysed per transaction. A feed poll brings a few to a few dozen new items; 50
    # keeps one commit per cycle in the usual case while a backlog (a first start on a store
    # filled by `rasd ingest`) still commits every few seconds, so a kill loses little work.
    batch_size: int = 50
    # At start-up the reuse index is rebuilt (indexed without aligning, ReuseIndex.insert) from
    # the articles published within this many days of the newest one: 4 ms of CPU per
    # SaudiNewsNet article, its vocabulary and keys, so a day of 14 outlets (1,400 articles)
    # costs about 6 s. Outlets carry wire copy the same day, so one day keeps nearly all live
    # reuse links; older sources are missed.
    reuse_window_days: float = 1.0
    # The duplicate index is rebuilt from the articles of this many days (0.7 ms each): wire
    # copies are carried within hours; a copy of an older article is clustered by its content.
    dedup_window_days: float = 3.0
    # A story of at most this many articles is detailed in full whenever it changes (cheap: about
    # 3 ms of CPU per article on SaudiNewsNet, mostly sentence splitting for the summary and the
    # timeline); a larger one is re-summarised only after growing by summary_growth since its
    # summary was made, while its timeline and event dates are updated from the new articles
    # alone. Without this a story of k articles costs k article-analyses per article it takes
    # (quadratic: a 150-article story took 0.4 s a batch); with it the summary work per article
    # is about (1 + 1/summary_growth) article-analyses and a big story's summary misses at most
    # a fifth of its newest articles until the next refresh.
    summary_full_size: int = 8
    summary_growth: float = 0.25
    # Stored articles kept in memory for detailing stories again (about 10 kB each), and stories
    # as last written (a few kB each; about 1,000 new stories a day on SaudiNewsNet).
    article_cache: int = 2000
    detailed_cache: int = 20_000
    # After a rebuild the indexes (millions of objects on three weeks of SaudiNewsNet) are moved
    # out of the cyclic garbage collector's reach (gc.freeze, after one full collection): they
    # live as long as the pipeline, and each full collection walked them all. Replaying 200
    # articles one by one on the 31k store, one full collection cost 1.7 ms per article (0.34 s);
    # frozen, none ran. Process-wide: whatever else the process holds then is frozen too (garbage
    # among it that only a collection would free stays until the next rebuild unfreezes it).
    freeze_after_rebuild: bool = True


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
        #: Ids of the articles already in a story (processed), and how many were restored.
        self.done: set[str] = set()
        self.restored = 0
        self._detailed: dict[str, _Detailed] = {}
        self._cache: dict[str, Article] = {}
        # What each recently detailed article gives a summary and a timeline, kept as long as
        # the article itself is (article_cache).
        self._parsed = summarize.ParsedArticles(self.settings.summary, incremental.article_cache)
        self._spans = timeline.SentenceSpans(incremental.article_cache)
        #: The clusterer's stories after the last batch, by id (what the next one is compared with).
        self._stories: dict[str, Story] = {}
        self.rebuild_seconds = 0.0
        #: CPU seconds of each step of the last rebuild.
        self.rebuild_cpu: dict[str, float] = {}
        self.rebuild()

    # -- start-up -----------------------------------------------------------------------------

    def rebuild(self) -> None:
        """Rebuild the indexes from the store: the live stories only, from their stored assignments.

        Nothing already analysed is analysed again. Only the stories that can still change are
        restored: an article finds its candidate stories through the articles published within
        ``story_window_days`` of it (and repair finds merge partners the same way), so a story
        whose newest article is older than that, counted back from the newest stored article, can
        take no new article and is left alone in the store (an article older than the newest by
        more than that may then open a story where a full rebuild would have joined it to one).
        The duplicate index holds the last ``dedup_window_days`` of the restored articles, the
        reuse index the last ``reuse_window_days`` (indexed without aligning), and entity ids
        come from the stored mentions. Start-up costs the live window, not the store.
        """
        start = time.perf_counter()
        self.rebuild_cpu = {}
        tick = _Ticker(self.rebuild_cpu)
        s = self.settings
        self.dedup = DuplicateIndex(s.dedup)
        self.reuse = ReuseIndex(s.reuse)
        # Details made by a batch that then failed may not match the store.
        self._detailed = {}
        assignments: dict[str, tuple[str, str]] = {}
        for story_id, event_id, article_id in self.store.db.execute(
            "SELECT story_id, event_id, article_id FROM story_articles"
        ):
            # A story written by `rasd analyze` may list an article outside every event.
            assignments[article_id] = (story_id, event_id or f"e-{story_id}")
        self.done = set(assignments)
        when = {aid: _time(published) for aid, published in self.store.db.execute("SELECT id, published FROM articles")
                if aid in assignments}
        newest = max((t for t in when.values() if t != float("inf")), default=float("inf"))
        live_from = newest - s.cluster.story_window_days * 86_400.0
        live: set[str] = set()
        undated: set[str] = set()
        for aid, (story_id, _event) in assignments.items():
            t = when.get(aid, float("inf"))
            if t == float("inf"):
                undated.add(story_id)
            elif t >= live_from:
                live.add(story_id)
        # A story of undated articles only is always live (it has no age); one with dated
        # articles is as old as its newest one.
        dated = {assignments[aid][0] for aid, t in when.items() if t != float("inf")}
        live |= undated - dated
        articles = _order(self.store.articles_by_id(a for a, (st, _e) in assignments.items() if st in live))
        entities = self._stored_entity_ids([a.id for a in articles])
        tick("read")
        dedup_from = newest - self.incremental.dedup_window_days * 86_400.0
        for article in articles:
            if _time(article.published) >= dedup_from:
                self.dedup.add(article)
        tick("duplicates")
        reuse_from = newest - self.incremental.reuse_window_days * 86_400.0
        for article in articles:
            if _time(article.published) >= reuse_from:
                self.reuse.insert(article)
        tick("reuse")
        self.restored = len(articles)
        self.clusterer = StoryClusterer.restore(
            articles, {a.id: assignments[a.id] for a in articles}, s.cluster, entities=entities
        )
        # The first stories() call builds every restored story; done here, it is start-up time.
        self._stories = {st.id: st for st in self.clusterer.stories()}
        tick("stories")
        pipeline.load_models()
        tick("models")
        if self.incremental.freeze_after_rebuild:
            # What an earlier rebuild froze (the indexes this one replaced) is collectable again.
            gc.unfreeze()
            gc.collect()
            gc.freeze()
            tick("freeze")
        self.rebuild_seconds = time.perf_counter() - start

    def _stored_entity_ids(self, ids: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for article_id, entity_id in self.store.db.execute(
                "SELECT m.article_id, m.entity_id FROM mentions m JOIN entities e ON e.id = m.entity_id"
                f" WHERE m.article_id IN ({marks}) AND e.type IN ('PER', 'ORG', 'LOC') ORDER BY m.rowid",
                chunk,
            ):
                out.setdefault(article_id, []).append(entity_id)
        return out

    # -- processing ---------------------------------------------------------------------------

    def pending(self, after_rowid: int = 0) -> list[Article]:
        """Latest versions of stored articles that are in no story yet, in publication order.

        ``after_rowid``: look only at articles stored after the one with that rowid (articles are
        never deleted, so a newer article has a larger rowid). A caller that scanned the whole
        store once passes the largest rowid it saw: on the 31k store the whole scan costs 7.8 ms,
        the scan after a recent rowid 0.02 ms.
        """
        rows = self.store.db.execute(
            f"SELECT id FROM articles WHERE rowid > ? AND {PENDING_WHERE}", (after_rowid,)
        ).fetchall()
        found = (self.store.article(r[0]) for r in rows)
        return _order(a for a in found if a is not None)

    def process_pending(self, before_commit: BeforeCommit | None = None, after_rowid: int = 0) -> list[BatchResult]:
        pending = self.pending(after_rowid)
        size = self.incremental.batch_size
        return [self.process(pending[i : i + size], before_commit) for i in range(0, len(pending), size)]

    def process(self, articles: Sequence[Article], before_commit: BeforeCommit | None = None) -> BatchResult:
        """Analyse ``articles`` (already stored) against everything processed before; write it all
        in one transaction. On any error the indexes are rebuilt from the store, which the failed
        batch did not touch, and the error is raised."""
        start = time.perf_counter()
        batch: list[Article] = []
        seen: set[str] = set()
        for article in _order(articles):
            # An id given twice (the same text, outlet and URL twice in one poll) is analysed once,
            # as it is when the copies come in two batches.
            if article.id not in self.done and article.id not in seen:
                seen.add(article.id)
                batch.append(article)
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
        for article in batch:
            # A copy joins its earliest indexed original's event, as in the batch pipeline.
            originals = sorted(
                (o for o in copies.get(article.id, ()) if o in self.clusterer.docs),
                key=lambda o: self.clusterer.docs[o].key,
            )
            self.clusterer.add(article, entity_ids.get(article.id, ()), originals[0] if originals else None)
        # The clusterer builds a Story object again only for a story that took, lost or exchanged
        # articles; one built again with the same content has not changed.
        built, gone = self.clusterer.take_changes()
        stories = self._stories
        changed = {sid for sid, st in built.items() if stories.get(sid) != st}
        changed.update(sid for sid in gone if sid in stories)
        for sid in gone:
            stories.pop(sid, None)
        stories.update(built)
        # Every article of the batch is in a changed story (it is new to the clusterer).
        ids = {a.id for a in batch}
        result.story_of = {a: sid for sid in changed if sid in stories for a in stories[sid].articles if a in ids}
        result.removed_stories = sorted(c for c in changed if c not in stories)
        for story_id in result.removed_stories:
            self._detailed.pop(story_id, None)
        tick("stories")
        result.stories = self._details([stories[c] for c in sorted(changed) if c in stories], mini)
        tick("summaries and timelines")
        result.entities = mini.entities
        result.reuse = len(links)
        result.quotes = len(mini.quotes)
        result.dates = len(mini.dates)
        dup_sets = []
        if copies:
            dup_sets = self.dedup.sets(among=copies)
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
        self.done.update(a.id for a in batch)
        tick("store")

    def _details(self, stories: list[Story], mini: Analysis) -> list[Story]:
        """Event dates, timelines and summaries of the changed stories.

        A story is detailed in full (the pipeline's ``run_story_details``, with each article's
        sentences kept between batches) when it is new to this process, small, lost an article, or
        has grown by ``summary_growth`` since its summary was made. Otherwise only what the batch
        added is analysed: dates of the events whose articles changed, and the timeline entries
        of the new articles merged into the previous timeline (which gives exactly
        ``story_timeline`` of all the articles, see ``_merge_timeline``); the summary is kept until
        the story has grown enough for a new one. The work per batch is then bounded by what the
        batch added, not by story size.
        """
        fresh = {a.id: a for a in mini.articles}
        refs_of: dict[str, list[TimeRef]] = {}
        for ref in mini.dates:
            refs_of.setdefault(ref.article, []).append(ref)
        out: list[Story] = []
        full: list[Story] = []
        for story in stories:
            prev = self._previous(story)
            added = self._extendable(prev, story, fresh)
            if prev is None or added is None:
                full.append(story)
            else:
                out.append(self._extend(prev, story, added, fresh, refs_of))
        if full:
            wanted = {a for st in full for a in st.articles}
            members = self._members(wanted, fresh)
            refs = [r for a in wanted if a in fresh for r in refs_of.get(a, ())]
            refs += self._stored_dates(wanted - set(fresh))
            by_id = {a.id: a for a in members}
            analysis = Analysis(articles=members, stories=full, dates=refs)
            pipeline.run_story_details(analysis, self.settings, self._parsed, self._spans)
            for story in analysis.stories:
                dated = [a for a in (by_id.get(x) for x in story.articles) if a is not None and publication_date(a)]
                first = min(dated, key=lambda a: (publication_date(a), a.id), default=None)
                self._keep(_Detailed(
                    story, len(story.articles), first.id if first else None, publication_date(first) if first else None
                ))
                out.append(story)
        out.sort(key=lambda st: st.id)
        return out

    def _previous(self, story: Story) -> _Detailed | None:
        """The story as this process last detailed it, else as the store holds it (after a start)."""
        prev = self._detailed.get(story.id)
        if prev is not None or len(story.articles) <= self.incremental.summary_full_size:
            return prev
        row = self.store.db.execute("SELECT data FROM stories WHERE id = ?", (story.id,)).fetchone()
        if row is None:
            return None
        data = json.loads(row[0])
        stored = Story(
            data["id"], data["title"], tuple(data["articles"]),
            tuple(Event(e["id"], tuple(e["articles"]), e.get("date"), e.get("title", "")) for e in data["events"]),
            tuple(SummarySentence(x["text"], x["article"], (x["span"][0], x["span"][1])) for x in data["summary"]),
            tuple(TimelineEntry(t["date"], t["text"], t["article"], bool(t.get("background")))
                  for t in data["timeline"]),
        )
        # The stored summary is taken as made from all the stored articles (a batch run's is; one
        # this pipeline kept while the story grew is younger), so the growth count restarts here.
        first: tuple[date, str] | None = None
        for chunk in _chunks(list(stored.articles), 500):
            marks = ",".join("?" * len(chunk))
            for aid, published in self.store.db.execute(
                f"SELECT id, published FROM articles WHERE id IN ({marks})", chunk
            ):
                day = publication_date(Article(aid, "", published=published))
                if day is not None and (first is None or (day, aid) < first):
                    first = (day, aid)
        return _Detailed(stored, len(stored.articles), first[1] if first else None, first[0] if first else None)

    def _extendable(self, prev: _Detailed | None, story: Story, fresh: dict[str, Article]) -> list[Article] | None:
        """The articles ``story`` added since ``prev`` when only they need analysing, else None."""
        size = len(story.articles)
        if (
            prev is None
            or prev.first is None
            or size <= self.incremental.summary_full_size
            or size >= prev.summarized * (1.0 + self.incremental.summary_growth)
        ):
            return None
        old = set(prev.story.articles)
        if not old <= set(story.articles):
            return None  # an article left (a split): the summary may quote it
        added = self._members({a for a in story.articles if a not in old}, fresh)
        # The timeline's background cut-off is counted from the story's first day.
        days = [d for d in map(publication_date, added) if d is not None]
        if prev.first_day is None or (days and min(days) < prev.first_day):
            return None
        return added

    def _extend(self, prev: _Detailed, story: Story, added: list[Article], fresh: dict[str, Article],
                refs_of: dict[str, list[TimeRef]]) -> Story:
        old_events = {e.id: e for e in prev.story.events}
        stale = {e.id for e in story.events if e.id not in old_events or old_events[e.id].articles != e.articles}
        needed = {a.id for a in added} | {a for e in story.events if e.id in stale for a in e.articles}
        members = {a.id: a for a in self._members(needed, fresh)}
        for ref in self._stored_dates({a for a in needed if a not in fresh and a not in refs_of}):
            refs_of.setdefault(ref.article, []).append(ref)
        events = []
        for event in story.events:
            if event.id in stale:
                day, _evidence = timeline.event_date(
                    [members[a] for a in event.articles if a in members],
                    [r for a in event.articles for r in refs_of.get(a, ())],
                )
                events.append(replace(event, date=day))
            else:
                events.append(replace(event, date=old_events[event.id].date))
        entries = list(prev.story.timeline)
        earliest = self._article(prev.first) if prev.first else None
        if added and earliest is not None:
            # The story's earliest article is passed (without its dates) for the cut-off only.
            new_entries = timeline.story_timeline(
                [*added, earliest], [r for a in added for r in refs_of.get(a.id, ())], self.settings.timeline
            )
            entries = _merge_timeline(entries, new_entries)
        detailed = replace(story, events=tuple(events), timeline=tuple(entries), summary=prev.story.summary)
        self._keep(_Detailed(detailed, prev.summarized, prev.first, prev.first_day))
        return detailed

    def _keep(self, detailed: _Detailed) -> None:
        # Most recently changed last; past the cap the least recently changed story is forgotten
        # (read back from the store if it changes again), so a long-running watcher stays small.
        self._detailed.pop(detailed.story.id, None)
        self._detailed[detailed.story.id] = detailed
        if len(self._detailed) > self.incremental.detailed_cache:
            del self._detailed[next(iter(self._detailed))]

    def _members(self, ids: set[str], fresh: dict[str, Article]) -> list[Article]:
        found = [fresh[a] for a in ids if a in fresh]
        missing = []
        for aid in ids:
            if aid in fresh:
                continue
            cached = self._cache.get(aid)
            if cached is None:
                missing.append(aid)
            else:
                found.append(cached)
        for article in self.store.articles_by_id(missing):
            self._remember(article)
            found.append(article)
        return found

    def _article(self, article_id: str) -> Article | None:
        found = self._members({article_id}, {})
        return found[0] if found else None

    def _remember(self, article: Article) -> None:
        self._cache[article.id] = article
        if len(self._cache) > self.incremental.article_cache:
            # Dicts keep insertion order: the oldest entry goes first.
            del self._cache[next(iter(self._cache))]

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
    def _write_duplicates(db: Any, dup_sets: list[DuplicateSet]) -> None:
        """Replace the stored sets that share an article with ``dup_sets`` by their union with them.

        The duplicate index holds only the last days of articles, so a stored set may have older
        members it does not know; they stay in the set."""
        for dup in dup_sets:
            marks = ",".join("?" * len(dup.articles))
            stored = db.execute(
                "SELECT DISTINCT d.id, d.kind, d.similarity, d.articles FROM duplicate_sets d, json_each(d.articles) j"
                f" WHERE j.value IN ({marks})",
                list(dup.articles),
            ).fetchall()
            members = set(dup.articles)
            kind, similarity = dup.kind, dup.similarity
            for row in stored:
                db.execute("DELETE FROM duplicate_sets WHERE id = ?", (row[0],))
                members.update(json.loads(row[3]))
                similarity = min(similarity, row[2])
                if row[1] != "exact":
                    kind = "near"
            db.execute(
                "INSERT INTO duplicate_sets (kind, similarity, articles) VALUES (?, ?, ?)",
                (kind, round(similarity, 4), json.dumps(sorted(members))),
            )

    @staticmethod
    def _write_entities(db: Any, entities: list[Entity]) -> None:
        """A new entity is inserted; a stored one takes the new aliases and mention count.

        One read of the stored aliases and three statements for the batch (a read and a write per
        entity were 0.6 ms per article at one article a batch on the 31k store, 0.5 now). Inserts
        keep the entities' order and go before every update (an update is relative to the row,
        and an entity given twice is updated from what the first made of it); mentions keep
        theirs."""
        known: dict[str, str] = {}
        ids = list(dict.fromkeys(e.id for e in entities))
        for chunk in _chunks(ids, 500):
            marks = ",".join("?" * len(chunk))
            for entity_id, aliases in db.execute(f"SELECT id, aliases FROM entities WHERE id IN ({marks})", chunk):
                known[entity_id] = aliases
        inserts, updates = [], []
        for entity in entities:
            stored = known.get(entity.id)
            if stored is None:
                known[entity.id] = aliases = _dumps(list(entity.aliases))
                inserts.append((entity.id, entity.type, entity.name, aliases, len(entity.mentions)))
            else:
                known[entity.id] = aliases = _dumps(sorted(set(json.loads(stored)) | set(entity.aliases)))
                updates.append((aliases, len(entity.mentions), entity.id))
        db.executemany("INSERT INTO entities VALUES (?, ?, ?, ?, ?)", inserts)
        db.executemany("UPDATE entities SET aliases = ?, mention_count = mention_count + ? WHERE id = ?", updates)
        db.executemany(
            "INSERT INTO mentions VALUES (?, ?, ?, ?, ?, ?)",
            [(e.id, m.article, m.span[0], m.span[1], m.text, m.title) for e in entities for m in e.mentions],
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


@dataclass(frozen=True, slots=True)
class _Detailed:
    """A story as last written, with what deciding its next refresh needs."""

    story: Story
    #: Articles in the story when its summary was made.
    summarized: int
    #: Its earliest dated article and that article's day (the timeline's background cut-off).
    first: str | None
    first_day: date | None


def _merge_timeline(old: Sequence[TimelineEntry], new: Sequence[TimelineEntry]) -> list[TimelineEntry]:
    """``story_timeline`` of two disjoint sets of articles from the timelines of each.

    story_timeline orders entries by (date, article, position) and keeps the first of each
    (date, normalised sentence); an article's entries all sit on one side and keep their order
    in the stable sort, so merging the sides and keeping the first of each key gives the same
    list as running it over all the articles (with the same first day, hence cut-off).
    """
    merged = sorted([*old, *new], key=lambda e: (e.date, e.article))
    seen: set[tuple[str, str]] = set()
    out: list[TimelineEntry] = []
    for entry in merged:
        key = (entry.date, normalize(entry.text))
        if key not in seen:
            seen.add(key)
            out.append(entry)
    return out


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
