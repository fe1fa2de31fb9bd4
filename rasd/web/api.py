"""The write side of the app: storing posted articles and analysing them.

Posted batches are stored through one connection guarded by a lock. The analysis runs in one
background thread with its own connection, through the incremental pipeline
(:class:`rasd.incremental.IncrementalPipeline`): only the articles that are in no story yet are
analysed, against the indexes built from the store once, so a batch reaches its stories in seconds
whatever the size of the store (the batch pipeline took half an hour per batch on 31k articles).
SQLite serialises the two writers (each write is one short ``BEGIN IMMEDIATE`` transaction) and
readers go on in parallel through WAL. Requests coalesce: ten batches posted while an analysis runs
cause one more run, not ten.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rasd.errors import InputError
from rasd.incremental import IncrementalPipeline
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
    """The single writer: stores batches and runs the coalesced analysis in a thread."""

    store_path: str
    settings: Settings
    state: AnalysisState = field(default_factory=AnalysisState)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.store = Store(self.store_path)
        self.stopping = False
        self.thread: threading.Thread | None = None
        # Owned by the analysis thread alone (its own connection: sqlite3 transactions on one
        # connection shared by two threads would interleave).
        self.analysis: Analyser | None = None

    def ingest(self, articles: list[Article]) -> dict[str, Any]:
        with self.lock:
            result = self.store.upsert_articles(articles)
        return {"added": result.added, "unchanged": result.unchanged,
                "versions": [{"id": new, "supersedes": old} for new, old in result.versions]}

    def request_analysis(self) -> int:
        """Ask for an analysis that includes everything stored now; returns its ticket."""
        with self.changed:
            self.state.requested += 1
            ticket = self.state.requested
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._loop, name="rasd-analysis", daemon=True)
                self.thread.start()
            self.changed.notify_all()
        return ticket

    def wait(self, ticket: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while self.state.finished < ticket:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True

    def _loop(self) -> None:
        while True:
            with self.changed:
                while self.state.finished >= self.state.requested and not self.stopping:
                    self.changed.wait()
                if self.stopping:
                    break
                target = self.state.requested
                self.state.running = True
            started = time.perf_counter()
            error = None
            count = None
            try:
                if self.analysis is None:
                    self.analysis = Analyser(self.store_path, self.settings)
                count = self.analysis.run(lambda: self.stopping, self._progress)
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
                if self.analysis is not None:
                    self.state.startup_seconds = round(self.analysis.startup_seconds, 3)
                self.changed.notify_all()
        if self.analysis is not None:
            self.analysis.close()

    def _progress(self, count: int) -> None:
        with self.changed:
            self.state.analysed += count

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=60)
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
