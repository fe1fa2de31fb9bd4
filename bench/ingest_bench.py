"""Ingest + normalisation throughput over all SaudiNewsNet articles, read from the zips in place.

Stages timed separately on one core: decode+clean (bytes to an Article with blocks and id),
normalise (the matching form of the title/body text), tokenise (its normalised words), stem,
sentences, and the SQLite store (upsert with the FTS5 index). The corpus is streamed one day
(one zip) at a time, as ingest reads it, so peak memory is that of a real run. Prints a table
and writes bench/results/ingest.json. CPU seconds are this process's own: the one-core figure
even on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._saudinewsnet import DATA, days
from rasd import textnorm
from rasd.ingest.clean import make_article
from rasd.ingest.decode import decode
from rasd.ingest.meta import parse_published
from rasd.models import Article
from rasd.store import Store

ANALYSED = ("title", "body")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--no-store", action="store_true", help="skip the SQLite stage")
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA}")

    wall: dict[str, float] = defaultdict(float)
    cpu: dict[str, float] = defaultdict(float)

    def timed(stage: str, work: Callable[[], object]) -> object:
        start, cpu_start = time.perf_counter(), time.process_time()
        result = work()
        wall[stage] += time.perf_counter() - start
        cpu[stage] += time.process_time() - cpu_start
        return result

    n = total_bytes = tokens = 0
    with tempfile.TemporaryDirectory() as tmp, Store(Path(tmp) / "bench.db") as store:
        for records in days(args.limit):
            raw = [(r.get("content") or "").encode("utf-8") for r in records]
            n += len(raw)
            total_bytes += sum(len(b) for b in raw)

            def read(raw: list[bytes] = raw, records: list[dict[str, str]] = records) -> list[Article]:
                out = []
                for data, meta in zip(raw, records, strict=True):
                    if not data.strip():
                        continue
                    text, encoding = decode(data)
                    out.append(make_article(
                        text, title=meta.get("title") or None, source=meta.get("source"), url=meta.get("url"),
                        published=parse_published((meta.get("date_extracted") or "").replace(" ", "T")),
                        encoding=encoding,
                    ))
                return out

            articles: list[Article] = timed("decode + clean + id", read)  # type: ignore[assignment]
            texts = ["\n".join(a.text[b.start : b.end] for b in a.blocks if b.kind in ANALYSED) for a in articles]
            timed("normalise (text)", lambda texts=texts: [textnorm.normalize(t) for t in texts])
            word_lists: list[list[str]] = timed(  # type: ignore[assignment]
                "tokenise (words)", lambda texts=texts: [textnorm.words(t) for t in texts])
            tokens += sum(len(w) for w in word_lists)
            timed("stem", lambda word_lists=word_lists: [[textnorm.stem(w) for w in ws] for ws in word_lists])
            timed("sentences", lambda articles=articles: [
                textnorm.sentences(a.text, b.start, b.end) for a in articles for b in a.blocks if b.kind == "body"])
            if not args.no_store:
                timed("store (SQLite + FTS5)", lambda articles=articles: [
                    store.upsert_articles(articles[i : i + 200]) for i in range(0, len(articles), 200)])

    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def row(stage: str, seconds: float, cpu_seconds: float) -> dict[str, object]:
        return {"stage": stage, "seconds": round(seconds, 2), "cpu_seconds": round(cpu_seconds, 2),
                "articles_per_s": round(n / seconds), "articles_per_cpu_s": round(n / cpu_seconds),
                "mb_per_cpu_s": round(total_bytes / 1e6 / cpu_seconds, 1)}

    rows = [row(stage, wall[stage], cpu[stage]) for stage in wall]
    core = ("decode + clean + id", "normalise (text)")
    rows.append(row("ingest + normalisation", sum(wall[k] for k in core), sum(cpu[k] for k in core)))
    rows.append(row("all of the above", sum(wall.values()), sum(cpu.values())))

    print(f"SaudiNewsNet: {n} articles, {total_bytes / 1e6:.1f} MB of UTF-8 text, {tokens} word tokens; "
          f"load average at the end {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'stage':<26}{'wall s':>8}{'cpu s':>8}{'art/s wall':>12}{'art/cpu-s':>11}{'MB/cpu-s':>10}")
    for r in rows:
        print(f"{r['stage']:<26}{r['seconds']:>8}{r['cpu_seconds']:>8}{r['articles_per_s']:>12}"
              f"{r['articles_per_cpu_s']:>11}{r['mb_per_cpu_s']:>10}")
    print(f"peak RSS: {peak_mb:.0f} MB")
    out = Path(__file__).resolve().parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(
        {"articles": n, "bytes": total_bytes, "tokens": tokens, "stages": rows, "peak_rss_mb": round(peak_mb)},
        indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
