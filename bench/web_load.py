"""A bounded load run of the web app on loopback, over a store of SaudiNewsNet articles.

1. The store: ``--from-db PATH`` copies an analysed store (``bench/full_store.py`` builds the whole
   corpus, 31k articles) into a temporary folder with SQLite's backup API, so the source is never
   written and may even be in use; otherwise ``--articles`` SaudiNewsNet articles are ingested and
   analysed with the real pipeline.
2. The app runs under uvicorn on 127.0.0.1 (a free port) in a child process, so the load clients
   of this process do not share its interpreter lock; its CPU seconds are read from /proc.
3. Idle: ``--clients`` threads request story pages and search pages (half each) until
   ``--requests`` are done or ``--seconds`` have passed.
4. Under ingest: the same load while another thread posts ``--ingest`` further articles through
   ``POST /api/articles`` in batches (each triggering the coalesced incremental analysis). They are
   SaudiNewsNet articles not in the store, or with ``--ingest-from ant`` articles of the ANT corpus
   (another outlet and years: all new even to a store of the whole of SaudiNewsNet).
5. Checks: no request failed, every article the API reported as added is stored exactly once, the
   store holds the initial articles plus those, and (when the analysis finished within
   ``--analysis-wait``) every one of them is in exactly one story.

Prints a table and writes bench/results/web_load.json. Loopback only; every loop is bounded.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx

from bench._saudinewsnet import DATA, records
from bench._stores import copy_store
from rasd import pipeline
from rasd.ingest.clean import make_article
from rasd.ingest.meta import parse_published
from rasd.report import build_report
from rasd.settings import load_settings
from rasd.store import Store
from rasd.web import WebSettings, views
from rasd.web import _environment as web_environment
from rasd.web.views import ViewSettings

TOKEN = "bench-token"
ANT = DATA.parent / "ant" / "ant_v1.1.jsonl.gz"
ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["الرياض", "وزير الخارجية", "الملك سلمان", "اليمن", "النفط", "الحوثيين", "مجلس الوزراء", "فى جدة",
           "الصحة", "التعليم", "الامن", "\"خادم الحرمين\"", "السعوديه", "ايران", "الهلال"]


def _record(r: dict[str, str]) -> dict[str, str]:
    return {"text": r.get("content") or "", "title": r.get("title") or "", "url": r.get("url") or "",
            "source": r.get("source") or "", "published": (r.get("date_extracted") or "").replace(" ", "T")}


def ant_records() -> Iterator[dict[str, str]]:
    with gzip.open(ANT, "rt", encoding="utf-8") as lines:
        for line in lines:
            r = json.loads(line)
            published = r.get("published") or ""
            day = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4})", published)
            if day:  # a third of ANT's dates are DD/MM/YYYY; the API reads ISO 8601
                published = f"{day[3]}-{day[2]}-{day[1]}"
            yield {"text": r.get("text") or "", "title": r.get("title") or "", "url": r.get("url") or "",
                   "source": r.get("source") or "", "published": published}


def copied_store(source: Path, db: Path) -> dict[str, float]:
    """Copy ``source`` to ``db`` and say what it holds."""
    started = time.perf_counter()
    copy_store(source, db)
    with Store(db) as store:  # runs the store's migrations (new indexes) on the copy
        stats = store.stats()
    return {"articles": stats["articles"], "stories": stats["stories"], "copied_from": str(source),
            "copy_s": round(time.perf_counter() - started, 1)}


def build_store(db: Path, n: int) -> dict[str, float]:
    settings = load_settings()
    started = time.perf_counter()
    articles = []
    for r in records(n):
        if not (r.get("content") or "").strip():
            continue
        rec = _record(r)
        articles.append(make_article(rec["text"], title=rec["title"] or None, source=rec["source"] or None,
                                     url=rec["url"] or None, published=parse_published(rec["published"])))
    with Store(db) as store:
        store.upsert_articles(articles)
        ingest_s = time.perf_counter() - started
        started = time.perf_counter()
        report = build_report(pipeline.analyze(list(store.articles()), settings), settings.report)
        store.save_analysis(report)
        return {"articles": store.count_articles(), "stories": store.stats()["stories"], "ingest_s": ingest_s,
                "analyse_s": time.perf_counter() - started}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load(base: str, story_ids: list[str], requests: int, seconds: float, clients: int, seed: int) -> dict[str, Any]:
    """``requests`` GETs (or fewer when ``seconds`` run out) from ``clients`` threads."""
    latencies: dict[str, list[float]] = {"story": [], "search": []}
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()
    deadline = time.monotonic() + seconds

    def worker(k: int) -> None:
        rng = random.Random(seed + k)
        with httpx.Client(base_url=base, timeout=60) as client:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                kind = "story" if i % 2 == 0 and story_ids else "search"
                url = f"/stories/{rng.choice(story_ids)}" if kind == "story" else "/search"
                params = {"q": rng.choice(QUERIES)} if kind == "search" else None
                t0 = time.perf_counter()
                try:
                    response = client.get(url, params=params)
                    ok = response.status_code == 200
                    why = f"{url} -> {response.status_code}"
                except httpx.HTTPError as exc:
                    ok, why = False, f"{url} -> {type(exc).__name__}"
                elapsed = time.perf_counter() - t0
                with lock:
                    latencies[kind].append(elapsed)
                    if not ok:
                        errors.append(why)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    everything = latencies["story"] + latencies["search"]
    return {
        "requests": len(everything), "seconds": round(wall, 2), "rps": round(len(everything) / wall, 1),
        "errors": len(errors), "error_examples": errors[:5],
        **{f"{kind}_{name}": value for kind, values in (("all", everything), *latencies.items())
           for name, value in _percentiles(values).items()},
    }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if len(values) < 2:
        return {"p50_ms": None, "p95_ms": None, "p99_ms": None}
    q = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1), "p99_ms": round(q[98] * 1000, 1)}


def ingest_through_api(base: str, batches: list[list[dict[str, str]]], outcome: dict[str, Any]) -> None:
    added: list[str] = []
    unchanged: list[str] = []
    failures: list[str] = []
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=600, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for batch in batches:
            response = client.post("/api/articles", json=batch)
            if response.status_code not in (200, 202):
                failures.append(f"{response.status_code}: {response.text[:200]}")
                continue
            body = response.json()
            added += body["added"]
            unchanged += body["unchanged"]
            failures += [f"{e['where']}: {e['reason']}" for e in body["errors"]]
    outcome.update(added=added, unchanged=unchanged, failures=failures, seconds=time.perf_counter() - started)


def in_process(db: Path, story_ids: list[str]) -> dict[str, Any]:
    """CPU milliseconds of each page's own work (its queries, views and template), one at a time in
    this process: each story page once (a first view: no cache holds it) and each search page once.
    Unlike the latencies over loopback this hardly depends on what else the machine runs; HTTP and
    the framework come on top (the server's CPU per request is measured in the load runs)."""
    env = web_environment()
    settings = ViewSettings()
    cpu: dict[str, list[float]] = {"story": [], "search": []}
    with Store(db) as store:
        env.get_template("story.html").render(view=views.story(store, story_ids[-1], settings), json_url="", q="")
        for story_id in story_ids:
            t0 = time.process_time()
            view = views.story(store, story_id, settings)
            env.get_template("story.html").render(view=view, json_url="", q="")
            cpu["story"].append(time.process_time() - t0)
        for q in QUERIES:
            t0 = time.process_time()
            view = views.search(store, q, 1, settings)
            env.get_template("search.html").render(view={**view, "_prev": None, "_next": None}, json_url="", q=q)
            cpu["search"].append(time.process_time() - t0)
    return {f"{kind}_cpu_{name}": value for kind, values in cpu.items()
            for name, value in {**_percentiles(values), "max_ms": round(max(values) * 1000, 1)}.items()}


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes and their helpers)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its descendants so far (Linux /proc)."""
    total = 0.0
    for p in _tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def _rss_mb(pid: int) -> float:
    """Peak resident memory of a process and its descendants, summed."""
    total = 0
    for p in _tree(pid):
        try:
            lines = Path(f"/proc/{p}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmHWM:"))
    return round(total / 1024, 1)


# Through ``serve`` whatever the number of processes, as ``rasd serve`` runs it; the page cache
# reaches every worker process through ``web``.
SERVER = (
    "import sys\n"
    "from rasd.web import WebSettings, serve\n"
    "serve(sys.argv[1], '127.0.0.1', int(sys.argv[3]), sys.argv[2], None, int(sys.argv[5]),\n"
    "      web=WebSettings(page_cache=int(sys.argv[4])))\n"
)


def start_server(db: Path, port: int, log: Path, page_cache: int, workers: int) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(db), TOKEN, str(port), str(page_cache),
                                   str(workers)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"the server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/status", timeout=5).status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    sys.exit("the server did not start within 120 s")


def wait_for_analysis(base: str, seconds: float) -> dict[str, Any]:
    """The server's analysis state once it caught up with every request (or when time ran out)."""
    deadline = time.monotonic() + seconds
    while True:
        analysis = httpx.get(f"{base}/api/status", timeout=60).json()["analysis"]
        # ``pending`` is read from the store: with several processes, the one answering may not
        # be the one that analyses.
        done = analysis["pending"] == 0 and not (analysis["this_process"] and analysis["running"])
        if done or time.monotonic() > deadline:
            return {**analysis, "caught_up": done}
        time.sleep(1)


