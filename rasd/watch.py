"""Live monitoring: poll a list of feeds, store what is new, analyse it incrementally, send alerts.

One cycle (:meth:`Watcher.cycle`):

1. poll the feeds that are due, politely: conditional GET (ETag / Last-Modified, 304 skipped),
   the Fetcher's per-host rate limit and timeout, robots.txt for article pages, exponential
   backoff for a failing feed (its ``next_poll`` moves away; the others go on);
2. store new items and changed pages (a changed page is a new version of its URL);
3. analyse the stored articles that are in no story yet (:mod:`rasd.incremental`), alert rules
   evaluated inside the same transaction so that each alert is recorded exactly once;
4. deliver undelivered alerts to a log file and a webhook.

Crash safety comes from the store: items are marked seen only after their articles are stored,
articles count as processed only once their story is written, and a lock row (pid, host,
heartbeat) keeps a second watcher off the same store.
"""

from __future__ import annotations

import json
import os
import queue
import re
import socket
import time
import tomllib
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from rasd.errors import InputError, SettingsError, StoreError
from rasd.incremental import BatchResult, IncrementalPipeline, IncrementalSettings
from rasd.ingest.http import Fetcher
from rasd.ingest.meta import now_iso
from rasd.models import Article
from rasd.settings import Settings
from rasd.store import Store
from rasd.textnorm import normalize, stem, tokens
from rasd.watch_poll import ParsedItems, PollResult, Robots, SeenItem, fetch_feed, read_feed


@dataclass(frozen=True, slots=True)
class WatchSettings:
    # How often a healthy feed is polled. News sites update their feeds every few minutes;
    # five minutes is the interval most feed readers default to.
    every_s: float = 300.0
    # A failing feed waits every_s * 2**failures (capped), so a dead site costs a request every
    # few hours instead of one every cycle. Six hours: a site down for a day is tried 4 times.
    max_backoff_s: float = 6 * 3600.0
    # Feeds fetched at once. The Fetcher still spaces requests to one host; parallel fetches
    # only keep one slow or timing-out site from delaying the others.
    workers: int = 4
    # Articles another program stores (rasd ingest, the web API) are looked for at least every
    # this many cycles; a cycle that stored articles itself always processes them. Looking on every
    # cycle cost a full scan of the store's articles (11 ms on 31k) per cycle, most of the watcher's
    # idle CPU when cycles are frequent.
    pending_check_cycles: int = 10
    # The lock's heartbeat is written at most this often (and before every batch commits past
    # it): a write per cycle was a transaction for nothing on the cycles that poll no feed.
    # A tenth of lock_stale_s leaves a live watcher's lock far from looking stale.
    heartbeat_s: float = 60.0
    # robots.txt is read again after this long (RFC 9309 asks crawlers not to cache it for
    # more than 24 hours); an unreachable robots.txt (5xx, timeout) is retried after 10 minutes.
    robots_ttl_s: float = 24 * 3600.0
    robots_retry_s: float = 600.0
    # A page whose item is this recent is fetched again (with its ETag) when the item's entry
    # changes in the feed, which is how feeds signal an edited article. Older items are history.
    recheck_window_s: float = 3 * 86400.0
    # Items taken from one feed per poll: a feed dumping thousands of items is a bug or an
    # archive, and a cap keeps one poll short.
    max_items_per_feed: int = 200
    # A lock whose heartbeat is older than this belongs to a watcher that died without
    # cleaning up (or another machine): it is taken over. The watcher beats once a cycle and
    # between batches, far more often than this.
    lock_stale_s: float = 600.0
    # Webhook deliveries are tried this many times (once a cycle) before being left as failed.
    max_delivery_attempts: int = 5
    webhook_timeout_s: float = 10.0


# ---------------------------------------------------------------------------------------------
# Intervals and feed lists

_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_interval(text: str) -> float:
    """Seconds in "30s", "5m", "1h", "1d" or a bare number of seconds."""
    match = _INTERVAL.match(text.lower())
    if not match or float(match.group(1)) <= 0:
        raise SettingsError(f"bad interval {text!r}: write a positive number with s, m, h or d (30s, 5m, 1h)")
    return float(match.group(1)) * _UNIT[match.group(2)]


@dataclass(frozen=True, slots=True)
class FeedSpec:
    url: str
    name: str | None = None


