"""Ingest + normalisation throughput over all SaudiNewsNet articles, read from the zips in place.

Stages timed separately on one core: decode+clean (bytes to an Article with blocks and id),
normalise (normalised words of the title/body blocks), stem, and the SQLite store (upsert with
FTS5 index). Prints a table and writes bench/results/ingest.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._saudinewsnet import DATA, records
from rasd import textnorm
from rasd.ingest.clean import make_article
from rasd.ingest.decode import decode
from rasd.ingest.meta import parse_published
from rasd.store import Store


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--no-store", action="store_true", help="skip the SQLite stage")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")

    raw = [(r.get("content") or "").encode("utf-8") for r in records(args.limit)]
    metas = list(records(args.limit))
    total_bytes = sum(len(b) for b in raw)
    n = len(raw)
    timings: dict[str, float] = {}

    start = time.perf_counter()
    articles = []
    for data, meta in zip(raw, metas, strict=True):
        if not data.strip():
            continue
        text, encoding = decode(data)
        articles.append(make_article(
            text, title=meta.get("title") or None, source=meta.get("source"), url=meta.get("url"),
            published=parse_published(meta.get("date_extracted", "").replace(" ", "T")), encoding=encoding,
        ))
    timings["decode + clean + id"] = time.perf_counter() - start

    start = time.perf_counter()
    word_lists = []
    for article in articles:
        words: list[str] = []
        for block in article.blocks:
            if block.kind in ("title", "body"):
                words.extend(textnorm.words(article.text[block.start : block.end]))
        word_lists.append(words)
    timings["normalise (words)"] = time.perf_counter() - start

    start = time.perf_counter()
    for words in word_lists:
        [textnorm.stem(w) for w in words]
    timings["stem"] = time.perf_counter() - start

    start = time.perf_counter()
    for article in articles:
        for block in article.blocks:
            if block.kind == "body":
                textnorm.sentences(article.text, block.start, block.end)
    timings["sentences"] = time.perf_counter() - start

    if not args.no_store:
        with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
            start = time.perf_counter()
            for i in range(0, len(articles), 200):
                store.upsert_articles(articles[i : i + 200])
            timings["store (SQLite + FTS5)"] = time.perf_counter() - start

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    tokens = sum(len(w) for w in word_lists)
    rows = []
    for stage, seconds in timings.items():
        rows.append({"stage": stage, "seconds": round(seconds, 2), "articles_per_s": round(n / seconds),
                     "mb_per_s": round(total_bytes / 1e6 / seconds, 1)})
    core = sum(timings[k] for k in ("decode + clean + id", "normalise (words)"))
    rows.append({"stage": "ingest + normalisation", "seconds": round(core, 2),
                 "articles_per_s": round(n / core), "mb_per_s": round(total_bytes / 1e6 / core, 1)})
    everything = sum(timings.values())
    rows.append({"stage": "all of the above", "seconds": round(everything, 2),
                 "articles_per_s": round(n / everything), "mb_per_s": round(total_bytes / 1e6 / everything, 1)})

    print(f"SaudiNewsNet: {n} articles, {total_bytes / 1e6:.1f} MB of UTF-8 text, {tokens} word tokens")
    print(f"{'stage':<26}{'seconds':>9}{'articles/s':>12}{'MB/s':>8}")
    for row in rows:
        print(f"{row['stage']:<26}{row['seconds']:>9}{row['articles_per_s']:>12}{row['mb_per_s']:>8}")
    print(f"peak RSS: {peak_mb:.0f} MB (the whole corpus is held in memory by this script)")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(
        {"articles": n, "bytes": total_bytes, "tokens": tokens, "stages": rows, "peak_rss_mb": round(peak_mb)},
        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