def new_records(db: Path, corpus: str, skip: int, n: int) -> list[dict[str, str]]:
    """``n`` records whose URL is not in the store (SaudiNewsNet after the first ``skip``, or ANT)."""
    with Store(db) as store:
        stored = {r["url"] for r in store.query("SELECT url FROM articles WHERE url IS NOT NULL")}
    source = ant_records() if corpus == "ant" else (_record(r) for r in itertools.islice(records(), skip, None))
    out = []
    for rec in source:
        if rec["text"].strip() and rec["url"] not in stored:
            out.append(rec)
            if len(out) >= n:
                break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # 300: the full pipeline analyses about 3 articles a second here (measured: 300 in 102 s on a
    # shared 2-core machine), so a larger starting store makes the run minutes longer, not fairer.
    parser.add_argument("--articles", type=int, default=300, help="articles in the store before the load")
    parser.add_argument("--from-db", type=Path, default=None,
                        help="load against a copy of this analysed store instead of building one")
    parser.add_argument("--ingest", type=int, default=5000, help="articles posted during the second run")
    parser.add_argument("--ingest-from", choices=("saudinewsnet", "ant"), default="saudinewsnet",
                        help="corpus of the posted articles (ant: new even to a store of all SaudiNewsNet)")
    parser.add_argument("--batch", type=int, default=500, help="articles per POST")
    parser.add_argument("--requests", type=int, default=300, help="GETs per run (at most)")
    parser.add_argument("--seconds", type=float, default=60, help="time limit per run")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client threads")
    parser.add_argument("--analysis-wait", type=float, default=60,
                        help="seconds to wait after the ingest for the analysis to catch up")
    parser.add_argument("--page-cache", type=int, default=WebSettings().page_cache,
                        help="the server's story page cache (WebSettings.page_cache, in each process); 0: off")
    parser.add_argument("--workers", type=int, default=1, help="server processes (rasd serve --workers)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results" / "web_load.json")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")

    tmp = tempfile.TemporaryDirectory(prefix="rasd-web-load-")
    db = Path(tmp.name) / "load.db"
    if args.from_db is not None:
        built = copied_store(args.from_db, db)
        print(f"store: {built['articles']} articles, {built['stories']} stories (copied in {built['copy_s']} s)",
              flush=True)
    else:
        built = build_store(db, args.articles)
        print(f"store: {built['articles']} articles, {built['stories']} stories "
              f"(ingest {built['ingest_s']:.1f} s, analysis {built['analyse_s']:.1f} s)", flush=True)
    with Store(db) as store:
        story_ids = [r["id"] for r in store.query("SELECT id FROM stories ORDER BY size DESC LIMIT 200")]
        initial = store.count_articles()
    if not story_ids:
        sys.exit(f"the store has no stories ({built['articles']} articles): analyse it before the load run")
    extra = new_records(db, args.ingest_from, args.articles, args.ingest)
    profile = in_process(db, story_ids)
    print(f"in process (CPU ms, first views): story p50 {profile['story_cpu_p50_ms']} p95 "
          f"{profile['story_cpu_p95_ms']}, search p50 {profile['search_cpu_p50_ms']} p95 "
          f"{profile['search_cpu_p95_ms']}", flush=True)

    port = _free_port()
    server = start_server(db, port, Path(tmp.name) / "server.log", args.page_cache, args.workers)
    base = f"http://127.0.0.1:{port}"
    try:
        cpu0 = _cpu_seconds(server.pid)
        idle = load(base, story_ids, args.requests, args.seconds, args.clients, seed=1)
        cpu1 = _cpu_seconds(server.pid)
        idle["server_cpu_ms_per_request"] = round((cpu1 - cpu0) / max(1, idle["requests"]) * 1000, 1)
        print(f"idle: {idle['rps']} req/s, p50 {idle['all_p50_ms']} ms, p95 {idle['all_p95_ms']} ms", flush=True)

        batches = [extra[i:i + args.batch] for i in range(0, len(extra), args.batch)]
        outcome: dict[str, Any] = {}
        writer = threading.Thread(target=ingest_through_api, args=(base, batches, outcome))
        writer.start()
        busy = load(base, story_ids, args.requests, args.seconds, args.clients, seed=2)
        writer.join(timeout=600)
        print(f"under ingest: {busy['rps']} req/s, p50 {busy['all_p50_ms']} ms, p95 {busy['all_p95_ms']} ms",
              flush=True)
        started = time.perf_counter()
        analysis = wait_for_analysis(base, args.analysis_wait)
        caught_up_s = time.perf_counter() - started
        server_cpu_s = _cpu_seconds(server.pid)
        server_peak_rss_mb = _rss_mb(server.pid)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()

    with Store(db) as store:
        final = store.count_articles()
        stored = {r["id"] for r in store.query("SELECT id FROM articles")}
        duplicated_urls = store.query(
            "SELECT COUNT(*) AS n FROM (SELECT url FROM articles WHERE url IS NOT NULL AND url != ''"
            " GROUP BY url, text HAVING COUNT(*) > 1)")[0]["n"]
        stories_of: dict[str, int] = {}
        for r in store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id"):
            stories_of[r["article_id"]] = r["n"]
    added = outcome.get("added", [])
    checks = {
        "posted": len(extra),
        "added": len(added),
        "unchanged": len(outcome.get("unchanged", [])),
        # Per-record problems the API reported (a record without text is not stored; a bad date is
        # reported and the article stored without it) and failed requests.
        "record_errors": len(outcome.get("failures", [])),
        "lost": len(set(added) - stored),
        "added_twice": len(added) - len(set(added)),
        "duplicated_url_text": duplicated_urls,
        "store_before": initial,
        "store_after": final,
        "store_matches": final == initial + len(set(added)),
        "ingest_seconds": round(outcome.get("seconds", 0.0), 1),
        "analysis_caught_up": analysis["caught_up"],
        "analysis_caught_up_after_ingest_s": round(caught_up_s, 1),
        "analysis_runs": analysis["runs"],
        "analysis_pending": analysis["pending"],
        "analysis_startup_seconds": analysis.get("startup_seconds"),
        "last_analysis_error": analysis["last_error"],
        "added_in_a_story": sum(1 for a in set(added) if stories_of.get(a) == 1),
        "added_in_two_stories": sum(1 for a in set(added) if stories_of.get(a, 0) > 1),
        "server_cpu_s": round(server_cpu_s, 1),
        "server_peak_rss_mb": server_peak_rss_mb,
    }

    rows = [("idle", idle), ("during ingest", busy)]
    print()
    print(f"{'run':<15}{'requests':>9}{'req/s':>8}{'errors':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
          f"{'story p50':>11}{'story p95':>11}{'search p50':>12}{'search p95':>12}")
    for name, r in rows:
        print(f"{name:<15}{r['requests']:>9}{r['rps']:>8}{r['errors']:>8}{r['all_p50_ms']!s:>9}"
              f"{r['all_p95_ms']!s:>9}{r['all_p99_ms']!s:>9}{r['story_p50_ms']!s:>11}{r['story_p95_ms']!s:>11}"
              f"{r['search_p50_ms']!s:>12}{r['search_p95_ms']!s:>12}")
    print(f"server CPU per request when idle: {idle['server_cpu_ms_per_request']} ms")
    print()
    for key, value in checks.items():
        print(f"{key:<36}{value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": f"{os.cpu_count()} cpus, load average at end {os.getloadavg()[0]:.1f}",
        "store": built, "in_process": profile, "idle": idle, "during_ingest": busy, "checks": checks,
    }, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.cleanup()
    ok = (idle["errors"] == 0 and busy["errors"] == 0 and checks["lost"] == 0 and checks["store_matches"]
          and checks["added_twice"] == 0 and checks["added_in_two_stories"] == 0)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
