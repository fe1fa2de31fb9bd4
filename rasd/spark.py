"""The same pipeline on Apache Spark: the embedded engine's stage functions mapped over partitions.

Nothing here decides what a duplicate, a reused passage, an entity or a story is; that is done by
the same functions the embedded engine (``rasd.pipeline``) calls. Spark only decides *where* they
run and *which articles meet*:

* per-article work (signatures, keys, ``find_mentions``, ``extract_quotes``, ``find_dates``) runs in
  ``mapPartitions`` on the executors;
* duplicates: exact copies meet through their content hash, near copies through the MinHash LSH
  band keys of ``DuplicateIndex``; candidate pairs are checked with the signatures' Jaccard
  estimate, the checked pairs cut the articles into independent groups, and
  ``dedup.find_duplicates`` runs on each group;
* reuse: the sampled skip-gram keys of ``rasd.reuse`` are joined (a key in 2..max_df articles
  pairs them); pairs sharing enough keys are aligned by the reuse module's own pair linker;
* entities are recognised per article and linked on the driver (``link_entities`` needs every
  mention at once); quotes are extracted per article with the linked mentions and their speakers
  resolved on the driver;
* stories: ``pipeline.run_cluster`` runs on the driver over compact articles (titles and the
  first ``ClusterSettings.max_chars`` of body, all the clusterer reads); the online clusterer is
  sequential by design. Timelines and summaries run per story on the executors through
  ``pipeline.run_story_details``.

docs/scale.md gives the design, the equivalence rules and the capacity plan.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rasd import dedup, entities, pipeline, quotes, reuse, timeline
from rasd.errors import InputError
from rasd.ingest import IngestOptions, Source, discover, read_inputs
from rasd.ingest.formats import read_json
from rasd.ingest.meta import Meta
from rasd.models import Analysis, Article, Block, DuplicateSet, Mention, Quote, ReuseLink, Story, TimeRef
from rasd.report import TOP_LEVEL, build_report, write_report
from rasd.settings import Settings

if TYPE_CHECKING:  # pyspark is an optional extra: imported only when a session is made
    from pyspark import RDD
    from pyspark.sql import SparkSession


@dataclass(frozen=True, slots=True)
class SparkSettings:
    master: str = "local[*]"
    # Partitions per core for the article RDD: 3 keeps both cores of a laptop busy while one slow
    # partition (a few long articles) finishes; more only adds task overhead (about 50 ms each).
    partitions_per_core: int = 3
    # JSONL files above this size are read by Spark's line reader (many tasks per file) instead of
    # rasd.ingest (one task per file). Below it the per-task start-up costs more than it saves.
    jsonl_split_mb: float = 64.0
    # Fewer articles than this per partition only adds scheduling: every task and shuffle costs
    # 0.1-0.5 s on a busy 2-core machine, and 45 sample articles in 6 partitions took 4 minutes
    # (8 seconds of work). The SaudiNewsNet article analyses in about 10 ms on one core.
    min_articles_per_partition: int = 500
    # report.json is written only up to this many articles: past it the JSON no longer fits
    # comfortably in the driver's memory and the Parquet tables are the output.
    report_json_max_articles: int = 100_000
    # Spark driver heap (in local mode also the executors' cache and shuffle buffers): the cached
    # articles (pickled, about twice their UTF-8 size), the reuse documents while that stage
    # runs and the collected results. The whole process tree peaked at 2.1 GB on 1,958
    # SaudiNewsNet articles (bench/spark_bench.py); 4g for the 31,030 is an estimate (6x the
    # cached data, well under 4 GB) until bench/spark_bench.py is run on them.
    driver_memory: str = "4g"


@dataclass
class SparkRun:
    """What analyze_spark produced, and how long each stage took (wall seconds, driver clock)."""

    analysis: Analysis
    seconds: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)


def session(settings: SparkSettings = SparkSettings(), app: str = "rasd") -> SparkSession:
    """A Spark session whose Python workers run this interpreter (so they import this rasd)."""
    try:
        from pyspark.sql import SparkSession
    except ImportError as exc:  # the message says what to do, not just what failed
        raise RuntimeError("the Spark engine needs pyspark: pip install 'rasd[spark]' (and Java 17)") from exc
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise RuntimeError("the Spark engine needs Java 17: apt-get install openjdk-17-jre-headless (or set JAVA_HOME)")
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    spark = (
        SparkSession.builder.master(settings.master)
        .appName(app)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.driver.memory", settings.driver_memory)
        .config("spark.python.worker.reuse", "true")
        # Results are collected to the driver in stage order; 1 GB is far above what 31k need.
        .config("spark.driver.maxResultSize", "2g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.shuffle.partitions", str(_parallelism(spark, settings)))
    return spark


def _parallelism(spark: SparkSession, settings: SparkSettings, articles: int | None = None) -> int:
    most = spark.sparkContext.defaultParallelism * settings.partitions_per_core
    if articles is not None:
        most = min(most, -(-articles // settings.min_articles_per_partition))
    return max(1, most)


# ---------------------------------------------------------------------------------------------
# Inputs


def read_sources(
    spark: SparkSession,
    sources: Sequence[Source],
    options: IngestOptions,
    settings: SparkSettings = SparkSettings(),
) -> RDD:
    """Articles and InputErrors of ``sources``, read by rasd.ingest on the executors.

    Parquet files go through Spark's Parquet reader and large JSONL files through its line
    reader; each record becomes an Article through ``rasd.ingest``'s JSON record reader, so the
    fields, cleaning and ids are those of the embedded engine.
    """
    sc = spark.sparkContext
    small: list[Source] = []
    parts: list[RDD] = []
    limit = settings.jsonl_split_mb * 1024 * 1024
    for source in sources:
        path = Path(source.location)
        if source.is_url:
            small.append(source)
        elif path.suffix.lower() == ".parquet":
            parts.append(_parquet_records(spark, source, options))
        elif path.suffix.lower() in (".jsonl", ".ndjson") and path.stat().st_size > limit:
            parts.append(_jsonl_records(spark, source, options))
        else:
            small.append(source)
    if small:
        n = min(len(small), _parallelism(spark, settings))
        parts.insert(0, sc.parallelize(small, n).mapPartitions(lambda it: read_inputs(list(it), options)))
    return sc.union(parts) if len(parts) > 1 else (parts[0] if parts else sc.emptyRDD())


def _record_items(records: Iterator[tuple[dict[str, Any], int]], meta: Meta, where: str,
                  options: IngestOptions) -> Iterator[Article | InputError]:
    for record, number in records:
        # Parquet timestamps become ISO strings, which parse_published reads.
        line = json.dumps(record, ensure_ascii=False, default=str).encode("utf-8")
        for item in read_json(line, meta, where, options.field_map):
            # read_json numbers records within what it was given (always 1 here): put the
            # record's own line or row number back.
            if isinstance(item, Article):
                yield replace(item, path=f"{where}#{number}")
            else:
                yield InputError(f"{where}:{number}", item.reason)


def _parquet_records(spark: SparkSession, source: Source, options: IngestOptions) -> RDD:
    where, meta = source.location, source.meta
    rows = spark.read.parquet(where).rdd.zipWithIndex()
    return rows.mapPartitions(
        lambda it: _record_items(((r.asDict(recursive=True), i + 1) for r, i in it), meta, where, options)
    )


def _jsonl_records(spark: SparkSession, source: Source, options: IngestOptions) -> RDD:
    where, meta = source.location, source.meta

    def parse(it: Iterable[tuple[Any, int]]) -> Iterator[tuple[dict[str, Any], int]]:
        for row, i in it:
            if row.value.strip():
                yield json.loads(row.value), i + 1

    lines = spark.read.text(where).rdd.zipWithIndex()
    return lines.mapPartitions(lambda it: _record_items(parse(it), meta, where, options))


def _store_key(article: Article) -> tuple[bool, str, str]:
    # rasd.store.Store.articles: ORDER BY published IS NULL, published, id
    return (article.published is None, article.published or "", article.id)


def prepare(articles: Iterable[Article]) -> list[Article]:
    """The articles as a fresh store would hand them to the pipeline.

    Store rules: an id read twice is one article (the first kept); a later article with the URL
    of an earlier one is its new version and replaces it; the order is publication order,
    undated last, ties by id.
    """
    by_id: dict[str, Article] = {}
    latest_for_url: dict[str, str] = {}
    for a in articles:
        if a.id in by_id:
            continue
        by_id[a.id] = a
        if a.url:
            latest_for_url[a.url] = a.id
    superseded = {i for i, a in by_id.items() if a.url and latest_for_url[a.url] != i}
    return sorted((a for i, a in by_id.items() if i not in superseded), key=_store_key)


# ---------------------------------------------------------------------------------------------
# Stages over (index, article) pairs; the index is the article's place in the embedded order.

Indexed = tuple[int, Article]


def _duplicates(base: RDD, settings: Settings, counts: dict[str, int]) -> list[DuplicateSet]:
    from datasketch import MinHashLSH

    ds = settings.dedup
    # The band layout of the embedded engine's index (datasketch picks b and r from threshold).
    ranges = MinHashLSH(threshold=ds.threshold, num_perm=ds.num_perm).hashranges

    def signatures(part: Iterable[Indexed]) -> Iterator[tuple[int, bytes, Any]]:
        index = dedup.DuplicateIndex(ds)
        for k, article in part:
            sig = index.signature(article)
            if sig is not None:
                yield k, sig.content_hash, sig.minhash

    p = base.getNumPartitions()

    def keyed(sig: tuple[int, bytes, Any]) -> Iterator[tuple[tuple[Any, ...], tuple[int, bytes, Any]]]:
        _, content, minhash = sig
        yield ("exact", content), sig
        if minhash is not None:
            for b, (start, end) in enumerate(ranges):
                yield ("band", b, minhash.hashvalues[start:end].tobytes()), sig

    def bucket_edges(kv: tuple[tuple[Any, ...], Iterable[tuple[int, bytes, Any]]]) -> Iterator[tuple[int, int]]:
        key, members = kv
        ordered = sorted(members, key=lambda s: s[0])
        if key[0] == "exact":
            # Exact copies join the first of their text, as in DuplicateIndex.add.
            yield from ((ordered[0][0], s[0]) for s in ordered[1:])
            return
        # One representative per exact text is in the LSH: the first in article order.
        reps: dict[bytes, tuple[int, bytes, Any]] = {}
        for s in ordered:
            reps.setdefault(s[1], s)
        firsts = list(reps.values())
        for i, (a, _, ma) in enumerate(firsts):
            for b, _, mb in firsts[i + 1 :]:
                if ma.jaccard(mb) >= ds.threshold:
                    yield a, b

    shuffled = base.context.accumulator(0)

    def counted(item: tuple[tuple[Any, ...], tuple[int, bytes, Any]]) -> tuple[tuple[Any, ...], tuple[int, bytes, Any]]:
        shuffled.add(1)
        return item

    edges = (
        base.mapPartitions(signatures).flatMap(keyed).map(counted)
        .groupByKey(p).flatMap(bucket_edges).distinct(p).collect()
    )
    counts["dedup bucket records"] = shuffled.value
    counts["dedup checked edges"] = len(edges)
    group = _components(edges)
    if not group:
        return []
    groups = base.context.broadcast(group)
    # Each group is closed under "is a duplicate of", so find_duplicates on the group alone gives
    # the sets (and weakest similarities) it gives on the whole batch.
    found = (
        base.filter(lambda ka: ka[0] in groups.value)
        .map(lambda ka: (groups.value[ka[0]], ka))
        .groupByKey(p)
        .flatMap(lambda g: dedup.find_duplicates([a for _, a in sorted(g[1], key=lambda ka: ka[0])], ds))
        .collect()
    )
    groups.unpersist()
    found.sort(key=lambda d: (-len(d.articles), d.articles))
    return found


def _components(edges: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Article index -> smallest index of its connected component, for the articles in ``edges``."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return {x: find(x) for x in parent}


# Partition of a uint64 key or pair code: a multiplicative hash independent of rasd.reuse's key
# sampling (which keeps only keys whose other hash is 0 mod key_sample, so `key % p` would put
# every key in one partition when p divides key_sample).
_SPREAD = np.uint64(0xBF58476D1CE4E5B9)


def _spread(values: np.ndarray, p: int) -> np.ndarray:
    return ((values.astype(np.uint64) * _SPREAD) >> np.uint64(33)) % np.uint64(p)


def _blocks(dest: np.ndarray, p: int, *columns: np.ndarray) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
    """The rows of ``columns`` cut into one block per destination partition.

    Shuffling one pickled numpy block per (partition, destination) instead of one Python tuple
    per row is what makes the key join cheap: session 1 sent the 890 k keys of 4,904 articles
    through Spark SQL as Python rows, twice (the DataFrame was recomputed for each use).
    """
    order = np.argsort(dest, kind="stable")
    bounds = np.searchsorted(dest[order], np.arange(p + 1, dtype=np.uint64))
    for j in range(p):
        if bounds[j + 1] > bounds[j]:
            rows = order[bounds[j] : bounds[j + 1]]
            yield j, tuple(c[rows] for c in columns)


def _identity(j: int) -> int:
    return j


def _pair_counts(keys: np.ndarray, docs: np.ndarray, max_df: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(pair code a * n + b with a < b, keys the pair shares) over keys in 2..max_df documents.

    The expansion of rasd.reuse's candidate search, for the keys of one partition: every key of
    the batch is in exactly one partition, so document frequencies are exact here and the
    counts of a pair only need adding up across partitions.
    """
    order = np.lexsort((docs, keys))
    keys, docs = keys[order], docs[order]
    starts = np.r_[0, np.nonzero(np.diff(keys))[0] + 1]
    sizes = np.diff(np.r_[starts, len(keys)])
    usable = sizes <= max_df
    codes = []
    for off in range(1, max_df):
        valid = usable & (sizes > off)
        if not valid.any():
            break
        first_of, count = starts[valid], sizes[valid] - off
        first = np.repeat(first_of, count) + (np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count))
        # Documents are sorted within a key and unique (a document's keys are unique): a < b.
        codes.append(docs[first] * n + docs[first + off])
    if not codes:
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    return np.unique(np.concatenate(codes), return_counts=True)


