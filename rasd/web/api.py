"""The write side of the app: storing posted articles and analysing them.

Posted batches are stored through one connection guarded by a lock. The analysis runs in one
background thread with its own connection, through the incremental pipeline
(:class:`rasd.incremental.IncrementalPipeline`): only the articles that are in no story yet are
analysed, against the indexes built from the store once, so a batch reaches its stories in seconds
whatever the size of the store (the batch pipeline took half an hour per batch on 31k articles).
SQLite serialises the two writers (each write is one short ``BEGIN IMMEDIATE`` transaction) and
readers go on in parallel through WAL. Requests coalesce: ten batches posted while an analysis runs
cause one more run, not ten.

Several server processes (``rasd serve --workers N``) may share one store: each stores what is
posted to it, but only the process holding :class:`AnalysisLock` (an ``fcntl`` lock on a file
beside the store) analyses. Its thread also looks for articles that other connections committed
(``PRAGMA data_version``) and are in no story yet, so articles posted to the other processes are
picked up within ``poll_s``; those processes wait for a batch by reading the store. When the owner
exits, the OS drops its lock and the next process to receive a batch takes over.
"""

from __future__ import annotations

import fcntl
import hmac
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rasd.errors import InputError
from rasd.incremental import PENDING_WHERE, IncrementalPipeline
from rasd.ingest.formats import read_json
from rasd.ingest.meta import Meta
from rasd.models import Article
from rasd.settings import Settings
from rasd.store import Store


class BadRequest(ValueError):
    """A posted body the API cannot take; the message says what to send instead."""


def token_ok(header: str | None, token: str | None) -> bool:
    """``Authorization: Bearer TOKEN`` against the start-up token, in constant time.

    With no token configured nothing may write, whatever the request carries.
    """
    if not token or not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode("utf-8"), token.encode("utf-8"))


def parse_records(body: bytes, max_records: int) -> list[dict[str, Any]]:
    """The posted JSON list of article records, or BadRequest saying what is wrong."""
    try:
        records = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"the body must be UTF-8 JSON: {exc}") from exc
    if not isinstance(records, list):
        raise BadRequest("the body must be a JSON list of {id, text, title, url, source, published} objects")
    if len(records) > max_records:
        raise BadRequest(f"at most {max_records} articles per request; send the rest in further requests")
    return records


def read_records(records: list[dict[str, Any]]) -> tuple[list[Article], list[InputError]]:
    """Articles through the same JSON reader as ``rasd ingest`` (cleaning, ids, dates)."""
    data = json.dumps(records, ensure_ascii=False).encode("utf-8")
    articles: list[Article] = []
    errors: list[InputError] = []
    for item in read_json(data, Meta(), "request"):
        (errors if isinstance(item, InputError) else articles).append(item)  # type: ignore[arg-type]
    return articles, errors


#: Articles that no story holds yet (the incremental pipeline's ``pending``), as one query part.
def count_pending(db: sqlite3.Connection, ids: list[str] | None = None) -> int:
    """How many stored articles (of ``ids``, when given) are in no story yet, read through ``db``."""
    if ids is not None and not ids:
        return 0
    where = "" if ids is None else " AND id IN (SELECT value FROM json_each(?))"
    params = [] if ids is None else [json.dumps(ids)]
    return int(db.execute(f"SELECT COUNT(*) FROM articles WHERE {PENDING_WHERE}{where}", params).fetchone()[0])