def read_feed_list(path: str | Path) -> list[FeedSpec]:
    """Feeds from an OPML file or a plain list (one URL a line, optionally ``URL<TAB>name``)."""
    path = Path(path)
    try:
        data = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(str(path), f"cannot read the feed list ({exc})") from exc
    if data.lstrip().startswith("<"):
        return _read_opml(data, path)
    feeds: list[FeedSpec] = []
    for number, line in enumerate(data.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        url, _, name = line.partition("\t") if "\t" in line else line.partition(" ")
        if not url.startswith(("http://", "https://")):
            raise InputError(f"{path}:{number}", f"not an http(s) feed URL: {url!r}")
        feeds.append(FeedSpec(url, name.strip() or None))
    return feeds


def _read_opml(data: str, path: Path) -> list[FeedSpec]:
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InputError(str(path), f"malformed OPML ({exc})") from exc
    feeds = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl") or outline.get("xmlurl")
        if url:
            feeds.append(FeedSpec(url.strip(), (outline.get("title") or outline.get("text") or "").strip() or None))
    return feeds


# ---------------------------------------------------------------------------------------------
# The feed list in the store, and its health


@dataclass(frozen=True, slots=True)
class FeedHealth:
    """One row of ``rasd feeds list`` and of the web app's feed page."""

    url: str
    name: str | None
    status: str  # "ok", "failing", "new"
    last_success: str | None
    last_error: str | None
    last_error_at: str | None
    failures: int
    items_seen: int
    articles_added: int
    next_poll: str | None


def add_feed(store: Store, url: str, name: str | None = None) -> bool:
    """Add a feed (or rename it); True when it was not in the list."""
    if not url.startswith(("http://", "https://")):
        raise InputError(url, "a feed must be an http(s) URL")
    with store.transaction() as db:
        existed = db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone() is not None
        if existed:
            if name:
                db.execute("UPDATE feeds SET name = ? WHERE url = ?", (name, url))
        else:
            db.execute("INSERT INTO feeds (url, name, added_at) VALUES (?, ?, ?)", (url, name, now_iso()))
    return not existed


def remove_feed(store: Store, url: str) -> bool:
    """Remove a feed and what was remembered of its items; its stored articles stay."""
    with store.transaction() as db:
        gone = db.execute("DELETE FROM feeds WHERE url = ?", (url,)).rowcount
        db.execute("DELETE FROM feed_items WHERE feed = ?", (url,))
    return bool(gone)


def feed_health(store: Store) -> list[FeedHealth]:
    """Every feed with its health, failing feeds first."""
    rows = []
    for r in store.query("SELECT * FROM feeds ORDER BY url"):
        status = "failing" if r["failures"] else ("ok" if r["last_success"] else "new")
        next_poll = (datetime.fromtimestamp(r["next_poll"], UTC).isoformat(timespec="seconds")
                     if r["next_poll"] else None)
        rows.append(FeedHealth(r["url"], r["name"], status, r["last_success"], r["last_error"], r["last_error_at"],
                               r["failures"], r["items_seen"], r["articles_added"], next_poll))
    rows.sort(key=lambda h: (h.status != "failing", h.url))
    return rows


# ---------------------------------------------------------------------------------------------
# Alerts


@dataclass(frozen=True, slots=True)
class AlertRule:
    """``kind`` "keyword" (``terms``: words or phrases), "entity" (``terms``: names or entity ids)
    or "growth" (a story that gains ``articles`` articles within ``minutes``)."""

    name: str
    kind: str
    terms: tuple[str, ...] = ()
    articles: int = 0
    minutes: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in ("keyword", "entity", "growth"):
            raise SettingsError(f"alert {self.name!r}: kind must be keyword, entity or growth, not {self.kind!r}")
        if self.kind == "growth" and (self.articles < 2 or self.minutes <= 0):
            raise SettingsError(f"alert {self.name!r}: a growth rule needs articles >= 2 and minutes > 0")
        if self.kind != "growth" and not self.terms:
            raise SettingsError(f"alert {self.name!r}: a {self.kind} rule needs terms = [...]")


def load_rules(path: str | Path) -> list[AlertRule]:
    """Rules from a TOML file of ``[[alert]]`` tables: name, kind, terms, articles, minutes."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read alert rules ({exc})") from exc
    rules = []
    for number, table in enumerate(raw.get("alert", []), start=1):
        unknown = set(table) - {"name", "kind", "terms", "articles", "minutes"}
        if unknown:
            raise SettingsError(f"{path}: alert {number}: unknown key {sorted(unknown)[0]!r}")
        rules.append(AlertRule(
            name=str(table.get("name") or f"alert {number}"), kind=str(table.get("kind", "")),
            terms=tuple(str(t) for t in table.get("terms", ())), articles=int(table.get("articles", 0)),
            minutes=float(table.get("minutes", 0)),
        ))
    return rules


def _phrase_forms(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    norms = tuple(t.norm for t in tokens(normalize(text)))
    return norms, tuple(stem(n) for n in norms)


def _contains(seq: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    return n > 0 and any(tuple(seq[i : i + n]) == tuple(phrase) for i in range(len(seq) - n + 1))


def _article_forms(article: Article) -> tuple[list[str], list[str]]:
    norms: list[str] = []
    for block in article.blocks:
        if block.kind in ("title", "body"):
            norms.extend(t.norm for t in tokens(article.text, block.start, block.end))
    return norms, [stem(n) for n in norms]


def match_alerts(rules: Sequence[AlertRule], batch: BatchResult, store: Store, now: float) -> list[dict[str, Any]]:
    """Alerts the batch raises: one per rule and story (keyword, entity) or rule and story (growth)."""
    alerts: list[dict[str, Any]] = []
    word_rules = [(r, [_phrase_forms(t) for t in r.terms]) for r in rules if r.kind == "keyword"]
    entity_rules = [(r, [_phrase_forms(t) for t in r.terms], set(r.terms)) for r in rules if r.kind == "entity"]
    titles = {st.id: st.title for st in batch.stories}
    mentions: dict[str, list[tuple[str, str]]] = {}
    for entity in batch.entities:
        for m in entity.mentions:
            mentions.setdefault(m.article, []).append((entity.id, m.text))
    for article in batch.articles:
        story = batch.story_of.get(article.id)
        base = {"article": article.id, "story": story, "story_title": titles.get(story or ""),
                "title": article.title, "source": article.source, "url": article.url}
        if word_rules:
            norms, stems = _article_forms(article)
            for rule, phrases in word_rules:
                hit = next((" ".join(n) for n, s in phrases if _contains(norms, n) or _contains(stems, s)), None)
                if hit:
                    alerts.append({**base, "rule": rule.name, "kind": "keyword", "matched": hit})
        for rule, phrases, ids in entity_rules:
            for entity_id, text in mentions.get(article.id, ()):
                norms, stems = _phrase_forms(text)
                if entity_id in ids or any(_contains(norms, n) or _contains(stems, s) for n, s in phrases):
                    alerts.append({**base, "rule": rule.name, "kind": "entity", "matched": text, "entity": entity_id})
                    break
    for rule in (r for r in rules if r.kind == "growth"):
        since = now - rule.minutes * 60.0
        for story in batch.stories:
            (count,) = store.db.execute(
                "SELECT COUNT(*) FROM story_articles s JOIN processed p ON p.article_id = s.article_id"
                " WHERE s.story_id = ? AND p.processed_at >= ?",
                (story.id, since),
            ).fetchone()
            if count >= rule.articles:
                alerts.append({"rule": rule.name, "kind": "growth", "story": story.id, "story_title": story.title,
                               "articles": count, "minutes": rule.minutes, "article": None})
    return alerts


def record_alerts(store: Store, alerts: Iterable[dict[str, Any]]) -> int:
    """Insert alerts not yet recorded (key: rule and story, or rule and article when storyless);
    called inside the batch's transaction. Returns how many are new."""
    new = 0
    for alert in alerts:
        key = f"{alert['rule']}|{alert.get('story') or alert.get('article')}"
        payload = {**alert, "created_at": now_iso()}
        cur = store.db.execute(
            "INSERT OR IGNORE INTO alerts (key, rule, kind, story_id, article_id, payload, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (key, alert["rule"], alert["kind"], alert.get("story"), alert.get("article"),
             json.dumps(payload, ensure_ascii=False), payload["created_at"]),
        )
        new += cur.rowcount
    return new


