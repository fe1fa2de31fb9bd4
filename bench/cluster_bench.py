"""Throughput and memory of rasd.cluster on all of SaudiNewsNet (31,030 articles), end to end.

Tokenising, weighting and clustering are all timed; reading the zips is not. Prints a table for
the first 1k, 5k, 10k and all articles (in publication order) and writes
bench/results/cluster_bench.json. Needs ../shared/data (SaudiNewsNet, benchmark use only).

    .venv/bin/python bench/cluster_bench.py
"""

from __future__ import annotations

import json
import platform
import resource
import sys
import time
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


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")
    articles = load()
    rows = []
    for n in (1_000, 5_000, 10_000, len(articles)):
        batch = articles[:n]
        t0 = time.perf_counter()
        stories = cluster(batch, ClusterSettings())
        secs = time.perf_counter() - t0
        sizes = Counter(len(s.articles) for s in stories)
        biggest = max(stories, key=lambda s: len(s.articles))
        rows.append({
            "articles": n, "seconds": round(secs, 2), "articles_per_s": round(n / secs, 1),
            "us_per_article": round(secs / n * 1e6), "stories": len(stories),
            "singleton_stories": sizes[1], "largest_story": len(biggest.articles),
            "largest_story_title": biggest.title,
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        })
        r = rows[-1]
        print(f"{r['articles']:>7} articles {r['seconds']:>8.2f} s {r['articles_per_s']:>8.1f}/s "
              f"{r['us_per_article']:>6} us/article  stories {r['stories']:>6} (largest {r['largest_story']}) "
              f"peak RSS {r['peak_rss_mb']} MB", flush=True)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "cluster_bench.json").write_text(json.dumps({
        "python": platform.python_version(), "machine": platform.machine(), "rows": rows,
    }, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