class AnalysisLock:
    """The right to analyse a store: an exclusive ``flock`` on ``STORE-analysis.lock``.

    ``flock`` belongs to the open file, so two apps in one process exclude each other as two
    processes do, and the lock goes with the process however it ends (no stale lock to clear,
    unlike a row in the store). The holder writes its pid into the file, and empties it when it
    lets go, so that others can tell who analyses without touching the lock (see :meth:`holder`).
    """

    def __init__(self, store_path: str) -> None:
        self.path = store_path + "-analysis.lock"
        self.fd: int | None = None

    def acquire(self) -> bool:
        """Take the lock if it is free; True when this object holds it."""
        if self.fd is not None:
            return True
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self.fd = fd
        return True

    @staticmethod
    def holder(store_path: str) -> int | None:
        """The pid of the process analysing the store, read from the lock file; None when the file
        names no live process.

        Only reads: a check that took the lock to test it (and dropped it) made the real analyser's
        ``acquire`` fail when the two met. A holder killed outright leaves its pid behind, so the pid
        counts only while that process lives; a recycled pid can mislead this answer (never the lock
        itself), which is why ``serve`` compares it with the pid of the analyser it started.
        """
        try:
            text = Path(AnalysisLock(store_path).path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError):
            return None
        if not text.isdigit():
            return None  # no holder, or one between emptying the file and writing its pid
        pid = int(text)
        return pid if _alive(pid) else None

    def release(self) -> None:
        if self.fd is not None:
            # Emptied while still held: the next holder cannot write its pid before we close.
            os.ftruncate(self.fd, 0)
            os.close(self.fd)  # closing the file drops the lock
            self.fd = None


