"""Duplicates and passage reuse over all of SaudiNewsNet (31,030 articles, 14 outlets, 2015).

Reads the daily zips in place from ../shared/data/news/saudinewsnet, runs rasd.dedup and
rasd.reuse on one core, prints a table and 20 sampled cross-outlet reuse pairs for a person to
judge, and writes bench/results/reuse_bench.json.

    .venv/bin/python bench/reuse_bench.py [--limit N]

``date_extracted`` is when the crawler fetched a page, not when it was published, so it is not
used as a publication time: direction comes from credit lines only here.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sys
import time
import zipfile
from pathlib import Path

from rasd.dedup import find_duplicates
from rasd.models import Article, Block
from rasd.reuse import find_reuse, reuse_chains

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def load(limit: int | None) -> list[Article]:
    articles: list[Article] = []
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                if not name.endswith(".json"):
                    continue
                for n, rec in enumerate(json.loads(zf.read(name))):
                    text = rec.get("content") or ""
                    articles.append(Article(
                        id=f"{Path(name).stem}/{n}", text=text, title=rec.get("title"), source=rec.get("source"),
                        url=rec.get("url"), blocks=(Block(0, len(text), "body"),),
                    ))
                    if limit and len(articles) >= limit:
                        return articles
    return articles


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="only the first N articles")
    parser.add_argument("--samples", type=int, default=20)
    args = parser.parse_args()
    if not DATA.is_dir():
        sys.exit(f"SaudiNewsNet not found at {DATA} (see ../shared/data/README.md)")

    t0 = time.perf_counter()
    articles = load(args.limit)
    load_s = time.perf_counter() - t0
    by_id = {a.id: a for a in articles}
    chars = sum(len(a.text) for a in articles)

    t0, c0 = time.perf_counter(), time.process_time()
    dup_sets = find_duplicates(articles)
    dedup_s, dedup_cpu = time.perf_counter() - t0, time.process_time() - c0
    rss_after_dedup = peak_rss_mb()

    t0, c0 = time.perf_counter(), time.process_time()
    links = find_reuse(articles)
    reuse_s, reuse_cpu = time.perf_counter() - t0, time.process_time() - c0

    cross = [lk for lk in links if by_id[lk.source].source != by_id[lk.target].source]
    cross_dup_pairs = sum(
        1 for s in dup_sets for i, a in enumerate(s.articles) for b in s.articles[i + 1 :]
        if by_id[a].source != by_id[b].source
    )
    result = {
        "articles": len(articles),
        "characters": chars,
        "load_s": round(load_s, 2),
        "dedup_s": round(dedup_s, 2),
        "dedup_cpu_s": round(dedup_cpu, 2),
        "dedup_articles_per_s": round(len(articles) / dedup_s, 1),
        "dedup_articles_per_cpu_s": round(len(articles) / dedup_cpu, 1),
        "duplicate_sets": len(dup_sets),
        "duplicate_sets_exact": sum(s.kind == "exact" for s in dup_sets),
        "articles_in_duplicate_sets": sum(len(s.articles) for s in dup_sets),
        "largest_duplicate_set": max((len(s.articles) for s in dup_sets), default=0),
        "cross_outlet_duplicate_pairs": cross_dup_pairs,
        "peak_rss_mb_after_dedup": round(rss_after_dedup, 1),
        "reuse_s": round(reuse_s, 2),
        "reuse_cpu_s": round(reuse_cpu, 2),
        "reuse_links": len(links),
        "reuse_links_cross_outlet": len(cross),
        "reuse_links_direction_known": sum(lk.direction_known for lk in links),
        "reuse_passages": sum(len(lk.passages) for lk in links),
        "reuse_chains": len(reuse_chains(links)),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }
    print("\nSaudiNewsNet: duplicates and reuse (one process, one core)")
    for key, value in result.items():
        print(f"  {key:<34} {value:>12}")

    rng = random.Random(0)
    sample = rng.sample(cross, min(args.samples, len(cross)))
    print(f"\n{len(sample)} sampled cross-outlet reuse links (source -> target, score, first passage):")
    samples_out = []
    for lk in sample:
        a, b = by_id[lk.source], by_id[lk.target]
        p = lk.passages[0]
        print(f"\n- {a.source} -> {b.source}  score {lk.score:.2f}  passages {len(lk.passages)}  "
              f"direction {'known (' + lk.evidence + ')' if lk.direction_known else 'unknown'}")
        print(f"  {a.title}\n  {b.title}")
        print(f"  source: {p.source_text[:220]}")
        print(f"  target: {p.target_text[:220]}")
        samples_out.append({"source": a.id, "target": b.id, "outlets": [a.source, b.source],
                            "titles": [a.title, b.title], "score": lk.score,
                            "passage": [p.source_text[:400], p.target_text[:400]]})
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reuse_bench.json").write_text(
        json.dumps({"result": result, "samples": samples_out}, ensure_ascii=False, indent=1), encoding="utf-8"
    )


if __name__ == "__main__":
    main()
