"""find_dates over every SaudiNewsNet article: throughput, expressions found, peak memory.

    .venv/bin/python bench/timeline_bench.py [--limit N]

Reads ../shared/data/news/saudinewsnet/*.zip (date_extracted is the publication date), prints a
table and writes bench/results/timeline_bench.json. Time is taken twice around each call: wall clock
and this process's CPU time; on a machine shared with other jobs the CPU figure is the one that
compares across runs (the load average at the start and end is recorded beside it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import zipfile
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from rasd.models import Article, Block
from rasd.timeline import find_dates

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def articles(limit: int | None) -> Iterator[Article]:
    n = 0
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                for i, row in enumerate(json.loads(z.read(name))):
                    title = (row.get("title") or "").strip()
                    body = (row.get("content") or "").strip()
                    text = f"{title}\n\n{body}" if title else body
                    blocks = (Block(0, len(title), "title"),) if title else ()
                    blocks += (Block(len(text) - len(body), len(text), "body"),)
                    published = (row.get("date_extracted") or "").replace(" ", "T") or None
                    yield Article(
                        id=f"{path.stem}/{i}",
                        text=text,
                        source=row.get("source"),
                        url=row.get("url"),
                        published=published,
                        blocks=blocks,
                    )
                    n += 1
                    if limit is not None and n >= limit:
                        return


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="stop after this many articles")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA} (see ../shared/data/README.md)")
    count = chars = 0
    anchors: Counter[str] = Counter()
    grain: Counter[int] = Counter()
    warnings = 0
    elapsed = cpu = 0.0
    load_start = os.getloadavg()[0]
    for art in articles(args.limit):
        t0, c0 = time.perf_counter(), time.process_time()
        refs = find_dates(art)
        cpu += time.process_time() - c0
        elapsed += time.perf_counter() - t0
        count += 1
        chars += len(art.text)
        anchors.update(r.anchor for r in refs)
        grain.update(len(r.value) for r in refs)
        warnings += sum(r.warning is not None for r in refs)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    found = sum(anchors.values())
    result = {
        "articles": count,
        "characters": chars,
        "seconds_in_find_dates": round(elapsed, 2),
        "articles_per_second": round(count / elapsed, 1) if elapsed else None,
        "cpu_seconds_in_find_dates": round(cpu, 2),
        "articles_per_cpu_second": round(count / cpu, 1) if cpu else None,
        "load_average_start_end": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "mb_text_per_second": round(chars / elapsed / 1e6, 3) if elapsed else None,
        "expressions": found,
        "expressions_per_article": round(found / count, 2) if count else None,
        "by_anchor": dict(anchors),
        "by_granularity": {"day": grain[10], "month": grain[7], "year": grain[4]},
        "with_warning": warnings,
        "peak_rss_mib": round(peak_mib, 1),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "timeline_bench.json").write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n")


if __name__ == "__main__":
    main()
