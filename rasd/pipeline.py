"""The pipeline: ingest into the store, then each analysis stage in order over plain data.

Each stage declares what it needs and what it produces; ``check_order`` refuses an order in
which a stage would run before its inputs exist. The CLI, the web app, the watcher and Spark
all call these functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from rasd import cluster, dedup, entities, ner, quotes, reuse, summarize, timeline
from rasd.errors import InputError
from rasd.ingest import IngestOptions, Source, read_inputs
from rasd.models import Analysis, Article, Mention, Quote, Story, TimeRef
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


def _by_id(analysis: Analysis) -> dict[str, Article]:
    return {a.id: a for a in analysis.articles}


def run_dedup(analysis: Analysis, settings: Settings) -> None:
    analysis.duplicates = dedup.find_duplicates(analysis.articles, settings.dedup)


def run_reuse(analysis: Analysis, settings: Settings) -> None:
    analysis.reuse = reuse.find_reuse(analysis.articles, settings.reuse)


def load_models() -> None:
    """Load now what the stages otherwise load on first use (the NER model, 0.3 s of CPU): a
    long-running process does it at start-up rather than in its first batch."""
    ner.default_tagger()


def run_entities(analysis: Analysis, settings: Settings) -> None:
    mentions: list[Mention] = []
    for article in analysis.articles:
        mentions.extend(entities.find_mentions(article))
    analysis.entities = entities.link_entities(mentions)


def run_quotes(analysis: Analysis, settings: Settings) -> None:
    mentions_by_article: dict[str, list[Mention]] = {}
    for entity in analysis.entities:
        for mention in entity.mentions:
            mentions_by_article.setdefault(mention.article, []).append(mention)
    found: list[Quote] = []
    for article in analysis.articles:
        found.extend(quotes.extract_quotes(article, mentions_by_article.get(article.id, ()), settings.quotes))
    analysis.quotes = quotes.resolve_speakers(found, analysis.entities, settings.quotes)


def run_dates(analysis: Analysis, settings: Settings) -> None:
    refs: list[TimeRef] = []
    for article in analysis.articles:
        refs.extend(timeline.find_dates(article, settings.timeline))
    analysis.dates = refs


def run_cluster(analysis: Analysis, settings: Settings) -> None:
    entity_ids: dict[str, list[str]] = {}
    for entity in analysis.entities:
        if entity.type in ("PER", "ORG", "LOC"):
            for mention in entity.mentions:
                entity_ids.setdefault(mention.article, []).append(entity.id)
    analysis.stories = cluster.cluster(analysis.articles, settings.cluster, entity_ids, analysis.duplicates)


def run_story_details(
    analysis: Analysis,
    settings: Settings,
    parsed: summarize.ParsedArticles | None = None,
    spans: timeline.SentenceSpans | None = None,
) -> None:
    """Event dates, story timelines and summaries, each from the story's own articles.

    ``parsed`` and ``spans`` keep each article's sentences between calls: the incremental pipeline
    details a small story again whenever it takes an article, and splitting and stemming its other
    articles again was most of that work.
    """
    by_id = _by_id(analysis)
    refs_by_article: dict[str, list[TimeRef]] = {}
    for ref in analysis.dates:
        refs_by_article.setdefault(ref.article, []).append(ref)
    detailed: list[Story] = []
    for story in analysis.stories:
        members = [by_id[a] for a in story.articles if a in by_id]
        refs = [r for a in story.articles for r in refs_by_article.get(a, ())]
        events = []
        for event in story.events:
            event_articles = [by_id[a] for a in event.articles if a in by_id]
            event_refs = [r for a in event.articles for r in refs_by_article.get(a, ())]
            day, _evidence = timeline.event_date(event_articles, event_refs)
            events.append(replace(event, date=day))
        detailed.append(replace(
            story,
            events=tuple(events),
            timeline=tuple(timeline.story_timeline(members, refs, settings.timeline, spans)),
            summary=tuple(summarize.summarize(members, settings.summary, parsed=parsed)),
        ))
    analysis.stories = detailed


STAGES: list[Stage] = [
    Stage("duplicates", frozenset({"articles"}), frozenset({"duplicates"}), run_dedup),
    Stage("reuse", frozenset({"articles"}), frozenset({"reuse"}), run_reuse),
    Stage("entities", frozenset({"articles"}), frozenset({"entities"}), run_entities),
    Stage("quotes", frozenset({"articles", "entities"}), frozenset({"quotes"}), run_quotes),
    Stage("dates", frozenset({"articles"}), frozenset({"dates"}), run_dates),
    Stage("stories", frozenset({"articles", "duplicates", "entities"}), frozenset({"stories"}), run_cluster),
    Stage("timelines and summaries", frozenset({"stories", "dates"}), frozenset({"story_details"}),
          run_story_details),
]


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
