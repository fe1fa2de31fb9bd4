"""Build a store of SaudiNewsNet articles analysed by the embedded engine, timing every stage.

The store is what the web load run and the watch latency run start from, and the stage times are
the embedded side of the Spark comparison (``bench/spark_bench.py --embedded-from``). Articles go
through rasd.ingest's ``make_article`` (as a JSON record would), are upserted in one batch, then
``pipeline.analyze`` runs over the whole store in publication order and the report is saved.

    .venv/bin/python bench/full_store.py [--limit N] [--db bench/results/saudinewsnet.db]

Prints a table and writes bench/results/full_store.json.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._saudinewsnet import DATA, records
from rasd import pipeline
from rasd.ingest.clean import make_article
from rasd.ingest.meta import parse_published
from rasd.report import build_report
from rasd.settings import load_settings
from rasd.store import Store

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N records (default: all 31,030)")
    parser.add_argument("--db", type=Path, default=RESULTS / "saudinewsnet.db")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{args.db}{suffix}").unlink(missing_ok=True)
    settings = load_settings()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    articles = []
    for r in records(args.limit):
        text = (r.get("content") or "").strip()
        if text:
            articles.append(make_article(
                text, title=r.get("title") or None, source=r.get("source") or None, url=r.get("url") or None,
                published=parse_published((r.get("date_extracted") or "").replace(" ", "T"))))
    marks: list[tuple[str, float, float]] = [("read and clean", wall0, cpu0)]
    with Store(args.db) as store:
        marks.append(("store upsert", time.perf_counter(), time.process_time()))
        store.upsert_articles(articles)
        stored = list(store.articles())

        def mark(name: str) -> None:
            marks.append((name, time.perf_counter(), time.process_time()))
            print(f"{time.strftime('%H:%M:%S')} {name} ({marks[-1][2] - cpu0:.0f} CPU s so far)", flush=True)

        analysis = pipeline.analyze(stored, settings, on_stage=mark)
        mark("report and save")
        store.save_analysis(build_report(analysis, settings.report))
        mark("end")
        stats = store.stats()
    stages = {name: {"wall_s": round(w1 - w0, 2), "cpu_s": round(c1 - c0, 2)}
              for (name, w0, c0), (_, w1, c1) in itertools.pairwise(marks)}
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = len(stored)
    result = {
        "articles": n, "characters": sum(len(a.text) for a in stored), "db": str(args.db),
        "db_mb": round(args.db.stat().st_size / 2**20, 1), "stats": stats, "stages": stages,
        "total_wall_s": round(sum(s["wall_s"] for s in stages.values()), 1),
        "total_cpu_s": round(sum(s["cpu_s"] for s in stages.values()), 1), "peak_rss_mb": round(peak_mb),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]}",
        "load_average_at_end": round(os.getloadavg()[0], 1),
    }
    print(f"{n} SaudiNewsNet articles -> {args.db} ({result['db_mb']} MB)")
    print(f"{'stage':26} {'wall s':>9} {'CPU s':>9} {'CPU ms/article':>15}")
    for name, s in stages.items():
        print(f"{name:26} {s['wall_s']:9.1f} {s['cpu_s']:9.1f} {1000 * s['cpu_s'] / max(1, n):15.2f}")
    print(f"{'total':26} {result['total_wall_s']:9.1f} {result['total_cpu_s']:9.1f}")
    print(f"peak RSS {result['peak_rss_mb']} MB; store: {stats}")
    (RESULTS / "full_store.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")


if __name__ == "__main__":
    main()