def _alive(pid: int) -> bool:
    """Whether process ``pid`` exists and has not exited (a zombie holds no lock)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: it exists
    try:
        # "PID (NAME) STATE ...": the name may hold spaces and parentheses, the state follows the last ")".
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except (OSError, IndexError):
        return True  # no /proc here: kill() said it exists


@dataclass
class AnalysisState:
    requested: int = 0
    finished: int = 0
    running: bool = False
    last_seconds: float | None = None
    #: Articles the last run analysed (the new ones only).
    last_articles: int | None = None
    last_error: str | None = None
    runs: int = 0
    #: Articles analysed since start-up, counted a committed batch at a time.
    analysed: int = 0
    #: Seconds spent building the pipeline's indexes from the store (once, at the first run,
    #: and again when another program changed the stored analysis).
    startup_seconds: float | None = None


@dataclass
class Writer:
    """Stores batches; when it holds the store's :class:`AnalysisLock`, also runs the coalesced
    analysis in a thread."""

    store_path: str
    settings: Settings
    state: AnalysisState = field(default_factory=AnalysisState)
    #: Seconds between the analysis thread's looks for articles stored by other processes, and
    #: between a waiting request's looks at the store when another process analyses. Each look
    #: is one ``PRAGMA data_version`` (microseconds); only after another connection committed does
    #: it ask the store for pending articles (about 15 ms on the 31k-article store).
    poll_s: float = 0.5

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.store = Store(self.store_path)
        self.stopping = False
        self.thread: threading.Thread | None = None
        self.owner = AnalysisLock(self.store_path)
        # Owned by the analysis thread alone (its own connection: sqlite3 transactions on one
        # connection shared by two threads would interleave).
        self.analyser: Analyser | None = None
        #: The analyser connection's ``PRAGMA data_version`` at its last look.
        self.version: int | None = None

    @property
    def is_analyser(self) -> bool:
        """Whether this process runs the store's analysis."""
        return self.thread is not None and self.thread.is_alive()

    def start(self) -> bool:
        """Become the store's analyser if no process is; True when this writer is."""
        with self.changed:
            return self._start()

    def _start(self) -> bool:
        if self.is_analyser:
            return True
        if self.stopping or not self.owner.acquire():
            return False
        self.thread = threading.Thread(target=self._loop, name="rasd-analysis", daemon=True)
        self.thread.start()
        return True

    def ingest(self, articles: list[Article]) -> tuple[dict[str, Any], int]:
        """Store ``articles`` and ask for an analysis that includes them: the answer and its ticket.

        The ticket is taken under the same lock as the commit, so the analysis thread never sees
        this process's commit without its ticket (it would start a run of its own for it).
        """
        with self.changed:
            with self.lock:
                result = self.store.upsert_articles(articles)
            self.state.requested += 1
            ticket = self.state.requested
            self._start()
            self.changed.notify_all()
        return {"added": result.added, "unchanged": result.unchanged,
                "versions": [{"id": new, "supersedes": old} for new, old in result.versions]}, ticket

    def wait(self, ticket: int, timeout: float, ids: list[str] | None = None) -> bool:
        """Wait for the run that includes ``ticket``; where another process analyses, for the
        articles ``ids`` to be in a story (or superseded)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.is_analyser and self.state.finished < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(min(left, self.poll_s))
            if self.is_analyser:
                return True
        while self.pending(ids or []) > 0:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            time.sleep(min(left, self.poll_s / 2))
            self.start()  # the analysing process may have gone: take over
        return True

    def pending(self, ids: list[str] | None = None) -> int:
        """How many stored articles (of ``ids``, when given) are in no story yet."""
        with self.lock:
            return count_pending(self.store.db, ids)

    def _should_run(self, asked: bool) -> bool:
        """Whether to analyse now: this process asked (a ticket), or another connection committed
        since the last look and left articles in no story (articles posted to another server
        process, or stored by another program). Reads ``data_version`` once and keeps it, so the
        next look sees only the commits after this one."""
        assert self.analyser is not None
        db = self.analyser.store.db
        version = db.execute("PRAGMA data_version").fetchone()[0]
        changed, self.version = version != self.version, version
        if asked:
            return True
        return changed and db.execute(f"SELECT 1 FROM articles WHERE {PENDING_WHERE} LIMIT 1").fetchone() is not None

    def _loop(self) -> None:
        while True:
            with self.changed:
                if self.state.finished >= self.state.requested and not self.stopping:
                    self.changed.wait(self.poll_s)
                if self.stopping:
                    break
                target = self.state.requested
                asked = target > self.state.finished
                if self.analyser is None:
                    self.analyser = Analyser(self.store_path, self.settings)
                # Under the lock: this process's commits come with a ticket (see ingest).
                if not self._should_run(asked):
                    continue
                self.state.running = True
            started = time.perf_counter()
            error = None
            count = None
            try:
                count = self.analyser.run(lambda: self.stopping, self._progress)
            except Exception as exc:  # an analysis bug must not kill the server; the state says what failed
                error = f"{type(exc).__name__}: {exc}"
            with self.changed:
                self.state.running = False
                if not self.stopping:  # a run cut short by shutdown did not finish its tickets
                    self.state.finished = target
                self.state.runs += 1
                self.state.last_seconds = round(time.perf_counter() - started, 3)
                self.state.last_articles = count
                self.state.last_error = error
                self.state.startup_seconds = round(self.analyser.startup_seconds, 3)
                self.changed.notify_all()
        if self.analyser is not None:
            self.analyser.close()

    def _progress(self, count: int) -> None:
        with self.changed:
            self.state.analysed += count

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=60)
        self.owner.release()
        self.store.close()


class Analyser:
    """The incremental pipeline over its own connection, kept warm between runs."""

    def __init__(self, store_path: str, settings: Settings) -> None:
        self.store = Store(store_path)
        self.settings = settings
        self.pipeline: IncrementalPipeline | None = None
        self.startup_seconds = 0.0
        #: The stories' articles as this analyser left them; anything else means another program
        #: (``rasd analyze``, a watcher) rewrote the analysis and the indexes are stale. Reading
        #: them is about 30 ms on 31k articles, next to seconds of analysis per run.
        self.seen: set[tuple[str, str]] | None = None

    def _processed(self) -> set[tuple[str, str]]:
        return {(r[0], r[1]) for r in self.store.db.execute("SELECT story_id, article_id FROM story_articles")}

    def run(self, stop: Callable[[], bool], progress: Callable[[int], None]) -> int:
        """Analyse every stored article that is in no story yet, a committed batch at a time;
        returns how many. ``stop`` is asked between batches (a server shutting down does not wait
        for a backlog); ``progress`` is told each batch's size."""
        if self.pipeline is None or self.seen != self._processed():
            started = time.perf_counter()
            if self.pipeline is None:
                self.pipeline = IncrementalPipeline(self.store, self.settings)
            else:
                self.pipeline.rebuild()
            self.startup_seconds = time.perf_counter() - started
        done = 0
        try:
            # IncrementalPipeline.process_pending's loop, with a chance to stop between batches.
            pending = self.pipeline.pending()
            size = self.pipeline.incremental.batch_size
            for i in range(0, len(pending), size):
                if stop():
                    break
                count = len(self.pipeline.process(pending[i : i + size]).articles)
                done += count
                progress(count)
        finally:
            # Also after a failed batch: the batches before it were committed.
            self.seen = self._processed()
        return done

    def close(self) -> None:
        self.store.close()
