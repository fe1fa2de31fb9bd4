"""CPU of the incremental pipeline per new article at the batch sizes a watcher really sees.

A watcher polling every 30 s sees about one new article per round at SaudiNewsNet's own rate
(31,030 articles in 22 days from 14 outlets), so it runs the pipeline on batches of one or two
articles, where per-batch costs weigh most. This replays the newest ``--new`` articles of an
analysed store (held out of a copy, as ``watch_latency.py`` does) through
:class:`rasd.incremental.IncrementalPipeline` in batches of ``--batch`` articles and prints the
CPU per article by step. No HTTP, no feeds: the pipeline alone.

    .venv/bin/python bench/incremental_replay.py --from-db bench/results/saudinewsnet.db --batch 1
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._stores import copy_store
from bench.watch_latency import hold_out, to_article
from rasd.incremental import IncrementalPipeline
from rasd.store import Store

ROOT = Path(__file__).resolve().parent.parent


def analysis_digest(store: Store) -> str:
    """A hash of what the replay decided (story membership and reuse links), to show that a change
    made for speed left the output as it was."""
    rows = store.query("SELECT story_id, article_id FROM story_articles ORDER BY story_id, article_id")
    links = store.query("SELECT source, target FROM reuse_links ORDER BY source, target")
    text = json.dumps([[list(r.values()) for r in rows], [list(r.values()) for r in links]])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


#: What else a batch writes, in a stable order: the stories' summaries, events and timelines (their
#: JSON), reuse links with their aligned passages, quotes, dates, duplicate sets, entities, mentions.
#: Only ``processed`` is left out (it holds the clock).
_DETAILS = (
    "SELECT id, title, size, first_date, last_date, outlets, data FROM stories ORDER BY id",
    "SELECT source, target, direction_known, score, data FROM reuse_links ORDER BY source, target",
    'SELECT article_id, speaker, speaker_text, text, start, "end", direct FROM quotes'
    ' ORDER BY article_id, start, "end", text, speaker',
    'SELECT article_id, text, start, "end", value, anchor, warning FROM dates ORDER BY article_id, start, "end", value',
    "SELECT kind, similarity, articles FROM duplicate_sets ORDER BY articles, kind",
    "SELECT id, type, name, aliases, mention_count FROM entities ORDER BY id",
    'SELECT entity_id, article_id, start, "end", text, title FROM mentions'
    ' ORDER BY article_id, start, "end", entity_id',
)


def details_digest(store: Store) -> str:
    """A hash of everything else the replay wrote (summaries, timelines, events, passages, quotes,
    dates, duplicate sets, entities), to show that a change made for speed left it as it was."""
    digest = hashlib.sha256()
    for sql in _DETAILS:
        for row in store.db.execute(sql):
            digest.update(json.dumps(list(row), ensure_ascii=False).encode())
        digest.update(b"\x00")
    return digest.hexdigest()[:16]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-db", type=Path, required=True, help="an analysed store (copied, never written)")
    parser.add_argument("--new", type=int, default=200, help="newest articles held out and replayed")
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 8], help="batch sizes to replay")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "incremental_replay.json")
    args = parser.parse_args()
    rows = []
    for size in args.batch:
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "store.db"
            copy_store(args.from_db, db)
            store = Store(db)
            records = hold_out(store, args.new)
            start = time.process_time()
            pipeline = IncrementalPipeline(store)
            startup = time.process_time() - start
            steps: dict[str, float] = {}
            articles = [a for a in map(to_article, records) if a is not None]
            cpu = 0.0
            for i in range(0, len(articles), size):
                batch = articles[i : i + size]
                t0 = time.process_time()
                store.upsert_articles(batch)
                stored = time.process_time() - t0
                result = pipeline.process(batch)
                cpu += time.process_time() - t0
                steps["store articles"] = steps.get("store articles", 0.0) + stored
                for step, seconds in result.cpu.items():
                    steps[step] = steps.get(step, 0.0) + seconds
            digest = analysis_digest(store)
            details = details_digest(store)
            store.close()
        n = len(articles)
        rows.append({"batch": size, "articles": n, "startup_cpu_s": round(startup, 2),
                     "cpu_ms_per_article": round(cpu / n * 1000, 1), "analysis_digest": digest,
                     "details_digest": details,
                     "cpu_ms_per_article_by_step": {k: round(v / n * 1000, 1) for k, v in steps.items()}})
        print(f"batch {size:>3}: {n} articles, {cpu / n * 1000:.1f} CPU ms per article (start-up {startup:.1f} s),"
              f" analysis {digest}, details {details}")
        for step, seconds in steps.items():
            print(f"    {step:<26} {seconds / n * 1000:7.1f} ms")
    out = {"from_db": str(args.from_db), "rows": rows, "python": platform.python_version(),
           "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