Poster = Callable[[str, dict[str, Any]], None]


def http_post(user_agent: str, timeout_s: float) -> Poster:
    def post(url: str, payload: dict[str, Any]) -> None:
        response = httpx.post(url, json=payload, timeout=timeout_s, headers={"User-Agent": user_agent})
        response.raise_for_status()

    return post


def deliver_alerts(store: Store, log_file: Path | None, webhook: str | None, post: Poster,
                   max_attempts: int) -> tuple[int, int]:
    """Write undelivered alerts to the log and the webhook; (delivered, failed)."""
    delivered = failed = 0
    rows = store.query(
        "SELECT key, payload, attempts FROM alerts WHERE delivered_at IS NULL AND attempts < ? ORDER BY created_at",
        (max_attempts,),
    )
    for row in rows:
        payload = json.loads(row["payload"])
        try:
            if webhook:
                post(webhook, payload)
        except (httpx.HTTPError, OSError) as exc:
            failed += 1
            with store.transaction() as db:
                db.execute("UPDATE alerts SET attempts = attempts + 1, last_error = ? WHERE key = ?",
                           (f"{type(exc).__name__}: {exc}", row["key"]))
            continue
        if log_file is not None:
            with log_file.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(payload, ensure_ascii=False) + "\n")
        with store.transaction() as db:
            db.execute("UPDATE alerts SET delivered_at = ?, attempts = attempts + 1 WHERE key = ?",
                       (now_iso(), row["key"]))
        delivered += 1
    return delivered, failed


