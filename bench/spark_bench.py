"""The Spark engine against the embedded engine on SaudiNewsNet: time and CPU per stage, peak memory.

Both engines run the full pipeline over the same articles (rasd.ingest's make_article on each
record, in store order); reading the zips is not timed. The machine these runs share is busy, so
besides wall time every stage gets its CPU seconds: for the embedded engine this process's CPU
time; for Spark the CPU time of this process and all its children (the JVM, the Python daemon and
its workers), read from /proc every 0.25 s into a ledger that keeps each process's last reading, so
workers that exit mid-stage keep their CPU. Peak memory is the resident set of the same tree, sampled every 0.25 s.

``--embedded-from bench/results/full_store.json`` takes the embedded engine's per-stage times
from bench/full_store.py (which analyses the same records) instead of running it again, so the
comparison on all 31,030 articles costs one Spark run:

    .venv/bin/python bench/spark_bench.py --limit 5000 --master 'local[2]'
    .venv/bin/python bench/spark_bench.py --master 'local[2]' --embedded-from bench/results/full_store.json

Prints a table and writes bench/results/spark_bench.json (or --out). Needs ../shared/data,
pyspark and Java 17.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the bench package importable (after PYTHONPATH)
    sys.path.append(str(ROOT))

from rasd import pipeline  # noqa: E402
from rasd.ingest.clean import make_article  # noqa: E402
from rasd.ingest.meta import parse_published  # noqa: E402
from rasd.models import Article  # noqa: E402
from rasd.settings import load_settings  # noqa: E402

STAGES = [s.name for s in pipeline.STAGES]
_TICK = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


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


class _CpuLedger:
    """CPU seconds of a process tree that never go backwards.

    Python workers come and go during a run; summing the live processes' times (or their reaped
    children's) drops a worker's whole CPU when it exits before its parent reaps it. The ledger
    keeps every process's own utime + stime as last seen (sampled every 0.25 s), so an exit loses
    at most one sampling interval.
    """

    def __init__(self) -> None:
        self.last: dict[tuple[int, float], tuple[str, float]] = {}  # (pid, start time) -> kind, seconds
        self.lock = threading.Lock()

    def totals(self) -> dict[str, float]:
        with self.lock:
            out = {"driver": 0.0, "jvm": 0.0, "workers": 0.0}
            for kind, seconds in self.last.values():
                out[kind] += seconds
            return out


_LEDGER = _CpuLedger()


def _tree(pid: int) -> tuple[int, dict[str, float]]:
    """Resident bytes of ``pid`` and its descendants, and the CPU seconds (from :data:`_LEDGER`) of
    this process ("driver"), Java ("jvm") and the rest ("workers": the PySpark daemon and its
    Python workers) since the bench started. Linux /proc."""
    children: dict[int, list[int]] = {}
    stat: dict[int, tuple[str, list[str]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                raw = f.read()
        except OSError:
            continue
        name, rest = raw[raw.find("(") + 1 :].rsplit(")", 1)
        fields = rest.split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        stat[int(entry)] = (name, fields)
    rss, stack = 0, [pid]
    with _LEDGER.lock:
        while stack:
            p = stack.pop()
            if p in stat:
                name, fields = stat[p]
                rss += int(fields[21]) * _PAGE
                kind = "driver" if p == pid else "jvm" if name == "java" else "workers"
                # fields[19] is the start time: a reused pid is another process
                _LEDGER.last[(p, float(fields[19]))] = (kind, (int(fields[11]) + int(fields[12])) / _TICK)
            stack.extend(children.get(p, ()))
    return rss, _LEDGER.totals()


class PeakMemory:
    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _tree(os.getpid())[0])
            self._stop.wait(0.25)

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _tree(os.getpid())[0])


Stages = dict[str, dict[str, float]]


def _stages(marks: list[tuple[str, float, float]]) -> Stages:
    return {name: {"wall_s": round(w1 - w0, 2), "cpu_s": round(c1 - c0, 2)}
            for (name, w0, c0), (_, w1, c1) in itertools.pairwise(marks)}


def embedded(articles: list[Article]) -> tuple[Stages, int]:
    settings = load_settings()
    marks: list[tuple[str, float, float]] = []
    with PeakMemory() as mem:
        pipeline.analyze(articles, settings,
                         on_stage=lambda name: marks.append((name, time.perf_counter(), time.process_time())))
        marks.append(("end", time.perf_counter(), time.process_time()))
    return _stages(marks), mem.peak


def embedded_from(path: Path) -> tuple[Stages, dict[str, Any]]:
    """The pipeline stages' times from bench/full_store.py's JSON (stages -> {wall_s, cpu_s})."""
    data = json.loads(path.read_text(encoding="utf-8"))
    missing = [s for s in STAGES if s not in data.get("stages", {})]
    if missing:
        sys.exit(f"{path} has no times for {missing}: is it bench/full_store.py's output?")
    return {s: data["stages"][s] for s in STAGES}, data


def spark(articles: list[Article], master: str) -> tuple[Stages, dict[str, int], int]:
    from rasd.spark import SparkSettings, analyze_spark, session

    settings = load_settings()
    pid = os.getpid()
    marks: list[tuple[str, float, dict[str, float]]] = []

    def mark(name: str) -> None:
        marks.append((name, time.perf_counter(), _tree(pid)[1]))

    with PeakMemory() as mem:
        mark("session start")
        s = session(SparkSettings(master=master))
        run = analyze_spark(articles, settings, s, on_stage=mark)
        mark("end")
        s.stop()
    stages: Stages = {}
    for (name, w0, c0), (_, w1, c1) in itertools.pairwise(marks):
        split = {f"cpu_{k}_s": round(c1[k] - c0[k], 2) for k in c0}
        stages[name] = {"wall_s": round(w1 - w0, 2), "cpu_s": round(sum(split.values()), 2), **split}
    return stages, run.counts, mem.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="only the first N records (default: all 31,030)")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--skip-embedded", action="store_true", help="run only the Spark engine")
    parser.add_argument("--embedded-from", type=Path, default=None,
                        help="take the embedded times from bench/full_store.py's JSON instead of running it")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "spark_bench.json")
    args = parser.parse_args()
    articles = saudinewsnet_articles(args.limit)
    n = len(articles)
    chars = sum(len(a.text) for a in articles)
    result: dict[str, Any] = {
        "articles": n, "characters": chars, "master": args.master,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, python {sys.version.split()[0]}",
        "load_average_at_start": round(os.getloadavg()[0], 2),
    }
    emb: Stages = {}
    if args.embedded_from is not None:
        emb, data = embedded_from(args.embedded_from)
        result["embedded"] = {"from": str(args.embedded_from), "articles": data.get("articles"), "stages": emb,
                              "peak_rss_mb": data.get("peak_rss_mb")}
        if data.get("articles") != n:
            print(f"note: {args.embedded_from} analysed {data.get('articles')} articles, this run {n}")
    elif not args.skip_embedded:
        emb, emb_peak = embedded(articles)
        result["embedded"] = {"stages": emb, "peak_rss_mb": round(emb_peak / 2**20)}
    spk, counts, spk_peak = spark(articles, args.master)
    result["spark"] = {"stages": spk, "peak_rss_mb": round(spk_peak / 2**20), "counts": counts}
    for side in ("embedded", "spark"):
        if side in result:
            st = result[side]["stages"]
            result[side]["total_wall_s"] = round(sum(s["wall_s"] for s in st.values()), 1)
            result[side]["total_cpu_s"] = round(sum(s["cpu_s"] for s in st.values()), 1)
    result["load_average_at_end"] = round(os.getloadavg()[0], 2)

    print(f"{n} SaudiNewsNet articles ({chars / 1e6:.1f} M characters), spark master {args.master}, "
          f"load average {result['load_average_at_start']} -> {result['load_average_at_end']}")
    print(f"{'stage':24} {'embedded':>17} {'spark ' + args.master:>17} {'spark CPU s by process':>26} "
          f"{'spark CPU':>10}")
    print(f"{'':24} {'wall s':>8} {'CPU s':>8} {'wall s':>8} {'CPU s':>8} {'driver':>8} {'JVM':>8} {'workers':>8} "
          f"{'ms/art':>10}")
    for name in ["session start", *STAGES]:
        e, s = emb.get(name), spk.get(name, {})
        ecol = f"{e['wall_s']:8.1f} {e['cpu_s']:8.1f}" if e else f"{'':8} {'':8}"
        split = " ".join(f"{s.get(f'cpu_{k}_s', 0.0):8.1f}" for k in ("driver", "jvm", "workers"))
        print(f"{name:24} {ecol} {s.get('wall_s', 0.0):8.1f} {s.get('cpu_s', 0.0):8.1f} {split} "
              f"{1000 * s.get('cpu_s', 0.0) / max(1, n):10.2f}")
    etot = result.get("embedded", {})
    ecol = f"{etot['total_wall_s']:8.1f} {etot['total_cpu_s']:8.1f}" if etot else f"{'':8} {'':8}"
    print(f"{'total':24} {ecol} {result['spark']['total_wall_s']:8.1f} {result['spark']['total_cpu_s']:8.1f}")
    print(f"peak RSS: embedded {etot.get('peak_rss_mb')} MB, spark (driver + JVM + workers) "
          f"{result['spark']['peak_rss_mb']} MB")
    print("spark counts:", counts)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
