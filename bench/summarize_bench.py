"""Throughput and memory of rasd.summarize on SaudiNewsNet stories.

Stories are made the simple way: the articles of one day file, in file order, in chunks of
``--story-size`` (default 5); a second run groups the day's articles by their first three title
words, which gives real multi-outlet wire stories. Prints a table and writes
bench/results/summarize_bench.json.

    .venv/bin/python bench/summarize_bench.py [--days 1] [--story-size 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import time
import zipfile
from collections import defaultdict
from pathlib import Path

from rasd.models import Article, Block
from rasd.summarize import summarize
from rasd.textnorm import tokens

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def load_day(path: Path) -> list[Article]:
    with zipfile.ZipFile(path) as z:
        (name,) = [n for n in z.namelist() if n.endswith(".json")]
        items = json.loads(z.read(name).decode("utf-8"))
    out = []
    for i, item in enumerate(items):
        title, body = item.get("title") or "", item.get("content") or ""
        if not body.strip():
            continue
        text = title + "\n" + body
        blocks = (Block(0, len(title), "title"), Block(len(title) + 1, len(text), "body"))
        out.append(
            Article(id=f"{path.stem}-{i}", text=text, title=title, source=item.get("source"),
                    url=item.get("url"), published=item.get("date_extracted", "").replace(" ", "T") or None,
                    blocks=blocks)
        )
    return out


def chunks(articles: list[Article], size: int) -> list[list[Article]]:
    return [articles[i : i + size] for i in range(0, len(articles), size)]


def by_title(articles: list[Article]) -> list[list[Article]]:
    groups: dict[str, list[Article]] = defaultdict(list)
    for a in articles:
        key = " ".join(t.norm for t in tokens(a.title or "")[:3])
        groups[key].append(a)
    return [g for g in groups.values() if len(g) >= 2]


def run(stories: list[list[Article]], budget: int) -> dict[str, float]:
    # CPU time beside wall time: on a shared machine the wall clock counts the other jobs too.
    start, cpu_start = time.perf_counter(), time.process_time()
    sentences = 0
    for story in stories:
        sentences += len(summarize(story, budget_words=budget))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    n_articles = sum(len(s) for s in stories)
    return {
        "stories": len(stories),
        "articles": n_articles,
        "seconds": round(seconds, 3),
        "cpu_seconds": round(cpu, 3),
        "summaries_per_s": round(len(stories) / seconds, 1),
        "articles_per_s": round(n_articles / seconds, 1),
        "articles_per_cpu_s": round(n_articles / cpu, 1),
        "sentences_out": sentences,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--days", type=int, default=1, help="how many day files to read")
    parser.add_argument("--story-size", type=int, default=5)
    parser.add_argument("--budget", type=int, default=100, help="summary length in words")
    args = parser.parse_args()
    days = sorted(DATA.glob("*.zip"))[: args.days]
    if not days:
        raise SystemExit(f"no SaudiNewsNet zips under {DATA} (see ../shared/data/README.md)")
    articles = [a for d in days for a in load_day(d)]
    rows = {
        f"chunks of {args.story_size}": run(chunks(articles, args.story_size), args.budget),
        "same first 3 title words": run(by_title(articles), args.budget),
    }
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(f"SaudiNewsNet, {len(days)} day file(s), {len(articles)} articles, budget {args.budget} words")
    print(f"{'stories':<26}{'n':>6}{'articles':>10}{'seconds':>9}{'cpu s':>8}{'summ/s':>8}{'art/s':>8}"
          f"{'art/cpu s':>10}")
    for name, r in rows.items():
        print(f"{name:<26}{r['stories']:>6}{r['articles']:>10}{r['seconds']:>9.2f}{r['cpu_seconds']:>8.2f}"
              f"{r['summaries_per_s']:>8.1f}{r['articles_per_s']:>8.1f}{r['articles_per_cpu_s']:>10.1f}")
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores while it ran")
    print(f"peak RSS {peak_mb:.0f} MB (whole process, including the loaded articles)")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "days": [d.name for d in days], "budget_words": args.budget, "runs": rows,
        "peak_rss_mb": round(peak_mb, 1), "load_average": round(os.getloadavg()[0], 1),
        "python": platform.python_version(), "machine": platform.machine(),
    }
    text = json.dumps(result, indent=2, ensure_ascii=False)
    (out / "summarize_bench.json").write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