def _tokenise(part: Iterable[Indexed]) -> Iterator[tuple[Any, ...]]:
    """rasd.reuse documents of a partition, numbered by a vocabulary local to the partition.

    Candidate keys are sampled by a hash of stem ids, and the embedded engine numbers stems in
    order of first occurrence over the whole batch, so the candidate pairs are the same only
    with the same numbers. Yields ("s", stem, (article index, rank among the stems new in that
    article)) for every stem in local id order, then ("d", index, document): the smallest
    (index, rank) of a stem over all partitions is its place in the embedded numbering.
    """
    vocab = reuse.Vocabulary()
    docs, first = [], []
    for k, article in part:  # partitions hold ascending article indices
        before = len(vocab)
        docs.append(("d", k, vocab.doc(article)))
        first.extend((k, r) for r in range(len(vocab) - before))
    # Stems first, so _renumber knows them all before the first document.
    yield from (("s", stem, seen) for stem, seen in zip(vocab.stems, first, strict=True))
    yield from docs


def _renumber(part: Iterable[tuple[Any, ...]], stem_ids: dict[str, int]) -> Iterator[tuple[int, Any]]:
    """(index, document) of _tokenise's output with the batch-wide stem ids."""
    local: list[int] = []
    table = np.empty(0, dtype=np.int32)
    for record in part:
        if record[0] == "s":
            local.append(stem_ids[record[1]])
            continue
        if len(table) != len(local):
            table = np.array(local, dtype=np.int32)
        _, k, doc = record
        yield k, replace(doc, stems=table[doc.stems])


