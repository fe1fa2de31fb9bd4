"""The Spark engine against the embedded engine on SaudiNewsNet: time per stage, total, peak memory.

Both engines run the full pipeline over the same articles (rasd.ingest's make_article on each
record, in store order); reading the zips is not timed. Peak memory is the resident set of this
process and all its children (the JVM and the Python workers for Spark), sampled every 0.2 s.
Prints a table and writes bench/results/spark_bench.json. Needs ../shared/data and pyspark + Java.

    .venv/bin/python bench/spark_bench.py --limit 5000 --master 'local[2]'
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

from rasd import pipeline
from rasd.ingest.clean import make_article
from rasd.ingest.meta import parse_published
from rasd.models import Article
from rasd.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the bench package importable
    sys.path.insert(0, str(ROOT))


def saudinewsnet_articles(limit: int | None) -> list[Article]:
    """SaudiNewsNet records as rasd.ingest reads a JSON record (make_article), in store order."""
    from bench._saudinewsnet import records
    from rasd.spark import prepare

    out = []
    for r in records(limit):
        text = (r.get("content") or "").strip()
        if not text:
            continue
        out.append(make_article(
            text, title=r.get("title") or None, source=r.get("source"), url=r.get("url"),
            published=parse_published((r.get("date_extracted") or "").replace(" ", "T")),
        ))
    return prepare(out)


def _tree_rss(pid: int) -> int:
    """Resident bytes of ``pid`` and its descendants (Linux /proc)."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        stack.extend(children.get(p, ()))
    return total


class PeakMemory:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree_rss(os.getpid()))
            self._stop.wait(0.2)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree_rss(os.getpid()))


def embedded(articles: list[Article]) -> tuple[dict[str, float], int]:
    settings = load_settings()
    seconds: dict[str, float] = {}
    marks: list[tuple[str, float]] = []
    with PeakMemory() as mem:
        pipeline.analyze(articles, settings, on_stage=lambda name: marks.append((name, time.perf_counter())))
        marks.append(("end", time.perf_counter()))
    for (name, t0), (_, t1) in itertools.pairwise(marks):
        seconds[name] = t1 - t0
    return seconds, mem.peak


def spark(articles: list[Article], master: str) -> tuple[dict[str, float], dict[str, int], int]:
    from rasd.spark import SparkSettings, analyze_spark, session

    settings = load_settings()
    with PeakMemory() as mem:
        t0 = time.perf_counter()
        s = session(SparkSettings(master=master))
        start = time.perf_counter() - t0
        run = analyze_spark(articles, settings, s)
        s.stop()
    seconds = {"session start": start, **run.seconds}
    return seconds, run.counts, mem.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N records (default: all 31,030)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--skip-embedded", action="store_true")
    args = parser.parse_args()
    articles = saudinewsnet_articles(args.limit)
    chars = sum(len(a.text) for a in articles)
    result: dict[str, object] = {
        "articles": len(articles), "characters": chars, "master": args.master,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]}",
        "load_average_at_start": os.getloadavg()[0],
    }
    emb: dict[str, float] = {}
    if not args.skip_embedded:
        emb, emb_peak = embedded(articles)
        result["embedded"] = {"seconds": emb, "total": sum(emb.values()), "peak_rss_mb": emb_peak / 2**20}
    spk, counts, spk_peak = spark(articles, args.master)
    result["spark"] = {"seconds": spk, "total": sum(spk.values()), "peak_rss_mb": spk_peak / 2**20,
                       "counts": counts}
    print(f"{len(articles)} SaudiNewsNet articles ({chars / 1e6:.1f} M characters), spark master {args.master}")
    print(f"{'stage':26} {'embedded s':>11} {'spark s':>9} {'spark ms/article':>17}")
    for name in ["session start", *[s.name for s in pipeline.STAGES]]:
        e = emb.get(name)
        print(f"{name:26} {'' if e is None else f'{e:11.1f}':>11} {spk.get(name, 0):9.1f} "
              f"{1000 * spk.get(name, 0) / max(1, len(articles)):17.2f}")
    print(f"{'total':26} {sum(emb.values()):11.1f} {sum(spk.values()):9.1f}")
    if not args.skip_embedded:
        print(f"peak RSS: embedded {emb_peak / 2**20:.0f} MB, spark (driver + JVM + workers) {spk_peak / 2**20:.0f} MB")
    print("spark counts:", counts)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "spark_bench.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
