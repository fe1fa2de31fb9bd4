"""Throughput and memory of NER + titles (rasd.entities.find_mentions) and of linking.

CPU per article is the comparable figure on a shared machine: ``find_mentions`` over the articles
in order (cold word caches, as after a start) and once more (warm, as in a watcher that has run a
while), and ``link_entities`` of each article's mentions alone (the incremental pipeline at batch
size 1) as well as of all the PER/ORG mentions at once.

    .venv/bin/python bench/entities_bench.py            # all 31,030 SaudiNewsNet articles
    .venv/bin/python bench/entities_bench.py --limit 3000   # the first 3,000 (a quick run)

    .venv/bin/python bench/entities_bench.py --limit 1000 --model-dir DIR --out other.json   # another model

Prints a table and writes bench/results/entities_bench.json. Single process, single thread.
Reads ../shared/data/news/saudinewsnet (CC BY-NC-SA: benchmark use only, nothing ships).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

from rasd.entities import find_mentions, link_entities
from rasd.models import Article, Block
from rasd.ner import Tagger, article_sentences, default_tagger, read_conll

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared" / "data" / "news" / "saudinewsnet"


def articles(limit: int | None) -> Iterator[Article]:
    n = 0
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                for i, rec in enumerate(json.loads(z.read(name))):
                    title = rec.get("title") or ""
                    body = rec.get("content") or ""
                    text = f"{title}\n{body}"
                    yield Article(
                        id=f"{path.stem}-{i}", text=text, title=title, source=rec.get("source"),
                        url=rec.get("url"),
                        blocks=(Block(0, len(title), "title"), Block(len(title) + 1, len(text), "body")),
                    )
                    n += 1
                    if limit is not None and n >= limit:
                        return


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--model-dir", type=Path, default=None,
                    help="a model directory other than the shipped one (e.g. with an experimental neural.npz)")
    ap.add_argument("--out", default="entities_bench.json", help="file name under bench/results/")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"SaudiNewsNet not found at {DATA}", file=sys.stderr)
        return 1
    t0 = time.perf_counter()
    tagger = Tagger(args.model_dir) if args.model_dir else default_tagger()
    load_s = time.perf_counter() - t0
    # Sentence tagging alone, on the NER test corpus (one call per sentence, no consistency).
    ner_sents = [w for w, _ in read_conll(ROOT.parent / "shared" / "data" / "ner" / "cleananercorp" / "test.txt")]
    c0, w0 = time.process_time(), time.perf_counter()
    for ws in ner_sents:
        tagger.tag(ws)
    tag_cpu, tag_wall = time.process_time() - c0, time.perf_counter() - w0
    ner_tokens = sum(len(ws) for ws in ner_sents)
    # The quality protocol: windows of 20 sentences with document consistency.
    c0 = time.process_time()
    for i in range(0, len(ner_sents), 20):
        tagger.tag_document(ner_sents[i : i + 20])
    doc_cpu = time.process_time() - c0
    docs = list(articles(args.limit))
    n_tokens = 0
    mentions = []
    t1, c1 = time.perf_counter(), time.process_time()
    for a in docs:
        mentions += find_mentions(a, tagger)
    ner_s, ner_cpu = time.perf_counter() - t1, time.process_time() - c1
    # The same articles again: every word is in the caches now, as in a watcher that has run a while.
    c1 = time.process_time()
    by_article = [find_mentions(a, tagger) for a in docs]
    warm_cpu = time.process_time() - c1
    c1 = time.process_time()
    for ms in by_article:
        link_entities(ms)
    link_each_cpu = time.process_time() - c1
    # Tokens are counted apart from the timed loop (the tagger's own tokens, punctuation included).
    n_tokens = sum(len(s) for a in docs for s in article_sentences(a))
    t2, c2 = time.perf_counter(), time.process_time()
    entities = link_entities([m for m in mentions if m.type in ("PER", "ORG")])
    link_s, link_cpu = time.perf_counter() - t2, time.process_time() - c2
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    titled = sum(1 for m in mentions if m.title)
    result = {
        "tagger": "crf" if tagger.neural is None else "crf + neural",
        "articles": len(docs),
        "tokens": n_tokens,
        "mentions": len(mentions),
        "person_mentions_with_title": titled,
        "entities_per_org": len(entities),
        "model_load_s": round(load_s, 2),
        "tag_only_tokens_per_s": round(ner_tokens / tag_wall),
        "tag_only_tokens_per_cpu_s": round(ner_tokens / tag_cpu),
        "tag_document_tokens_per_cpu_s": round(ner_tokens / doc_cpu),
        "ner_titles_s": round(ner_s, 1),
        "ner_titles_cpu_s": round(ner_cpu, 1),
        "articles_per_s": round(len(docs) / ner_s, 1),
        "tokens_per_s": round(n_tokens / ner_s),
        # The build machine is shared: per CPU-second rates are the comparable ones.
        "articles_per_cpu_s": round(len(docs) / ner_cpu, 1),
        "cpu_ms_per_article": round(ner_cpu / len(docs) * 1000, 1),
        "tokens_per_cpu_s": round(n_tokens / ner_cpu),
        "warm_cpu_ms_per_article": round(warm_cpu / len(docs) * 1000, 2),
        "link_each_article_cpu_ms": round(link_each_cpu / len(docs) * 1000, 2),
        # What run_entities costs per article in a watcher: warm find_mentions and its own linking.
        "entities_warm_cpu_ms_per_article": round((warm_cpu + link_each_cpu) / len(docs) * 1000, 2),
        "link_s": round(link_s, 2),
        "link_cpu_s": round(link_cpu, 2),
        "peak_rss_mb": round(rss_mb),
        "load_average_1min": round(os.getloadavg()[0], 1),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    width = max(len(k) for k in result)
    for k, v in result.items():
        print(f"{k:{width}}  {v:,}" if isinstance(v, int | float) else f"{k:{width}}  {v}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