def _reuse(spark: SparkSession, base: RDD, settings: Settings, counts: dict[str, int]) -> list[ReuseLink]:
    rs = settings.reuse
    sc = spark.sparkContext
    p = base.getNumPartitions()
    n = counts["articles"]

    # Pass 1: each article is tokenised once (see _tokenise), the driver ranks the stems' first
    # occurrences into the embedded numbering, each partition renumbers its documents.
    tokenised = base.mapPartitions(_tokenise, preservesPartitioning=True).persist()
    ranked = tokenised.filter(lambda r: r[0] == "s").map(lambda r: (r[1], r[2])).reduceByKey(min, p).collect()
    ranked.sort(key=lambda x: x[1])
    counts["reuse vocabulary"] = len(ranked)
    stem_ids = sc.broadcast({s: i for i, (s, _) in enumerate(ranked)})
    del ranked
    docs = tokenised.mapPartitions(lambda part: _renumber(part, stem_ids.value), preservesPartitioning=True).persist()

    # Pass 2: candidate pairs. Keys go, as numpy blocks, to the partition their hash picks; each
    # partition expands its keys into document pairs with counts; the counts go to the
    # partition of the pair and pairs sharing min_shared_keys keys are kept.
    emitted = sc.accumulator(0)
    pair_rows = sc.accumulator(0)

    def keyed(part: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
        found = [(k, reuse.candidate_keys(doc, rs)) for k, doc in part]
        if not found:
            return
        keys = np.concatenate([f for _, f in found])
        owners = np.repeat(np.array([k for k, _ in found], dtype=np.int64), [len(f) for _, f in found])
        emitted.add(len(keys))
        yield from _blocks(_spread(keys, p), p, keys, owners)

    def expand(part: Iterable[tuple[int, tuple[np.ndarray, ...]]]) -> Iterator[tuple[int, tuple[np.ndarray, ...]]]:
        blocks = [b for _, b in part]
        if blocks:
            codes, shared = _pair_counts(np.concatenate([b[0] for b in blocks]),
                                         np.concatenate([b[1] for b in blocks]), rs.max_df, n)
            pair_rows.add(len(codes))
            yield from _blocks(_spread(codes, p), p, codes, shared)

    def kept(part: Iterable[tuple[int, tuple[np.ndarray, ...]]]) -> Iterator[int]:
        blocks = [b for _, b in part]
        if blocks:
            codes, where = np.unique(np.concatenate([b[0] for b in blocks]), return_inverse=True)
            shared = np.bincount(where, weights=np.concatenate([b[1] for b in blocks]))
            yield from codes[shared >= rs.min_shared_keys].tolist()

    codes = (
        docs.mapPartitions(keyed).partitionBy(p, _identity).mapPartitions(expand)
        .partitionBy(p, _identity).mapPartitions(kept).collect()
    )
    tokenised.unpersist()
    stem_ids.unpersist()
    counts["reuse keys"] = emitted.value
    counts["reuse pair count rows"] = pair_rows.value
    counts["reuse candidate pairs"] = len(codes)

    # Pass 3: alignment. Each pair is aligned in the partition its first article's index picks;
    # every document goes once to each partition that needs it (not once per pair: a wire story
    # copied by 30 outlets is 435 pairs but at most p copies of each document).
    pairs = sorted(divmod(c, n) for c in codes)
    del codes
    by_dest: dict[int, list[tuple[int, int]]] = {}
    wanted: dict[int, set[int]] = {}
    for a, b in pairs:
        d = a % p
        by_dest.setdefault(d, []).append((a, b))
        wanted.setdefault(a, set()).add(d)
        wanted.setdefault(b, set()).add(d)
    routes = sc.broadcast({k: sorted(ds) for k, ds in wanted.items()})
    work = sc.broadcast(by_dest)
    shipped = sc.accumulator(0)
    shipped_chars = sc.accumulator(0)

    def ship(part: Iterable[tuple[int, Any]]) -> Iterator[tuple[int, tuple[int, Any]]]:
        want = routes.value
        for k, doc in part:
            for d in want.get(k, ()):
                shipped.add(1)
                shipped_chars.add(len(doc.article.text))
                yield d, (k, doc)

    def link(index: int, part: Iterable[tuple[int, tuple[int, Any]]]) -> Iterator[tuple[tuple[int, int], ReuseLink]]:
        have = dict(kd for _, kd in part)
        for a, b in work.value.get(index, ()):
            # The lower index first: find_reuse's order, which decides an unknown direction.
            found = reuse.link_docs(have[a], have[b], rs)
            if found is not None:
                yield (a, b), found

    links = docs.mapPartitions(ship).partitionBy(p, _identity).mapPartitionsWithIndex(link).collect()
    docs.unpersist()
    routes.unpersist()
    work.unpersist()
    counts["reuse shipped documents"] = shipped.value
    counts["reuse shipped chars"] = shipped_chars.value
    # find_reuse yields links in ascending (first, second) article index order.
    links.sort(key=lambda x: x[0])
    return [link for _, link in links]


def _collect_ordered(rdd: RDD) -> list[Any]:
    """Flatten (index, items) pairs in index order: the embedded engine's article order."""
    out: list[Any] = []
    for _, items in sorted(rdd.collect(), key=lambda x: x[0]):
        out.extend(items)
    return out


def _mentions(base: RDD) -> list[Mention]:
    # pipeline.run_entities' per-article half; link_entities is the other, on the driver.
    return _collect_ordered(base.map(lambda ka: (ka[0], entities.find_mentions(ka[1]))))


def _quotes(spark: SparkSession, base: RDD, analysis: Analysis, settings: Settings) -> list[Quote]:
    by_article: dict[str, list[Mention]] = {}
    for entity in analysis.entities:
        for mention in entity.mentions:
            by_article.setdefault(mention.article, []).append(mention)
    mentions = spark.sparkContext.broadcast(by_article)
    qs = settings.quotes
    found = _collect_ordered(
        base.map(lambda ka: (ka[0], quotes.extract_quotes(ka[1], mentions.value.get(ka[1].id, ()), qs)))
    )
    mentions.unpersist()
    return quotes.resolve_speakers(found, analysis.entities, qs)


def _dates(base: RDD, settings: Settings) -> RDD:
    """(index, (article, its TimeRefs)): kept for the story details, which need both."""
    ts = settings.timeline
    return base.map(lambda ka: (ka[0], (ka[1], timeline.find_dates(ka[1], ts))))


def cluster_view(article: Article, max_chars: int) -> Article:
    """The part of an article the story clusterer reads: title blocks, the first ``max_chars``
    characters of body (rasd.cluster.article_terms' budget), id, title and date."""
    pieces: list[str] = []
    blocks: list[Block] = []
    pos, budget = 0, max_chars
    for b in article.blocks:
        if b.kind == "title":
            end = b.end
        elif b.kind == "body" and budget > 0:
            end = min(b.end, b.start + budget)
            budget -= end - b.start
        else:
            continue
        piece = article.text[b.start : end]
        if pieces:
            pieces.append("\n\n")
            pos += 2
        pieces.append(piece)
        blocks.append(Block(pos, pos + len(piece), b.kind))
        pos += len(piece)
    return replace(article, text="".join(pieces), blocks=tuple(blocks))


def _story_details(spark: SparkSession, dated: RDD, stories: list[Story], settings: Settings) -> list[Story]:
    """Event dates, timelines and summaries: pipeline.run_story_details on each story's articles."""
    sc = spark.sparkContext
    story_list = sc.broadcast(stories)

    def detail(group: tuple[int, Iterable[tuple[Article, list[TimeRef]]]]) -> tuple[int, Story]:
        i, rows = group
        story = story_list.value[i]
        by_id = {a.id: (a, refs) for a, refs in rows}
        # The story's own article order, which is what the embedded stage iterates.
        arts = [by_id[a][0] for a in story.articles if a in by_id]
        refs = [r for a in story.articles if a in by_id for r in by_id[a][1]]
        sub = Analysis(articles=arts, stories=[story], dates=refs)
        pipeline.run_story_details(sub, settings)
        return i, sub.stories[0]

    index = sc.broadcast({a: i for i, st in enumerate(stories) for a in st.articles})
    detailed = (
        dated.filter(lambda x: x[1][0].id in index.value)
        .map(lambda x: (index.value[x[1][0].id], x[1]))
        .groupByKey(dated.getNumPartitions())
        .map(detail)
        .collect()
    )
    index.unpersist()
    story_list.unpersist()
    out = list(stories)
    for i, story in detailed:
        out[i] = story
    return out


#: The pipeline stages this module distributes, in order. A stage added to rasd.pipeline must be
#: added here too; analyze_rdd refuses to run a pipeline it would silently leave a stage out of.
DISTRIBUTED = ("duplicates", "reuse", "entities", "quotes", "dates", "stories", "timelines and summaries")


def analyze_rdd(
    spark: SparkSession,
    base: RDD,
    settings: Settings,
    on_stage: Callable[[str], None] | None = None,
) -> SparkRun:
    """Every stage over ``base``, an RDD of (index, Article) with indices 0..n-1 in pipeline order.

    The returned Analysis has no articles (they stay distributed); everything else is complete.
    """
    embedded = tuple(s.name for s in pipeline.STAGES)
    if embedded != DISTRIBUTED:
        raise RuntimeError(f"rasd.pipeline runs {embedded} but rasd.spark distributes {DISTRIBUTED}; "
                           "teach rasd/spark.py the new stage before using the Spark engine")
    base = base.persist()
    run = SparkRun(Analysis())
    analysis = run.analysis
    n = base.count()
    run.counts["articles"] = n

    def stage(name: str) -> float:
        if on_stage is not None:
            on_stage(name)
        return time.perf_counter()

    t = stage("duplicates")
    analysis.duplicates = _duplicates(base, settings, run.counts)
    run.seconds["duplicates"] = time.perf_counter() - t

    t = stage("reuse")
    analysis.reuse = _reuse(spark, base, settings, run.counts)
    run.seconds["reuse"] = time.perf_counter() - t

    t = stage("entities")
    analysis.entities = entities.link_entities(_mentions(base))
    run.seconds["entities"] = time.perf_counter() - t

    t = stage("quotes")
    analysis.quotes = _quotes(spark, base, analysis, settings)
    run.seconds["quotes"] = time.perf_counter() - t

    t = stage("dates")
    dated = _dates(base, settings).persist()
    analysis.dates = _collect_ordered(dated.mapValues(lambda x: x[1]))
    run.seconds["dates"] = time.perf_counter() - t

    t = stage("stories")
    max_chars = settings.cluster.max_chars
    views = _collect_ordered(base.map(lambda ka: (ka[0], [cluster_view(ka[1], max_chars)])))
    sub = Analysis(articles=views, duplicates=analysis.duplicates, entities=analysis.entities)
    del views
    pipeline.run_cluster(sub, settings)
    analysis.stories = sub.stories
    run.seconds["stories"] = time.perf_counter() - t

    t = stage("timelines and summaries")
    analysis.stories = _story_details(spark, dated, analysis.stories, settings)
    run.seconds["timelines and summaries"] = time.perf_counter() - t
    dated.unpersist()
    return run


def analyze_spark(
    articles: Sequence[Article],
    settings: Settings,
    spark: SparkSession,
    spark_settings: SparkSettings = SparkSettings(),
    on_stage: Callable[[str], None] | None = None,
) -> SparkRun:
    """``rasd.pipeline.analyze(articles, settings)`` computed on Spark (same articles, same order)."""
    seen: set[str] = set()
    for a in articles:
        if a.id in seen:
            raise ValueError(f"article id {a.id!r} appears twice; ids must be unique (see prepare())")
        seen.add(a.id)
    p = _parallelism(spark, spark_settings, len(articles))
    base = spark.sparkContext.parallelize(list(enumerate(articles)), p)
    run = analyze_rdd(spark, base, settings, on_stage)
    run.analysis.articles = list(articles)
    base.unpersist()
    return run


# ---------------------------------------------------------------------------------------------
# Batch from paths to Parquet: `rasd analyze --engine spark`

#: One Parquet table per top-level report list, with the report's own field names.
TABLE_SCHEMAS: dict[str, str] = {
    "articles": "id string, path string, url string, source string, published string, title string, "
    "credit string, encoding string, blocks array<struct<span:array<int>,kind:string>>",
    "duplicates": "articles array<string>, kind string, similarity double",
    "reuse": "source string, target string, direction_known boolean, evidence string, score double, "
    "passages array<struct<source_span:array<int>,target_span:array<int>,source_text:string,target_text:string>>",
    "stories": "id string, title string, articles array<string>, "
    "events array<struct<id:string,title:string,articles:array<string>,date:string>>, "
    "summary array<struct<text:string,article:string,span:array<int>>>, "
    "timeline array<struct<date:string,text:string,article:string,background:boolean>>",
    "entities": "id string, type string, name string, aliases array<string>, "
    "mentions array<struct<article:string,text:string,span:array<int>,title:string>>",
    "quotes": "article string, speaker string, speaker_text string, text string, span array<int>, direct boolean",
    "dates": "article string, text string, span array<int>, value string, anchor string, warning string",
}
assert set(TABLE_SCHEMAS) == set(TOP_LEVEL), "a report list without a Parquet table (or the reverse)"


def _prepare_rdd(articles: RDD, p: int) -> RDD:
    """prepare() on Spark: (index, Article) in the order a fresh store would give."""
    numbered = articles.zipWithIndex().map(lambda x: (x[0].id, (x[1], x[0])))
    firsts = numbered.reduceByKey(lambda a, b: a if a[0] <= b[0] else b, p).values()
    latest = (
        firsts.filter(lambda ia: bool(ia[1].url))
        .map(lambda ia: (ia[1].url, (ia[0], ia[1].id)))
        .reduceByKey(max, p)
        .map(lambda x: (x[1][1], True))
    )
    dated = firsts.filter(lambda ia: bool(ia[1].url)).map(lambda ia: (ia[1].id, ia[1])).join(latest, p)
    kept = firsts.filter(lambda ia: not ia[1].url).map(lambda ia: ia[1]).union(dated.map(lambda x: x[1][0]))
    ordered = kept.sortBy(_store_key, numPartitions=p)
    return ordered.zipWithIndex().map(lambda x: (x[1], x[0]))


def write_tables(spark: SparkSession, report: dict[str, Any], out: Path) -> dict[str, int]:
    """The report's lists as Parquet tables under ``out`` (one folder per table); rows per table."""
    rows: dict[str, int] = {}
    for name, schema in TABLE_SCHEMAS.items():
        frame = spark.createDataFrame(report[name], schema)
        frame.write.mode("overwrite").parquet(str(out / name))
        rows[name] = len(report[name])
    return rows


def analyze_paths(
    paths: Sequence[str],
    out: Path,
    settings: Settings,
    meta: str | None = None,
    field_map: dict[str, str] | None = None,
    spark_settings: SparkSettings = SparkSettings(),
    on_error: Callable[[InputError], None] | None = None,
    on_stage: Callable[[str], None] | None = None,
    spark: SparkSession | None = None,
) -> tuple[dict[str, int], list[InputError]]:
    """Read ``paths``, run every stage on Spark, write Parquet tables (and report.json when small).

    Returns the rows written per table and the inputs that failed (the rest was processed). A
    session made here is stopped at the end; one passed in is left running.
    """
    from rasd.report import article_entry

    sources, errors = discover(paths, meta)
    own = spark is None
    spark = session(spark_settings) if spark is None else spark
    try:
        items = read_sources(spark, sources, IngestOptions(settings=settings.ingest, field_map=field_map or {}),
                             spark_settings).persist()
        errors.extend(items.filter(lambda x: isinstance(x, InputError)).collect())
        for error in errors:
            if on_error is not None:
                on_error(error)
        read = items.filter(lambda x: isinstance(x, Article))
        base = _prepare_rdd(read, _parallelism(spark, spark_settings, read.count()))
        run = analyze_rdd(spark, base, settings, on_stage)
        report = build_report(run.analysis, settings.report)
        report["articles"] = [e for _, e in sorted(base.map(lambda ka: (ka[0], article_entry(ka[1]))).collect(),
                                                   key=lambda x: x[0])]
        items.unpersist()
        out.mkdir(parents=True, exist_ok=True)
        rows = write_tables(spark, report, out)
        if len(report["articles"]) <= spark_settings.report_json_max_articles:
            write_report(report, out / "report.json")
        (out / "timings.json").write_text(json.dumps(run.seconds, indent=1), encoding="utf-8")
    finally:
        if own:
            spark.stop()
    return rows, errors
