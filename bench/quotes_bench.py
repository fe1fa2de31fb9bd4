"""Throughput and memory of rasd.quotes.extract_quotes over all of SaudiNewsNet.

    .venv/bin/python bench/quotes_bench.py [--limit N]

Prints a table and writes bench/results/quotes_bench.json. Reading and decoding the zips is timed
apart from extraction; peak RSS is the whole process (Python, the corpus of one day, the results).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
import zipfile
from pathlib import Path

from rasd.models import Article, Block
from rasd.quotes import extract_quotes

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=0, help="stop after this many articles (0: all)")
    args = parser.parse_args()
    zips = sorted(DATA.glob("*.zip"))
    if not zips:
        print(f"SaudiNewsNet not found at {DATA} (see ../shared/data/README.md)", file=sys.stderr)
        return 1
    n_articles = n_chars = n_quotes = n_direct = n_speaker = 0
    read_s = extract_s = 0.0
    slowest = (0.0, "")
    done = False
    for path in zips:
        t0 = time.perf_counter()
        with zipfile.ZipFile(path) as zf:
            items = [item for name in zf.namelist() for item in json.loads(zf.read(name))]
        read_s += time.perf_counter() - t0
        for item in items:
            text = item["content"]
            article = Article(id=item["url"], text=text, blocks=(Block(0, len(text), "body"),),
                              source=item["source"])
            t1 = time.perf_counter()
            quotes = extract_quotes(article)
            took = time.perf_counter() - t1
            extract_s += took
            slowest = max(slowest, (took, item["url"]))
            n_articles += 1
            n_chars += len(text)
            n_quotes += len(quotes)
            n_direct += sum(q.direct for q in quotes)
            n_speaker += sum(q.speaker_text is not None for q in quotes)
            if args.limit and n_articles >= args.limit:
                done = True
                break
        if done:
            break
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {
        "articles": n_articles,
        "chars": n_chars,
        "quotes": n_quotes,
        "direct": n_direct,
        "with_speaker": n_speaker,
        "read_s": round(read_s, 2),
        "extract_s": round(extract_s, 2),
        "articles_per_s": round(n_articles / extract_s, 1) if extract_s else None,
        "mb_text_per_s": round(n_chars / 1e6 / extract_s, 3) if extract_s else None,
        "slowest_article_ms": round(slowest[0] * 1000, 1),
        "peak_rss_mib": round(peak_mib, 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "quotes_bench.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
