"""The Spark engine gives what the embedded engine gives (rasd.spark; rules in docs/scale.md)."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from rasd import pipeline
from rasd.cli import app
from rasd.cluster import ClusterSettings, article_terms
from rasd.errors import InputError
from rasd.ingest import IngestOptions, discover, read_inputs
from rasd.models import Article, Block
from rasd.report import build_report
from rasd.settings import Settings, load_settings

SAMPLE = Path(__file__).resolve().parent.parent / "rasd" / "data" / "sample"
HAVE_SPARK = importlib.util.find_spec("pyspark") is not None and shutil.which("java") is not None
needs_spark = pytest.mark.skipif(
    not HAVE_SPARK, reason="needs pyspark (pip install 'rasd[spark]') and Java 17 (openjdk-17-jre-headless)"
)
# Every article input of the sample corpus (expected.json beside them is the ground truth, not input).
SAMPLE_INPUTS = [str(SAMPLE / d) for d in ("articles", "pages", "feeds", "jsonl")]
COMPARED = ("duplicates", "reuse", "entities", "stories", "quotes", "dates")


def _article(id_: str, text: str, published: str | None = "2025-06-15T10:00:00+03:00",
             url: str | None = None, title_len: int = 0) -> Article:
    blocks = (Block(0, title_len, "title"), Block(title_len + 1, len(text), "body")) if title_len else (
        Block(0, len(text), "body"),)
    return Article(id=id_, text=text, blocks=blocks, source="الأفق", published=published, url=url)


# -- pure helpers (no Spark) ----------------------------------------------------------------------


def test_prepare_follows_the_store_rules() -> None:
    from rasd.spark import prepare

    first = _article("a", "نص أول", published="2025-06-12T10:00:00+03:00", url="https://x.example/1")
    again = _article("a", "نص مكرر بالمعرف نفسه", published="2025-06-01T10:00:00+03:00")
    newer = _article("b", "نص معدل", published="2025-06-13T10:00:00+03:00", url="https://x.example/1")
    undated = _article("c", "بلا تاريخ", published=None)
    early = _article("d", "خبر أقدم", published="2025-06-10T08:00:00+03:00")
    out = prepare([undated, first, again, early, newer])
    # "a" is superseded by its new version "b" (same URL); the repeated id is the first one read.
    assert [a.id for a in out] == ["d", "b", "c"]


def test_cluster_view_keeps_exactly_what_the_clusterer_reads() -> None:
    from rasd.spark import cluster_view

    title = "وزير الطاقة يعلن خطة لترشيد استهلاك المياه في المنارة"
    para = "أعلن وزير الطاقة في جمهورية الساحل اليوم خطة طارئة لترشيد المياه بعد موجة الجفاف. "
    text = title + "\n" + (para * 40) + "\n\nالأكثر قراءة"
    body_end = len(text) - len("\n\nالأكثر قراءة")
    art = Article(id="w1", text=text, source="الأفق", published="2025-06-15T10:00:00+03:00",
                  blocks=(Block(0, len(title), "title"), Block(len(title) + 1, body_end, "body"),
                          Block(body_end + 2, len(text), "boilerplate")))
    settings = ClusterSettings()
    view = cluster_view(art, settings.max_chars)
    assert len(view.text) < len(art.text) - 500  # the tail past max_chars is really dropped
    assert article_terms(view, settings, ["وزير الطاقة"]) == article_terms(art, settings, ["وزير الطاقة"])
    assert view.text[view.blocks[0].start : view.blocks[0].end] == title


def test_refuses_a_pipeline_with_a_stage_it_does_not_distribute(monkeypatch: pytest.MonkeyPatch) -> None:
    from rasd import spark as rs

    extra = pipeline.Stage("sentiment", frozenset({"articles"}), frozenset({"sentiment"}), lambda a, s: None)
    monkeypatch.setattr(pipeline, "STAGES", [*pipeline.STAGES, extra])
    with pytest.raises(RuntimeError, match="sentiment"):
        rs.analyze_rdd(None, None, Settings())  # type: ignore[arg-type]


@pytest.mark.parametrize("max_df", [40, 3])
def test_partitioned_reuse_numbering_and_key_join_give_the_embedded_candidates(max_df: int) -> None:
    from rasd import reuse
    from rasd.spark import _blocks, _pair_counts, _renumber, _spread, _tokenise

    settings = load_settings()
    rs = replace(settings.reuse, max_df=max_df)  # 3 makes the document-frequency cut bite on 45 articles
    articles = _sample_articles(settings)
    vocab = reuse.Vocabulary()
    embedded = [vocab.doc(a) for a in articles]
    indexed = list(enumerate(articles))
    parts = [list(_tokenise(indexed[a:b])) for a, b in ((0, 9), (9, 30), (30, len(indexed)))]
    first: dict[str, tuple[int, int]] = {}
    for part in parts:
        for record in part:
            if record[0] == "s":
                first[record[1]] = min(first.get(record[1], record[2]), record[2])
    ids = {s: i for i, s in enumerate(sorted(first, key=first.__getitem__))}
    assert list(ids) == vocab.stems  # the embedded engine's numbering, from three local ones
    docs = dict(d for part in parts for d in _renumber(part, ids))
    assert all(np.array_equal(docs[k].stems, doc.stems) for k, doc in enumerate(embedded))

    found = [(k, reuse.candidate_keys(docs[k], rs)) for k in range(len(docs))]
    keys = np.concatenate([f for _, f in found])
    owners = np.repeat(np.arange(len(found), dtype=np.int64), [len(f) for _, f in found])
    blocks = list(_blocks(_spread(keys, 3), 3, keys, owners))
    assert [j for j, _ in blocks] == [0, 1, 2] and sum(len(b[0]) for _, b in blocks) == len(keys)
    shared: Counter[int] = Counter()
    for _, (ks, ds) in blocks:
        codes, counts = _pair_counts(ks, ds, rs.max_df, len(docs))
        shared.update(dict(zip(codes.tolist(), counts.tolist(), strict=True)))
    pairs = sorted(divmod(c, len(docs)) for c, v in shared.items() if v >= rs.min_shared_keys)
    expected = reuse._candidate_pairs([reuse.candidate_keys(d, rs) for d in embedded], rs).tolist()
    assert pairs and [list(p) for p in pairs] == expected


# -- equivalence on the sample corpus -------------------------------------------------------------


def _sample_articles(settings: Settings) -> list[Article]:
    from rasd.spark import prepare

    sources, errors = discover(SAMPLE_INPUTS, str(SAMPLE / "manifest.csv"))
    assert not errors
    items = list(read_inputs(sources, IngestOptions(settings=settings.ingest)))
    assert not [i for i in items if isinstance(i, InputError)]
    return prepare(i for i in items if isinstance(i, Article))


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    from rasd.spark import SparkSettings, session

    # Two cores: what the CI machine has; local[*] on a laptop behaves the same, only faster.
    s = session(SparkSettings(master="local[2]", partitions_per_core=2))
    yield s
    s.stop()


def _differences(embedded: dict[str, Any], distributed: dict[str, Any]) -> dict[str, str]:
    out = {}
    for name in COMPARED:
        a, b = embedded[name], distributed[name]
        if a != b:
            only_a = [x for x in a if x not in b][:2]
            only_b = [x for x in b if x not in a][:2]
            out[name] = f"{len(a)} vs {len(b)}; embedded only {only_a}; spark only {only_b}"
    return out


@needs_spark
def test_sample_corpus_same_result_as_embedded(spark: Any) -> None:
    from rasd.spark import analyze_spark

    settings = load_settings()
    articles = _sample_articles(settings)
    assert len(articles) == 45
    embedded = build_report(pipeline.analyze(articles, settings), settings.report)
    run = analyze_spark(articles, settings, spark)
    distributed = build_report(run.analysis, settings.report)
    # Not vacuous: the corpus has a syndicated copy, a paraphrase and several stories.
    assert embedded["duplicates"] and embedded["reuse"] and len(embedded["stories"]) >= 6
    assert embedded["entities"] and embedded["dates"]
    assert _differences(embedded, distributed) == {}
    assert distributed["articles"] == embedded["articles"]
    assert set(run.seconds) == {s.name for s in pipeline.STAGES}


@needs_spark
def test_cli_spark_engine_writes_parquet_tables_and_report(spark: Any, tmp_path: Path) -> None:
    from rasd.spark import TABLE_SCHEMAS, analyze_paths

    settings = load_settings()
    out = tmp_path / "out"
    rows, errors = analyze_paths(SAMPLE_INPUTS, out, settings, str(SAMPLE / "manifest.csv"), spark=spark)
    assert errors == []
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    embedded = build_report(pipeline.analyze(_sample_articles(settings), settings), settings.report)
    assert _differences(embedded, report) == {}
    assert report["articles"] == embedded["articles"]
    for name in TABLE_SCHEMAS:
        table = spark.read.parquet(str(out / name))
        assert table.count() == rows[name] == len(report[name])
    stories = {r["id"]: r for r in spark.read.parquet(str(out / "stories")).collect()}
    first = report["stories"][0]
    assert list(stories[first["id"]]["articles"]) == first["articles"]


def test_cli_spark_engine_needs_inputs_and_out(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", "--engine", "spark", "--db", str(tmp_path / "x.db")])
    assert result.exit_code == 2
    assert "--out" in result.output
    result = CliRunner().invoke(app, ["analyze", "--engine", "hadoop", str(SAMPLE)])
    assert result.exit_code == 2


# -- equivalence at scale (SaudiNewsNet, ../shared/data) -------------------------------------------


@needs_spark
@pytest.mark.eval
def test_saudinewsnet_2000_same_result_as_embedded(spark: Any) -> None:
    from bench.spark_bench import saudinewsnet_articles
    from rasd.spark import analyze_spark

    settings = load_settings()
    articles = saudinewsnet_articles(2000)
    t0 = time.perf_counter()
    embedded = build_report(pipeline.analyze(articles, settings), settings.report)
    t1 = time.perf_counter()
    distributed = build_report(analyze_spark(articles, settings, spark).analysis, settings.report)
    t2 = time.perf_counter()
    print(f"\n{len(articles)} articles: embedded {t1 - t0:.1f} s, spark local[2] {t2 - t1:.1f} s")
    for name in COMPARED:
        print(f"{name:12} embedded {len(embedded[name]):6}  spark {len(distributed[name]):6}  "
              f"{'identical' if embedded[name] == distributed[name] else 'DIFFERENT'}")
    assert len(embedded["duplicates"]) > 20 and len(embedded["reuse"]) > 20
    assert _differences(embedded, distributed) == {}
