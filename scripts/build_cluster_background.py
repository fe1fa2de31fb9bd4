"""Rebuild rasd/data/cluster_background.tsv.gz: the document frequencies of clustering terms in a
general news corpus, the prior that rasd.cluster blends into the document frequencies of the
articles it clusters (see docs/clustering.md, "Background document frequencies").

    .venv/bin/python scripts/build_cluster_background.py

Input: ANT v1.1 (../shared/data/news/ant, 10,161 articles of a Tunisian outlet, Apache-2.0, so the
table may ship). SaudiNewsNet is non-commercial and must not be used here. The terms are exactly
what rasd.cluster.article_terms makes of an article (title and body, the first `max_chars` of the
body, stems from rasd.textnorm), so the table must be rebuilt when the stemmer or article_terms
changes; tests/eval/test_cluster_eval.py rebuilds it and checks that it is the shipped table, byte
for byte.
"""

from __future__ import annotations

import argparse
import gzip
import json
from dataclasses import replace
from pathlib import Path

from rasd.cluster import BACKGROUND_FILE, ClusterSettings, fit_doc_freq
from rasd.models import Article, Block

ROOT = Path(__file__).resolve().parent.parent
ANT = ROOT.parent / "shared" / "data" / "news" / "ant" / "ant_v1.1.jsonl.gz"
OUT = ROOT / "rasd" / "data" / BACKGROUND_FILE
# A term seen in one background document says almost nothing the batch cannot say itself; leaving
# those out drops 40% of the terms (31,007 -> 18,352 with the stems of the seventh session).
MIN_DF = 2


def ant_articles(path: Path) -> list[Article]:
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            title = (rec.get("title") or "").strip()
            text = title + "\n\n" + (rec.get("text") or "").strip()
            blocks = (Block(0, len(title), "title"), Block(len(title) + 2, len(text), "body"))
            out.append(Article(id=str(rec["id"]), text=text, title=title, blocks=blocks))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ant", type=Path, default=ANT)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    articles = ant_articles(args.ant)
    # The background's own counts, not blended with the table being rebuilt.
    doc_freq = fit_doc_freq(articles, replace(ClusterSettings(), background_weight=0.0)).df
    kept = sorted((t, n) for t, n in doc_freq.items() if n >= MIN_DF)
    # No name and mtime 0 in the gzip header: the same input gives the same bytes.
    with args.out.open("wb") as fh, gzip.GzipFile(filename="", mode="wb", fileobj=fh, mtime=0) as raw:
        raw.write(f"#documents\t{len(articles)}\n".encode())
        raw.write("".join(f"{t}\t{n}\n" for t, n in kept).encode())
    print(f"{len(articles)} documents, {len(doc_freq)} terms, {len(kept)} kept (df >= {MIN_DF}) -> {args.out}")


if __name__ == "__main__":
    main()