# ---------------------------------------------------------------------------------------------
# The lock


class WatcherRunning(StoreError):
    """Another watcher holds the store."""


def acquire_lock(store: Store, settings: WatchSettings, now: float) -> str:
    """Take the store's watcher lock and return its token, or raise WatcherRunning naming the holder.

    The holder is taken to be gone when its heartbeat is stale, or when it ran on this machine
    and its process no longer exists (a killed watcher leaves its row behind)."""
    host = socket.gethostname()
    token = uuid.uuid4().hex
    with store.transaction() as db:
        row = db.execute("SELECT pid, host, started_at, heartbeat FROM watch_lock WHERE id = 1").fetchone()
        if row is not None:
            fresh = now - row["heartbeat"] < settings.lock_stale_s
            alive = _alive(row["pid"]) if row["host"] == host else True
            if fresh and alive:
                raise WatcherRunning(
                    f"{store.path}: another rasd watch (pid {row['pid']} on {row['host']}, since {row['started_at']})"
                    " is watching this store; stop it first, or use another --db"
                )
        db.execute("INSERT OR REPLACE INTO watch_lock VALUES (1, ?, ?, ?, ?, ?)",
                   (os.getpid(), host, token, now_iso(), now))
    return token


def heartbeat(store: Store, token: str, now: float) -> None:
    with store.transaction() as db:
        db.execute("UPDATE watch_lock SET heartbeat = ? WHERE id = 1 AND token = ?", (now, token))


def release_lock(store: Store, token: str) -> None:
    with store.transaction() as db:
        db.execute("DELETE FROM watch_lock WHERE id = 1 AND token = ?", (token,))


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# ---------------------------------------------------------------------------------------------
# The watcher


@dataclass
class CycleReport:
    polled: int = 0
    not_modified: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    new_articles: int = 0
    versions: int = 0
    processed: int = 0
    stories_changed: int = 0
    alerts: int = 0
    delivered: int = 0


