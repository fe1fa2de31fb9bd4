"""Inputs to Articles: files, folders, URLs and archives, each format in its own reader.

``read_inputs`` never raises for a bad input: it yields an InputError naming the file and the
reason, and goes on with the rest of the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rasd.errors import InputError
from rasd.ingest.clean import article_id, clean, make_article
from rasd.ingest.formats import (
    Item,
    feed_entry_article,
    feed_outlet,
    read_feed,
    read_html,
    read_json,
    read_text,
    read_warc,
)
from rasd.ingest.http import Fetcher, FetchError
from rasd.ingest.meta import Meta, read_manifest, read_sidecar
from rasd.models import Article
from rasd.settings import IngestSettings

__all__ = [
    "Source",
    "article_id",
    "clean",
    "discover",
    "make_article",
    "read_inputs",
    "read_source",
]

TEXT_SUFFIXES = {".txt", ".text"}
JSON_SUFFIXES = {".json", ".jsonl", ".ndjson"}
HTML_SUFFIXES = {".html", ".htm", ".xhtml"}
FEED_SUFFIXES = {".xml", ".rss", ".atom"}
WARC_SUFFIXES = {".warc", ".arc"}
KNOWN = TEXT_SUFFIXES | JSON_SUFFIXES | HTML_SUFFIXES | FEED_SUFFIXES | WARC_SUFFIXES


@dataclass(frozen=True, slots=True)
class Source:
    """One thing to read: a local file or an http(s) URL."""

    location: str
    meta: Meta = field(default_factory=Meta)

    @property
    def is_url(self) -> bool:
        return self.location.startswith(("http://", "https://"))


@dataclass
class IngestOptions:
    settings: IngestSettings = field(default_factory=IngestSettings)
    field_map: Mapping[str, str] = field(default_factory=dict)
    fetcher: Fetcher | None = None


def _kind(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith((".warc.gz", ".arc.gz")) or path.suffix.lower() in WARC_SUFFIXES:
        return "warc"
    suffix = path.suffix.lower()
    for kind, suffixes in (("text", TEXT_SUFFIXES), ("json", JSON_SUFFIXES), ("html", HTML_SUFFIXES),
                           ("feed", FEED_SUFFIXES)):
        if suffix in suffixes:
            return kind
    return None


def discover(inputs: Iterable[str], meta_file: str | None = None) -> tuple[list[Source], list[InputError]]:
    """Expand folders (recursively, sorted) and attach manifest and sidecar metadata.

    In folders only known article formats are taken; sidecar ``.json`` files beside a text file
    are metadata, not articles. A manifest row whose file is missing is reported.
    """
    errors: list[InputError] = []
    manifest: dict[Path, Meta] = {}
    if meta_file:
        manifest, errors = read_manifest(Path(meta_file))
    sources: list[Source] = []
    for raw in inputs:
        if raw.startswith(("http://", "https://")):
            sources.append(Source(raw))
            continue
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            stems = {p.with_suffix("") for p in files if _kind(p) in ("text", "html")}
            for file in files:
                kind = _kind(file)
                if kind is None or (kind == "json" and file.with_suffix("") in stems):
                    continue
                if kind == "json" and file.name.endswith((".txt.json", ".html.json")):
                    continue
                sources.append(Source(str(file), _meta_for(file, manifest)))
        elif path.is_file():
            sources.append(Source(str(path), _meta_for(path, manifest)))
        else:
            errors.append(InputError(raw, "no such file or folder"))
    seen = {Path(s.location).resolve() for s in sources if not s.is_url}
    for missing in sorted(p for p in manifest if p not in seen and not p.exists()):
        errors.append(InputError(str(missing), "listed in the manifest but the file does not exist"))
    return sources, errors


def _meta_for(path: Path, manifest: Mapping[Path, Meta]) -> Meta:
    listed = manifest.get(path.resolve(), Meta())
    return listed.over(read_sidecar(path)) if _kind(path) in ("text", "html") else listed


def read_source(source: Source, options: IngestOptions) -> Iterator[Item]:
    """Every article in one source, or InputErrors saying why not."""
    if source.is_url:
        yield from _read_url(source, options)
        return
    path = Path(source.location)
    limit = int(options.settings.max_file_mb * 1024 * 1024)
    kind = _kind(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        yield InputError(str(path), f"cannot read: {exc.strerror}")
        return
    if kind == "warc":
        warc_limit = int(options.settings.max_warc_mb * 1024 * 1024)
        if size > warc_limit:
            yield InputError(str(path), f"WARC larger than the {options.settings.max_warc_mb:g} MB limit")
            return
        yield from read_warc(path, source.meta, str(path), limit)
        return
    if size == 0:
        yield InputError(str(path), "empty file")
        return
    if size > limit:
        yield InputError(
            str(path),
            f"file of {size / 1024 / 1024:.1f} MB is over the {options.settings.max_file_mb:g} MB limit "
            "(set ingest.max_file_mb to read it)",
        )
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield InputError(str(path), f"cannot read: {exc.strerror}")
        return
    yield from _read_bytes(data, kind or _sniff(data), source.meta, str(path), options)


def _sniff(data: bytes) -> str:
    head = data[:2048].lstrip().lower()
    if head.startswith(b"warc/"):
        return "warc"
    if head.startswith((b"<?xml", b"<rss", b"<feed")) and (b"<rss" in head or b"<feed" in head):
        return "feed"
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if head.startswith((b"{", b"[")):
        return "json"
    return "text"


def _read_bytes(data: bytes, kind: str, meta: Meta, where: str, options: IngestOptions) -> Iterator[Item]:
    if kind == "json":
        yield from read_json(data, meta, where, options.field_map)
    elif kind == "html":
        yield from read_html(data, meta, where)
    elif kind == "feed":
        yield from read_feed(data, meta, where)
    elif kind == "warc":
        yield InputError(where, "WARC data must be read from a file")
    else:
        yield from read_text(data, meta, where)


def _read_url(source: Source, options: IngestOptions) -> Iterator[Item]:
    fetcher = options.fetcher or Fetcher()
    try:
        response = fetcher.get(source.location)
    except FetchError as exc:
        yield InputError(source.location, str(exc).removeprefix(source.location + ": "))
        return
    if response.status >= 400:
        yield InputError(source.location, f"HTTP {response.status}")
        return
    content_type = response.headers.get("content-type", "").lower()
    kind = "feed" if any(k in content_type for k in ("rss", "atom", "xml")) else _sniff(response.content)
    meta = Meta(url=response.url).over(source.meta) if kind == "html" else source.meta
    if kind != "feed":
        yield from _read_bytes(response.content, kind, meta, source.location, options)
        return
    yield from read_feed_with_pages(response.content, source.meta, source.location, fetcher)


def read_feed_with_pages(data: bytes, meta: Meta, where: str, fetcher: Fetcher) -> Iterator[Item]:
    """Feed items; an item without its text is completed by fetching its linked page."""
    import feedparser

    parsed = feedparser.parse(data)
    outlet = meta.source or feed_outlet(parsed.feed.get("title"))
    if not parsed.entries:
        yield from read_feed(data, meta, where)
        return
    for number, entry in enumerate(parsed.entries, start=1):
        item = feed_entry_article(entry, Meta(source=outlet), f"{where}#{number}")
        link = entry.get("link")
        if isinstance(item, Article) or not link:
            yield item
            continue
        try:
            page = fetcher.get(str(link))
        except FetchError as exc:
            yield InputError(str(link), str(exc).removeprefix(str(link) + ": "))
            continue
        page_meta = Meta(source=outlet, url=page.url, title=entry.get("title") or None)
        yield from read_html(page.content, page_meta, str(link))


def read_inputs(
    sources: Iterable[Source],
    options: IngestOptions | None = None,
    on_source: Callable[[Source], None] | None = None,
) -> Iterator[Item]:
    options = options or IngestOptions()
    for source in sources:
        try:
            yield from read_source(source, options)
        except Exception as exc:  # a reader bug must not end the batch; the file is named
            yield InputError(source.location, f"unexpected {type(exc).__name__}: {exc}")
        if on_source is not None:
            on_source(source)
