"""The pipeline: ingest into the store, then each analysis stage in order over plain data.

Each stage declares what it needs and what it produces; ``check_order`` refuses an order in
which a stage would run before its inputs exist. The CLI, the web app, the watcher and Spark
all call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from rasd.errors import InputError
from rasd.ingest import IngestOptions, Source, read_inputs
from rasd.models import Analysis, Article
from rasd.settings import Settings
from rasd.store import Store

StageFn = Callable[[Analysis, Settings], None]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    requires: frozenset[str]
    produces: frozenset[str]
    run: StageFn


@dataclass
class IngestSummary:
    read: int = 0
    added: int = 0
    unchanged: int = 0
    versions: int = 0
    errors: list[InputError] = field(default_factory=list)
    article_ids: list[str] = field(default_factory=list)


def ingest(
    sources: Sequence[Source],
    store: Store,
    settings: Settings,
    options: IngestOptions | None = None,
    on_error: Callable[[InputError], None] | None = None,
    on_source: Callable[[Source], None] | None = None,
) -> IngestSummary:
    """Read every source and store its articles in batches, one transaction per batch.

    Bad inputs become InputErrors (reported through ``on_error`` as they happen) and the batch
    goes on; a run killed half-way is resumed by running it again (upserts are idempotent).
    """
    options = options or IngestOptions(settings=settings.ingest)
    summary = IngestSummary()
    batch: list[Article] = []

    def flush() -> None:
        result = store.upsert_articles(batch)
        summary.added += len(result.added)
        summary.unchanged += len(result.unchanged)
        summary.versions += len(result.versions)
        batch.clear()

    for item in read_inputs(sources, options, on_source):
        if isinstance(item, InputError):
            summary.errors.append(item)
            if on_error is not None:
                on_error(item)
            continue
        summary.read += 1
        summary.article_ids.append(item.id)
        batch.append(item)
        if len(batch) >= settings.ingest.batch_size:
            flush()
    if batch:
        flush()
    return summary


def _stages() -> list[Stage]:
    # Filled as stages land; each adapter is a few lines over the stage module's function.
    return []


STAGES: list[Stage] = _stages()


def check_order(stages: Sequence[Stage]) -> None:
    available = {"articles"}
    for stage in stages:
        missing = stage.requires - available
        if missing:
            raise ValueError(f"stage {stage.name!r} needs {sorted(missing)} before it; reorder the stages")
        available |= stage.produces


def analyze(
    articles: Iterable[Article],
    settings: Settings,
    stages: Sequence[Stage] | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Analysis:
    """Run every analysis stage over ``articles`` (in publication order) and return the result."""
    stages = STAGES if stages is None else stages
    check_order(stages)
    analysis = Analysis(articles=list(articles))
    for stage in stages:
        if on_stage is not None:
            on_stage(stage.name)
        stage.run(analysis, settings)
    return analysis
