"""Throughput and memory of rasd.cluster on all of SaudiNewsNet (31,030 articles), end to end.

Tokenising, weighting and clustering are all timed; reading the zips is not. Prints a table for
the first 1k, 5k, 10k and all articles (in publication order) and writes
bench/results/cluster_bench.json. Needs ../shared/data (SaudiNewsNet, benchmark use only).

Both wall-clock and CPU time of the process are reported: on a shared machine the wall clock
counts other people's work. ``reference_loop_us`` times a fixed pure-Python loop (250 dict
lookups and updates, the inner loop of tokenising) so that runs on different or differently
loaded machines can be compared (on the shared 2-core development machine it measured from 35 to
102 us depending on the load). Each size runs in a fresh process, so the stem cache starts cold
and peak RSS is that size's own (it includes the loaded corpus, reported beside it).

    .venv/bin/python bench/cluster_bench.py
"""

from __future__ import annotations

import json
import platform
import resource
import subprocess
import sys
import time
import timeit
import zipfile
from collections import Counter
from pathlib import Path

from rasd.cluster import ClusterSettings, cluster
from rasd.models import Article, Block

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def load() -> list[Article]:
    out: list[Article] = []
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            items = json.loads(zf.read(zf.namelist()[0]))
        for a in items:
            title = a["title"].strip()
            text = title + "\n\n" + a["content"].strip()
            out.append(Article(id=a["url"], text=text, title=title, source=a["source"], url=a["url"],
                               published=a["date_extracted"].replace(" ", "T") + "+03:00",
                               blocks=(Block(0, len(title), "title"), Block(len(title) + 2, len(text), "body"))))
    out.sort(key=lambda a: (a.published or "", a.id))
    return out


def reference_loop_us() -> float:
    setup = "ws = ['w%d' % (i % 300) for i in range(250)]; d = {w: w for w in ws}"
    stmt = "c = {}\ng = c.get\nfor w in ws:\n    s = d.get(w)\n    if s: c[s] = g(s, 0.0) + 1.0"
    return min(timeit.repeat(stmt, setup, number=2000, repeat=5)) / 2000 * 1e6


def run_one(n: int) -> dict[str, object]:
    """Cluster the first n articles in this process; the RSS includes the loaded corpus."""
    articles = load()[:n]
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0, c0 = time.perf_counter(), time.process_time()
    stories = cluster(articles, ClusterSettings())
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    sizes = Counter(len(s.articles) for s in stories)
    biggest = max(stories, key=lambda s: len(s.articles))
    members = set(biggest.articles)
    span = [a.published for a in articles if a.id in members and a.published]
    return {
        "articles": n, "seconds": round(secs, 2), "cpu_seconds": round(cpu, 2),
        "articles_per_s": round(n / secs, 1), "articles_per_cpu_s": round(n / cpu, 1),
        "us_per_article_cpu": round(cpu / n * 1e6), "stories": len(stories),
        "singleton_stories": sizes[1], "largest_story": len(biggest.articles),
        "largest_story_days": f"{min(span)[:10]}..{max(span)[:10]}" if span else "",
        "largest_story_title": biggest.title,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "rss_after_loading_mb": round(rss_loaded),
    }


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2])), ensure_ascii=False))
        return
    total = len(load())
    ref = reference_loop_us()
    print(f"reference loop {ref:.1f} us (smaller is a faster core; see the module docstring)")
    rows = []
    for n in (1_000, 5_000, 10_000, total):
        done = subprocess.run([sys.executable, __file__, "--one", str(n)], check=True,
                              capture_output=True, text=True)
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        r = rows[-1]
        print(f"{r['articles']:>7} articles {r['seconds']:>7.1f} s wall {r['cpu_seconds']:>7.1f} s cpu "
              f"{r['articles_per_cpu_s']:>7.0f}/cpu-s {r['us_per_article_cpu']:>6} us/article  "
              f"stories {r['stories']:>6} (largest {r['largest_story']}, {r['largest_story_days']}) "
              f"peak RSS {r['peak_rss_mb']} MB (corpus loaded: {r['rss_after_loading_mb']} MB)", flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster_bench.json").write_text(json.dumps({
        "python": platform.python_version(), "machine": platform.machine(),
        "reference_loop_us": round(ref, 1), "rows": rows,
    }, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
