"""The write side of the app: storing posted articles and re-analysing the store.

One writer connection, guarded by a lock, does every write (SQLite allows one writer; readers
go on in parallel through WAL). Re-analysis runs in one background thread and coalesces: ten
batches posted while an analysis runs cause one more analysis, not ten.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from rasd import pipeline
from rasd.errors import InputError
from rasd.ingest.formats import read_json
from rasd.ingest.meta import Meta
from rasd.models import Article
from rasd.report import build_report
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
    last_articles: int | None = None
    last_error: str | None = None
    runs: int = 0


@dataclass
class Writer:
    """The single writer: stores batches and runs the coalesced re-analysis in a thread."""

    store_path: str
    settings: Settings
    state: AnalysisState = field(default_factory=AnalysisState)

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.changed = threading.Condition()
        self.store = Store(self.store_path)
        self.stopping = False
        self.thread: threading.Thread | None = None

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
                    return
                target = self.state.requested
                self.state.running = True
            started = time.perf_counter()
            error = None
            count = None
            try:
                count = analyse_store(self.store, self.settings, self.lock)
            except Exception as exc:  # an analysis bug must not kill the server; the state says what failed
                error = f"{type(exc).__name__}: {exc}"
            with self.changed:
                self.state.running = False
                self.state.finished = target
                self.state.runs += 1
                self.state.last_seconds = round(time.perf_counter() - started, 3)
                self.state.last_articles = count
                self.state.last_error = error
                self.changed.notify_all()

    def close(self) -> None:
        with self.changed:
            self.stopping = True
            self.changed.notify_all()
        if self.thread is not None:
            self.thread.join(timeout=60)
        self.store.close()


def analyse_store(store: Store, settings: Settings, lock: threading.Lock) -> int:
    """Every stored article through the pipeline's stages; the tables replaced in one transaction."""
    with lock:
        articles = list(store.articles())
    report = build_report(pipeline.analyze(articles, settings), settings.report)
    with lock:
        store.save_analysis(report)
    return len(articles)
