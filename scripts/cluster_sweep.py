"""Sweep ClusterSettings on the tuning slices and the bundled sample: how the settings are chosen.

Usage:
    .venv/bin/python scripts/cluster_sweep.py --set story_threshold=0.18,0.20,0.22 \
        --set new_day_threshold=0.28,0.30,0.32 [--json sweep.json] [--gold]

Every combination of the given values (each other setting as shipped) clusters:
- both tuning slices (tests/eval/clusters_tune.jsonl and clusters_tune2.jsonl; SaudiNewsNet in
  ../shared/data), with the NER stage's entities as the pipeline gives them;
- the bundled sample (rasd/data/sample), through the pipeline's own ingest, near-duplicates,
  entities and clustering, scored against the stories and single articles of its expected.json.

Each row prints story BCubed F1 and pairwise F1 of each slice, the score the settings were chosen
by (the mean over the two slices of (BCubed F1 + pairwise F1) / 2, docs/clustering.md) and the
sample's story BCubed precision and recall. The evaluation slice (clusters_gold.jsonl) is read only
with --gold, which adds its scores to each row: for looking once after a choice, never for making
it. Entities and the sample's earlier stages are computed once; only clustering runs per row.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rasd import pipeline  # noqa: E402
from rasd.cluster import ClusterSettings  # noqa: E402
from rasd.ingest import discover  # noqa: E402
from rasd.models import Analysis, Article  # noqa: E402
from rasd.settings import Settings  # noqa: E402
from rasd.store import Store  # noqa: E402
from tests.eval.test_cluster_eval import (  # noqa: E402
    bcubed,
    load_gold,
    load_tune,
    load_tune2,
    pairwise,
    pipeline_entities,
    rasd_labels,
)

SHARED = ROOT.parent / "shared" / "data"
SAMPLE = ROOT / "rasd" / "data" / "sample"
Slice = tuple[list[Article], dict[str, str], dict[str, list[str]]]


def parse_grid(specs: list[str]) -> dict[str, list[Any]]:
    """``name=v1,v2`` per --set, each value converted to the setting's own type."""
    types = {f.name: type(getattr(ClusterSettings(), f.name)) for f in fields(ClusterSettings)}
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, _, values = spec.partition("=")
        if name not in types or not values:
            sys.exit(f"--set {spec!r}: expected NAME=V1,V2 with NAME one of {', '.join(sorted(types))}")
        grid[name] = [types[name](v) for v in values.split(",")]
    return grid


def slice_scores(data: Slice, settings: ClusterSettings) -> tuple[float, float]:
    """Story BCubed F1 and story pairwise F1 of one labelled slice."""
    articles, gold, entities = data
    story_of, _ = rasd_labels(articles, settings, entities)
    return bcubed(story_of, gold)[2], pairwise(story_of, gold)[2]


def sample_analysis() -> tuple[Analysis, dict[str, str]]:
    """The sample through the stages clustering reads, and article id -> its expected story."""
    sources, errors = discover([str(SAMPLE / d) for d in ("articles", "pages", "feeds", "jsonl")],
                               str(SAMPLE / "manifest.csv"))
    if errors:
        sys.exit(f"sample: {errors[0]}")
    with Store(":memory:") as store:
        pipeline.ingest(sources, store, Settings())
        articles = list(store.articles())
    analysis = Analysis(articles=articles)
    pipeline.run_dedup(analysis, Settings())
    pipeline.run_entities(analysis, Settings())
    expected = json.loads((SAMPLE / "expected.json").read_text(encoding="utf-8"))
    by_ref = {str(Path(a.path or "").resolve().relative_to(SAMPLE.resolve())): a.id for a in articles}
    gold = {by_ref[ref]: story["key"] for story in expected["stories"] for ref in story["articles"]}
    gold.update({by_ref[ref]: ref for ref in expected["singletons"]})  # each its own story
    return analysis, gold


def sample_scores(analysis: Analysis, gold: dict[str, str], settings: ClusterSettings) -> tuple[float, float]:
    """Story BCubed precision and recall against the sample's written stories, as
    tests/test_sample_corpus.py scores them."""
    pipeline.run_cluster(analysis, Settings(cluster=settings))
    story_of = {a: s.id for s in analysis.stories for a in s.articles}
    precision, recall, _ = bcubed({a: story_of[a] for a in gold}, gold)
    return precision, recall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--set", action="append", default=[], metavar="NAME=V1,V2",
                        help="a ClusterSettings field and the values to try (repeatable)")
    parser.add_argument("--gold", action="store_true", help="add the evaluation slice's scores (look, do not choose)")
    parser.add_argument("--json", type=Path, help="also write the rows here")
    args = parser.parse_args()
    grid = parse_grid(args.set)
    if not SHARED.is_dir():
        sys.exit(f"SaudiNewsNet not found at {SHARED}")
    slices: dict[str, Slice] = {}
    loaders = [("tune", load_tune), ("tune2", load_tune2)] + ([("gold", load_gold)] if args.gold else [])
    for name, load in loaders:
        articles, gold, _ = load(SHARED)
        slices[name] = (articles, gold, pipeline_entities(articles))
    analysis, sample_gold = sample_analysis()
    rows = []
    names = list(grid)
    print(" ".join(f"{n:>18}" for n in names), "  tune B3/pw    tune2 B3/pw    mean   sample P/R",
          "   gold B3/pw" if args.gold else "")
    for values in itertools.product(*grid.values()):
        settings = replace(ClusterSettings(), **dict(zip(names, values, strict=True)))
        scores = {name: slice_scores(data, settings) for name, data in slices.items()}
        mean = sum(b + p for b, p in (scores["tune"], scores["tune2"])) / 4
        precision, recall = sample_scores(analysis, sample_gold, settings)
        rows.append({**dict(zip(names, values, strict=True)), "mean": round(mean, 4),
                     **{f"{n}_b3_f1": round(b, 4) for n, (b, _) in scores.items()},
                     **{f"{n}_pairwise_f1": round(p, 4) for n, (_, p) in scores.items()},
                     "sample_precision": round(precision, 4), "sample_recall": round(recall, 4)})
        cells = " ".join(f"{v:>18}" for v in values)
        gold = f"   {scores['gold'][0]:.3f}/{scores['gold'][1]:.3f}" if args.gold else ""
        print(f"{cells}  {scores['tune'][0]:.3f}/{scores['tune'][1]:.3f}  {scores['tune2'][0]:.3f}/"
              f"{scores['tune2'][1]:.3f}  {mean:.3f}  {precision:.3f}/{recall:.3f}{gold}", flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