class Watcher:
    """Polls the store's feeds and keeps its analysis current. ``run`` loops; ``cycle`` is one pass."""

    def __init__(
        self,
        store: Store,
        settings: Settings | None = None,
        watch: WatchSettings = WatchSettings(),
        *,
        fetcher: Fetcher | None = None,
        rules: Sequence[AlertRule] = (),
        alert_log: Path | None = None,
        webhook: str | None = None,
        post: Poster | None = None,
        only: Iterable[str] | None = None,
        clock: Callable[[], float] = time.time,
        incremental: IncrementalSettings | None = None,
    ) -> None:
        if watch.every_s <= 0 or watch.workers < 1:
            raise SettingsError("watch: every_s must be positive and workers at least 1")
        self.store = store
        self.settings = settings or Settings()
        self.watch = watch
        self.fetcher = fetcher or Fetcher(self.settings.fetch)
        self.robots = Robots(self.fetcher, self.settings.fetch.user_agent, watch, clock)
        self.rules = list(rules)
        self.alert_log = alert_log
        self.webhook = webhook
        self.post = post or http_post(self.settings.fetch.user_agent, watch.webhook_timeout_s)
        self.only = set(only) if only is not None else None
        self.clock = clock
        self._new_alerts = 0
        self.cycles = 0
        self._token = acquire_lock(store, watch, clock())
        self._beat_at = clock()
        # Largest article rowid when the store was last scanned for pending articles: another
        # program's article gets a larger one, so an unchanged maximum means nothing to scan for.
        self._scanned_rowid = 0
        # Deliver what a previous run left undelivered on the first cycle.
        self._deliver = True
        self._pool = ThreadPoolExecutor(max_workers=watch.workers)
        # What each feed's items parsed to, so a changed feed's unchanged items are not parsed again.
        self._parsed_items = ParsedItems()
        self.pipeline = IncrementalPipeline(store, self.settings, incremental or IncrementalSettings(), clock)

    def close(self) -> None:
        self._pool.shutdown()
        release_lock(self.store, self._token)
        self.fetcher.close()

    def __enter__(self) -> Watcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def due(self, now: float) -> list[tuple[str, str | None, str | None, str | None]]:
        rows = self.store.db.execute(
            "SELECT url, name, etag, last_modified FROM feeds WHERE next_poll <= ? ORDER BY next_poll, url", (now,)
        ).fetchall()
        return [tuple(r) for r in rows if self.only is None or r[0] in self.only]  # type: ignore[misc]

    def cycle(self) -> CycleReport:
        """One pass: poll the due feeds, analyse what is new, deliver alerts. A cycle with no feed
        due, nothing stored and no alert to send reads two small queries and writes nothing."""
        report = CycleReport()
        now = self.clock()
        self._beat(now)
        due = self.due(now)
        if due:
            self._record(self._poll(due, now), report)
        stored = report.new_articles or report.versions
        if stored or self.cycles % self.watch.pending_check_cycles == 0:
            # Read before the scan: an article stored during it is then looked for again next time.
            (top,) = self.store.db.execute("SELECT MAX(rowid) FROM articles").fetchone()
            if stored or (top or 0) != self._scanned_rowid:
                self._process(report, top or 0)
        if self._deliver and (self.alert_log is not None or self.webhook):
            report.delivered, failed = deliver_alerts(self.store, self.alert_log, self.webhook, self.post,
                                                      self.watch.max_delivery_attempts)
            self._deliver = failed > 0
        report.alerts, self._new_alerts = self._new_alerts, 0
        self.cycles += 1
        return report

    def _beat(self, now: float) -> None:
        if now - self._beat_at >= self.watch.heartbeat_s:
            heartbeat(self.store, self._token, now)
            self._beat_at = now

    def _process(self, report: CycleReport, top: int) -> None:
        # Only what was stored since the last complete scan (the first scan reads everything);
        # a failed batch leaves the mark where it was, so its articles are looked for again.
        for batch in self.pipeline.process_pending(self._before_commit, self._scanned_rowid):
            report.processed += len(batch.articles)
            report.stories_changed += len(batch.stories)
            self._beat(self.clock())
        self._scanned_rowid = top

    def _before_commit(self, store: Store, batch: BatchResult) -> None:
        if self.rules:
            new = record_alerts(store, match_alerts(self.rules, batch, store, self.clock()))
            self._new_alerts += new
            self._deliver = self._deliver or new > 0

    def run(self, stop: Callable[[], bool] = lambda: False, sleep: Callable[[float], None] = time.sleep,
            on_cycle: Callable[[CycleReport], None] | None = None) -> None:
        """Cycle until ``stop()``; between cycles sleep until the next feed is due (at most every_s)."""
        while not stop():
            report = self.cycle()
            if on_cycle is not None:
                on_cycle(report)
            if stop():
                return
            (next_poll,) = self.store.db.execute("SELECT MIN(next_poll) FROM feeds").fetchone()
            wait = self.watch.every_s if next_poll is None else next_poll - self.clock()
            sleep(min(max(wait, 0.5), self.watch.every_s))

    def _poll(self, due: Sequence[tuple[str, str | None, str | None, str | None]], now: float) -> list[PollResult]:
        """Poll the feeds in the pool: every feed's conditional GET, then, for a changed feed only,
        its seen items read here (the store is this thread's) and its parsing back in the pool."""
        names = {url: name for url, name, *_ in due}
        # Each finished poll puts its future on one queue. wait(FIRST_COMPLETED) put a waiter on
        # every pending future and took it off again whenever one finished: for 50 feeds about
        # 2,500 lock operations a round, a third of the main thread's CPU in an idle round.
        finished: queue.SimpleQueue[Future[PollResult]] = queue.SimpleQueue()
        for url, _, etag, lm in due:
            self._pool.submit(fetch_feed, url, (etag, lm), self.fetcher).add_done_callback(finished.put)
        results: list[PollResult] = []
        pending = len(due)
        while pending:
            result = finished.get().result()
            pending -= 1
            if result.response is None:
                results.append(result)
            else:
                pending += 1
                self._pool.submit(read_feed, result, names[result.url], self._seen(result.url), self.fetcher,
                                  self.robots, self.watch, now, self._parsed_items).add_done_callback(finished.put)
        order = {url: n for n, (url, *_) in enumerate(due)}
        results.sort(key=lambda r: order[r.url])
        return results

    def _seen(self, feed: str) -> dict[str, SeenItem]:
        return {
            r[0]: SeenItem(r[1], r[2], r[3], r[4], r[5])
            for r in self.store.db.execute(
                "SELECT key, signature, url, etag, last_modified, first_seen FROM feed_items WHERE feed = ?", (feed,)
            )
        }

    def _record(self, results: Sequence[PollResult], report: CycleReport) -> None:
        """Store the polls' articles first, then mark their items seen and the feeds' health (one
        transaction each for the whole cycle), so that a kill in between makes the next poll read
        the items again (their articles are then unchanged)."""
        now = self.clock()
        stamp = now_iso()
        articles = [a for result in results for item in result.items for a in item.articles]
        upsert = self.store.upsert_articles(articles) if articles else None
        fresh = set(upsert.added) if upsert else set()
        # One statement each for all the cycle's item rows and healthy feeds' rows: a 304 poll then
        # costs one row of an executemany, where a statement per feed cost more than its request.
        items: list[tuple[object, ...]] = []
        healthy: list[tuple[object, ...]] = []
        with self.store.transaction() as db:
            for result in results:
                if result.error is not None:
                    (failures,) = db.execute("SELECT failures FROM feeds WHERE url = ?", (result.url,)).fetchone()
                    backoff = min(self.watch.max_backoff_s, self.watch.every_s * 2 ** (failures + 1))
                    db.execute(
                        "UPDATE feeds SET failures = failures + 1, last_status = ?, last_polled = ?, last_error = ?,"
                        " last_error_at = ?, next_poll = ? WHERE url = ?",
                        (result.status, stamp, result.error, stamp, now + backoff, result.url),
                    )
                    report.failed.append((result.url, result.error))
                    continue
                items.extend(
                    (result.url, item.key, item.signature, item.url, item.articles[-1].id if item.articles else None,
                     item.etag, item.last_modified, now, now, item.error)
                    for item in result.items
                )
                # An article two feeds carried in one cycle counts for the first of them.
                added = 0
                for item in result.items:
                    for article in item.articles:
                        if article.id in fresh:
                            fresh.discard(article.id)
                            added += 1
                healthy.append((result.status, stamp, stamp, result.etag, result.last_modified,
                                now + self.watch.every_s, len(result.items), added, result.url))
                report.polled += 1
                report.not_modified += int(result.not_modified)
            db.executemany(
                "INSERT INTO feed_items (feed, key, signature, url, article_id, etag, last_modified, first_seen,"
                " checked, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (feed, key) DO UPDATE SET"
                " signature = excluded.signature, url = excluded.url,"
                " article_id = COALESCE(excluded.article_id, article_id), etag = excluded.etag,"
                " last_modified = excluded.last_modified, checked = excluded.checked, error = excluded.error",
                items,
            )
            db.executemany(
                "UPDATE feeds SET failures = 0, last_status = ?, last_polled = ?, last_success = ?, etag = ?,"
                " last_modified = ?, next_poll = ?, items_seen = items_seen + ?,"
                " articles_added = articles_added + ? WHERE url = ?",
                healthy,
            )
        if upsert:
            report.new_articles += len(upsert.added)
            report.versions += len(upsert.versions)


def sync_feeds(store: Store, feeds: Sequence[FeedSpec]) -> int:
    """Add the listed feeds to the store; returns how many were new."""
    return sum(add_feed(store, f.url, f.name) for f in feeds)

