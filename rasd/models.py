"""The plain data every stage exchanges, and a memo of what a stage computes per article.

Spans are always ``(start, end)`` character offsets into ``Article.text``, the text exactly as
decoded from the input, so that anything a stage reports can be shown in place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Span = tuple[int, int]

#: What a block of an article is. Only ``body`` and ``title`` blocks feed the analysis stages;
#: the rest is kept (and shown apart) but never matched, clustered or summarised.
BLOCK_KINDS = ("title", "body", "title_repeat", "boilerplate", "credit")


@dataclass(frozen=True, slots=True)
class Block:
    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Article:
    id: str
    text: str
    title: str | None = None
    source: str | None = None
    url: str | None = None
    published: str | None = None
    path: str | None = None
    blocks: tuple[Block, ...] = ()
    #: The outlet a credit line names as the origin of this text (بالتزامن مع ..., نقلا عن ...).
    credit: str | None = None
    encoding: str | None = None

    def body_blocks(self) -> list[Block]:
        return [b for b in self.blocks if b.kind == "body"]

    def body_text(self) -> str:
        """Body blocks joined by blank lines (for display and quick checks; offsets need blocks)."""
        return "\n\n".join(self.text[b.start : b.end] for b in self.body_blocks())


@dataclass(frozen=True, slots=True)
class DuplicateSet:
    articles: tuple[str, ...]
    kind: str  # "exact" | "near"
    similarity: float


@dataclass(frozen=True, slots=True)
class ReusedPassage:
    source_span: Span
    target_span: Span
    source_text: str
    target_text: str


@dataclass(frozen=True, slots=True)
class ReuseLink:
    source: str
    target: str
    direction_known: bool
    score: float
    passages: tuple[ReusedPassage, ...]
    #: Why the direction was chosen: "published", "credit" or "unknown".
    evidence: str = "unknown"


@dataclass(frozen=True, slots=True)
class TimeRef:
    article: str
    text: str
    span: Span
    value: str  # "YYYY", "YYYY-MM" or "YYYY-MM-DD"
    anchor: str  # "publication" | "absolute" | "approximate"
    warning: str | None = None


@dataclass(frozen=True, slots=True)
class Mention:
    article: str
    text: str
    span: Span
    type: str  # PER | ORG | LOC | MISC
    title: str | None = None


@dataclass(frozen=True, slots=True)
class Entity:
    id: str
    type: str
    name: str
    aliases: tuple[str, ...]
    mentions: tuple[Mention, ...]


@dataclass(frozen=True, slots=True)
class Quote:
    article: str
    speaker: str | None  # entity id
    speaker_text: str | None
    text: str
    span: Span
    direct: bool
    #: Where the speaker phrase stands in the article, when it is written there.
    speaker_span: Span | None = None


@dataclass(frozen=True, slots=True)
class SummarySentence:
    text: str
    article: str
    span: Span


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    date: str
    text: str
    article: str
    background: bool = False


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    articles: tuple[str, ...]
    date: str | None = None
    title: str = ""


@dataclass(frozen=True, slots=True)
class Story:
    id: str
    title: str
    articles: tuple[str, ...]
    events: tuple[Event, ...] = ()
    summary: tuple[SummarySentence, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()


@dataclass(slots=True)
class Analysis:
    """Everything the pipeline produced for a set of articles; the report is a view of this."""

    articles: list[Article] = field(default_factory=list)
    duplicates: list[DuplicateSet] = field(default_factory=list)
    reuse: list[ReuseLink] = field(default_factory=list)
    stories: list[Story] = field(default_factory=list)
    entities: list[Entity] = field(default_factory=list)
    quotes: list[Quote] = field(default_factory=list)
    dates: list[TimeRef] = field(default_factory=list)


T = TypeVar("T")


class ArticleMemo(Generic[T]):
    """``compute(article)`` kept for the last ``size`` articles asked about, so that a caller that
    sees the same articles call after call (the incremental pipeline re-details a small story on
    every article it takes) works each out once. An entry serves only an article equal to the one
    it was made from: a new version under the same id is computed again."""

    def __init__(self, compute: Callable[[Article], T], size: int = 2000) -> None:
        self.compute = compute
        self.size = size
        self._items: dict[str, tuple[Article, T]] = {}

    def get(self, article: Article) -> T:
        entry = self._items.get(article.id)
        if entry is not None and entry[0] == article:
            return entry[1]
        value = self.compute(article)
        # Re-inserted at the end, so that the first key is always the least recently computed.
        self._items.pop(article.id, None)
        self._items[article.id] = (article, value)
        if len(self._items) > self.size:
            del self._items[next(iter(self._items))]
        return value
