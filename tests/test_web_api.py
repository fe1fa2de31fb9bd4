"""The write API under concurrency: posted articles are stored once and analysed once, by the
incremental pipeline, even when batches overlap, arrive together, or another program rewrote the
stored analysis in between."""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.exceptions import StarletteDeprecationWarning

from rasd import pipeline
from rasd.report import build_report
from rasd.settings import Settings, load_settings
from rasd.store import Store
from rasd.web import create_app
from rasd.web.api import AnalysisLock

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SAMPLE = Path(__file__).resolve().parent.parent / "rasd" / "data" / "sample"
TOKEN = "api-test-token"
HEADERS = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="module")
def records() -> list[dict[str, Any]]:
    """The sample corpus's text articles as API records, in the manifest's order."""
    out = []
    with (SAMPLE / "manifest.csv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f):
            path = SAMPLE / row["path"]
            try:
                text = path.read_text(encoding="utf-8-sig")
            except UnicodeDecodeError:  # the corpus's windows-1256 and UTF-16 files: the API takes JSON
                continue
            if path.suffix == ".txt":
                out.append({"text": text, "title": row["title"], "url": row["url"], "source": row["source"],
                            "published": row["published"]})
    assert len(out) >= 12
    return out


def stories_per_article(db: Path) -> dict[str, int]:
    with Store(db) as store:
        counts = {r["id"]: 0 for r in store.query("SELECT id FROM articles")}
        for r in store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id"):
            counts[r["article_id"]] = r["n"]
    return counts


@pytest.fixture
def client(tmp_path: Path, settings: Settings) -> Iterator[tuple[TestClient, Path]]:
    db = tmp_path / "api.db"
    with TestClient(create_app(db, settings, TOKEN)) as c:
        yield c, db


def test_overlapping_concurrent_batches_are_stored_and_analysed_once(
    client: tuple[TestClient, Path], records: list[dict[str, Any]]
) -> None:
    c, db = client
    # Four batches posted at once, each sharing records with the next.
    batches = [records[i : i + 6] for i in range(0, len(records) - 3, 3)][:4]
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()

    def post(batch: list[dict[str, Any]]) -> None:
        response = c.post("/api/articles", json=batch, headers=HEADERS)
        assert response.status_code == 200, response.text
        with lock:
            answers.append(response.json())

    threads = [threading.Thread(target=post, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    added = [a for body in answers for a in body["added"]]
    unchanged = [a for body in answers for a in body["unchanged"]]
    unique = {r["url"] for b in batches for r in b}
    # Every distinct record was added by exactly one request; the overlaps were "unchanged".
    assert len(added) == len(set(added)) == len(unique)
    assert set(unchanged) <= set(added)
    assert len(added) + len(unchanged) == sum(len(b) for b in batches)

    # One more request waits for everything before it, then every article is in exactly one story.
    done = c.post("/api/articles?wait=true", json=[], headers=HEADERS).json()
    assert done["analysis"]["done"] and done["analysis"]["error"] is None
    counts = stories_per_article(db)
    assert set(counts) == set(added) and set(counts.values()) == {1}
    status = c.get("/api/status").json()["analysis"]
    # Coalesced: five requests, at most five runs, and each article analysed once in all.
    assert status["requested"] == 5 and 1 <= status["runs"] <= 5 and status["analysed"] == len(added)


def test_analysis_follows_a_store_rewritten_by_another_program(
    client: tuple[TestClient, Path], records: list[dict[str, Any]], settings: Settings
) -> None:
    c, db = client
    first = c.post("/api/articles?wait=true", json=records[:8], headers=HEADERS).json()
    assert first["analysis"]["done"] and len(first["added"]) == 8
    with Store(db) as store:
        # Another program replaced the analysis tables while the server ran, with an analysis of
        # four of the eight articles: the other four are in no story again. Indexes kept from
        # before would count them as done and skip them for ever.
        some = [a for a in store.articles() if a.id in first["added"][:4]]
        store.save_analysis(build_report(pipeline.analyze(some, settings), settings.report))
    second = c.post("/api/articles?wait=true", json=records[8:], headers=HEADERS).json()
    assert second["analysis"]["done"] and second["analysis"]["error"] is None
    counts = stories_per_article(db)
    assert len(counts) == len(records) and set(counts.values()) == {1}
    status = c.get("/api/status").json()["analysis"]
    # The four that lost their story were analysed again (by the thread's own look at the store,
    # or with the second batch): 8, then 4 + the rest, each once.
    assert status["analysed"] == len(records) + 4 and status["startup_seconds"] is not None
    assert status["pending"] == 0 and status["this_process"]


def test_a_restart_analyses_what_the_last_run_left(
    tmp_path: Path, records: list[dict[str, Any]], settings: Settings
) -> None:
    db = tmp_path / "restart.db"
    with TestClient(create_app(db, settings, TOKEN)) as c:
        # No wait: the server shuts down while the analysis may still be running; it stops
        # between committed batches.
        added = c.post("/api/articles", json=records, headers=HEADERS).json()["added"]
        assert len(added) == len(records)
    counts = stories_per_article(db)
    assert set(counts) == set(added) and set(counts.values()) <= {0, 1}
    with TestClient(create_app(db, settings, TOKEN)) as c:
        done = c.post("/api/articles?wait=true", json=[], headers=HEADERS).json()
        assert done["analysis"]["done"] and done["analysis"]["error"] is None
        status = c.get("/api/status").json()["analysis"]
        # What the last run left, analysed at start-up or for this request, and nothing twice.
        assert status["analysed"] == list(counts.values()).count(0)
    counts = stories_per_article(db)
    assert set(counts) == set(added) and set(counts.values()) == {1}


def _post_all(clients: list[Any], batches: list[list[dict[str, Any]]], headers: dict[str, str]) -> list[Any]:
    """Each batch posted from its own thread, batch i to clients[i % len(clients)], all at once."""
    answers: list[Any] = []
    lock = threading.Lock()

    def post(i: int, batch: list[dict[str, Any]]) -> None:
        response = clients[i % len(clients)].post("/api/articles", json=batch, headers=headers)
        with lock:
            answers.append(response)

    threads = [threading.Thread(target=post, args=(i, b)) for i, b in enumerate(batches)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_two_apps_on_one_store_analyse_once(
    tmp_path: Path, records: list[dict[str, Any]], settings: Settings
) -> None:
    """Two server processes' apps over one store (here in one process: the analysis lock is per
    open file, so it excludes them alike): the first takes the analysis; batches posted to the
    second are stored there and analysed by the first, each article once."""
    db = tmp_path / "two.db"
    with TestClient(create_app(db, settings, TOKEN)) as first, TestClient(create_app(db, settings, TOKEN)) as second:
        assert first.get("/api/status").json()["analysis"]["this_process"]
        assert not second.get("/api/status").json()["analysis"]["this_process"]
        # Overlapping batches, alternately to each app, at once.
        batches = [records[i : i + 6] for i in range(0, len(records) - 3, 3)][:4]
        answers = _post_all([first, second], batches, HEADERS)
        assert [r.status_code for r in answers] == [200] * len(batches)
        added = [a for r in answers for a in r.json()["added"]]
        assert len(added) == len(set(added)) == len({r["url"] for b in batches for r in b})
        # The app that does not analyse waits for the store to show the batch in its stories.
        done = second.post("/api/articles?wait=true", json=records[:3], headers=HEADERS).json()
        assert done["analysis"]["done"] and set(done["unchanged"]) <= set(added)
        waited = second.post("/api/articles?wait=true", json=records[-2:], headers=HEADERS).json()
        assert waited["analysis"]["done"]
        assert second.get("/api/status").json()["analysis"]["pending"] == 0
        ours, theirs = first.get("/api/status").json()["analysis"], second.get("/api/status").json()["analysis"]
        assert theirs["runs"] == theirs["analysed"] == 0 and ours["runs"] >= 1 and ours["analysed"] >= len(added)
    counts = stories_per_article(db)
    assert set(counts) == set(added) | set(waited["added"]) and set(counts.values()) == {1}
    assert ours["analysed"] == len(counts)


def test_the_next_app_takes_over_the_analysis(
    tmp_path: Path, records: list[dict[str, Any]], settings: Settings
) -> None:
    db = tmp_path / "takeover.db"
    first = TestClient(create_app(db, settings, TOKEN)).__enter__()
    assert first.get("/api/status").json()["analysis"]["this_process"]
    with TestClient(create_app(db, settings, TOKEN)) as second:
        assert not second.get("/api/status").json()["analysis"]["this_process"]
        first.__exit__(None, None, None)
        # The analysing app stopped; the lock went with it and the next batch's app takes over.
        body = second.post("/api/articles?wait=true", json=records[:5], headers=HEADERS).json()
        assert body["analysis"]["done"] and len(body["added"]) == 5
        assert second.get("/api/status").json()["analysis"]["this_process"]
    assert set(stories_per_article(db).values()) == {1}


def test_serve_with_two_worker_processes(tmp_path: Path, records: list[dict[str, Any]]) -> None:
    """`rasd serve --workers 2`: the token is checked in every process, overlapping batches posted
    at once (each on its own connection, so both processes take some) are stored once, and one
    process analyses every article once."""
    db = tmp_path / "workers.db"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log = (tmp_path / "server.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "rasd", "serve", "--db", str(db), "--port", str(port), "--workers", "2",
         "--token", TOKEN], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            try:
                if httpx.get(f"{base}/api/status", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        wrong = [httpx.post(f"{base}/api/articles", json=records[:2], headers={"Authorization": "Bearer nope"})
                 for _ in range(6)]
        assert [r.status_code for r in wrong] == [401] * 6
        # The analysis has a process of its own: no worker serving pages runs it.
        assert not any(httpx.get(f"{base}/api/status").json()["analysis"]["this_process"] for _ in range(6))
        assert httpx.get(f"{base}/api/status").json()["stats"]["articles"] == 0

        batches = [records[i : i + 6] for i in range(0, len(records) - 3, 3)][:4]
        clients = [httpx.Client(base_url=base, timeout=60) for _ in batches]
        answers = _post_all(clients, batches, HEADERS)
        for c in clients:
            c.close()
        assert [r.status_code for r in answers] == [200] * len(batches)
        added = [a for r in answers for a in r.json()["added"]]
        assert len(added) == len(set(added)) == len({r["url"] for b in batches for r in b})
        waited = httpx.post(f"{base}/api/articles?wait=true", json=records[-2:], headers=HEADERS, timeout=120)
        assert waited.json()["analysis"]["done"]
        while httpx.get(f"{base}/api/status").json()["analysis"]["pending"] > 0:
            assert time.monotonic() < deadline + 120
            time.sleep(0.2)
        assert (tmp_path / "workers.db-analysis.lock").read_text().strip().isdigit()
    finally:
        server.terminate()
        server.wait(timeout=60)
        log.close()
    counts = stories_per_article(db)
    assert set(counts) == set(added) | set(waited.json()["added"]) and set(counts.values()) == {1}


# A process that holds the analysis lock until its stdin closes, then lets go.
_HOLDER = (
    "import sys\n"
    "from rasd.web.api import AnalysisLock\n"
    "lock = AnalysisLock(sys.argv[1])\n"
    "print('held' if lock.acquire() else 'refused', flush=True)\n"
    "sys.stdin.read()\n"
    "lock.release()\n"
)
# A process that checks who holds the lock, as fast as it can, for a second.
_CHECKER = (
    "import sys, time\n"
    "from rasd.web.api import AnalysisLock\n"
    "print('checking', flush=True)\n"
    "n, end = 0, time.monotonic() + 1.0\n"
    "while time.monotonic() < end:\n"
    "    AnalysisLock.holder(sys.argv[1])\n"
    "    n += 1\n"
    "print(n, flush=True)\n"
)


def test_who_holds_the_analysis_lock_is_read_without_taking_it(tmp_path: Path) -> None:
    """The readiness check of ``serve`` names the holder from the lock file: while another process
    holds the lock, checking never takes it from that process, and checks that run while the lock
    is free never make a process that takes it then fail (a check that took the lock to test it
    did, when the two met)."""
    store = str(tmp_path / "lock.db")
    assert AnalysisLock.holder(store) is None  # no lock file yet
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
        for _ in range(200):
            assert AnalysisLock.holder(store) == holder.pid
        mine = AnalysisLock(store)
        assert not mine.acquire()  # still the other process's
        assert AnalysisLock.holder(store) == holder.pid
    finally:
        holder.communicate(b"", timeout=30)
    assert holder.returncode == 0
    assert AnalysisLock.holder(store) is None  # it let go: the file names nobody

    # Checks from another process, as fast as it can, while this one takes and drops the lock.
    checker = subprocess.Popen([sys.executable, "-c", _CHECKER, store], stdout=subprocess.PIPE)
    assert checker.stdout is not None and checker.stdout.readline() == b"checking\n"
    taken = refused = 0
    while checker.poll() is None:
        lock = AnalysisLock(store)
        if lock.acquire():
            taken += 1
            assert AnalysisLock.holder(store) == os.getpid()
            lock.release()
        else:
            refused += 1
    checks = int(checker.communicate(timeout=30)[0])
    assert checks > 1000 and taken > 100 and refused == 0


def test_a_holder_killed_outright_holds_nothing(tmp_path: Path) -> None:
    """SIGKILL leaves the holder's pid in the file; the OS dropped its lock, and the check says so."""
    store = str(tmp_path / "killed.db")
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, store], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"held\n"
    assert AnalysisLock.holder(store) == holder.pid
    holder.kill()
    holder.communicate(timeout=30)  # reaped (a zombie is no holder either) and its pipes closed
    assert Path(AnalysisLock(store).path).read_text().strip() == str(holder.pid)
    assert AnalysisLock.holder(store) is None
    mine = AnalysisLock(store)
    assert mine.acquire() and AnalysisLock.holder(store) == os.getpid()
    mine.release()
