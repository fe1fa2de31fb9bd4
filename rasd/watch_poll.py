"""Polling feeds for :mod:`rasd.watch`: network and parsing only, run in worker threads, no database.

A poll has two steps so that the common case stays cheap: :func:`fetch_feed` sends the conditional
GET, and only a feed that changed goes on to :func:`read_feed`, which needs the items already seen
(read from the store by the caller for that feed alone) and parses the feed. A feed answering 304
costs one request and a row update, nothing else.
"""

from __future__ import annotations

import hashlib
import time
import urllib.robotparser
import xml.parsers.expat
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import feedparser

from rasd.ingest.formats import feed_entry_article, feed_outlet, read_html
from rasd.ingest.http import Fetcher, FetchError, Response
from rasd.ingest.meta import Meta, parse_published
from rasd.models import Article

if TYPE_CHECKING:
    from rasd.watch import WatchSettings


# ---------------------------------------------------------------------------------------------
# robots.txt


class Robots:
    """robots.txt per host (RFC 9309): 4xx means no rules, 5xx or no answer means keep out for now."""

    def __init__(self, fetcher: Fetcher, user_agent: str, settings: WatchSettings,
                 clock: Callable[[], float] = time.time) -> None:
        self.fetcher = fetcher
        self.agent = user_agent.split("/", 1)[0] or "rasd"
        self.settings = settings
        self.clock = clock
        self._cache: dict[str, tuple[float, urllib.robotparser.RobotFileParser | None]] = {}

    def allowed(self, url: str) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._cache.get(origin)
        if cached is None or cached[0] <= self.clock():
            cached = self._load(origin)
            self._cache[origin] = cached
        parser = cached[1]
        return parser is not None and parser.can_fetch(self.agent, url)

    def _load(self, origin: str) -> tuple[float, urllib.robotparser.RobotFileParser | None]:
        parser = urllib.robotparser.RobotFileParser(origin + "/robots.txt")
        now = self.clock()
        try:
            response = self.fetcher.get(origin + "/robots.txt")
        except FetchError:
            return now + self.settings.robots_retry_s, None
        if response.status >= 500:
            return now + self.settings.robots_retry_s, None
        if response.status >= 400:
            parser.parse([])
        else:
            parser.parse(response.content.decode("utf-8", "replace").splitlines())
        return now + self.settings.robots_ttl_s, parser


# ---------------------------------------------------------------------------------------------
# Polling one feed (network only: runs in a worker thread and touches no database)


@dataclass(frozen=True, slots=True)
class SeenItem:
    signature: str
    url: str | None
    etag: str | None
    last_modified: str | None
    first_seen: float


@dataclass
class ItemResult:
    key: str
    signature: str
    url: str | None
    articles: list[Article] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None


@dataclass
class PollResult:
    url: str
    status: int | None = None
    error: str | None = None
    not_modified: bool = False
    etag: str | None = None
    last_modified: str | None = None
    items: list[ItemResult] = field(default_factory=list)
    # A changed feed's answer, waiting for read_feed.
    response: Response | None = None


def _entry_key(entry: Mapping[str, Any]) -> str:
    for name in ("id", "guid", "link"):
        if entry.get(name):
            return str(entry[name])
    return "sha1:" + hashlib.sha1(str(entry.get("title", "")).encode()).hexdigest()


def _entry_signature(entry: Mapping[str, Any]) -> str:
    """Changes when the feed says the item changed: its title, text, link or update time."""
    contents = entry.get("content") or []
    text = " ".join(str(c.get("value", "")) for c in contents if isinstance(c, dict))
    parts = [str(_field(entry, k) or "") for k in ("title", "link", "updated", "published", "summary")]
    return hashlib.sha1("\x1f".join([*parts, text]).encode("utf-8")).hexdigest()


def _field(entry: Mapping[str, Any], key: str) -> Any:
    # dict.get, not entry.get: feedparser's own lookup maps a missing "updated" to "published"
    # with a DeprecationWarning.
    return dict.get(entry, key) if isinstance(entry, dict) else entry.get(key)


def _entry_published(entry: Mapping[str, Any]) -> str | None:
    for key in ("published", "updated"):
        if _field(entry, key):
            try:
                return parse_published(_field(entry, key))
            except ValueError:
                continue
    return None


# ---------------------------------------------------------------------------------------------
# Parsing only what changed in a changed feed
#
# feedparser cost ~15 ms per 130 kB feed of 20 full-content items (bench/watch_latency.py), and a
# feed that changed usually gained one item: the other 19 were parsed again only to be skipped by
# their signature. A pre-pass with expat (C, no callback per character) finds each item's bytes;
# an item whose bytes are the same as when it was last parsed, and whose parsed key and signature
# are still the seen ones, is cut out of the document before feedparser reads it.


@dataclass(frozen=True, slots=True)
class FeedSplit:
    """Where a feed document's items are: ``context`` digests what decides how an item parses
    besides its own bytes (the prolog, encoding declaration and DTD, the root element's name,
    namespaces and attributes); ``spans`` are the outermost item/entry elements' byte ranges."""

    context: str
    spans: tuple[tuple[int, int], ...]


# C0 control characters other than tab, LF and CR are not allowed in XML 1.0: one in any item
# makes the document not well-formed for expat, and feedparser reads it with its loose parser.
# SaudiNewsNet's texts carry U+001A in about one article in 250, and a feed lists such an item for
# 20 polls, during which every change of that feed was parsed whole (20 ms for 65 kB; 4 of the
# bench's 50 feeds, a quarter of its new articles). Each is a single byte in UTF-8 and in the
# one-byte encodings (never inside a multi-byte character), so expat reads a copy with spaces in
# their place and every byte offset still holds in the original. A cut document that still holds
# one is not well-formed and is parsed whole; one that no longer does is read with the strict
# parser, which read 400 SaudiNewsNet items (keys, signatures, articles) exactly as the loose
# parser of a whole not-well-formed feed did.
_XML_INVALID = bytes(range(9)) + b"\x0b\x0c" + bytes(range(14, 32))
_BLANK_INVALID = bytes.maketrans(_XML_INVALID, b" " * len(_XML_INVALID))


def split_feed(data: bytes) -> FeedSplit | None:
    """The items of an RSS or Atom document that is well-formed but for stray control characters,
    or None when expat cannot read it (not XML, an encoding expat lacks, an undefined entity...)
    or it has no items: the caller then parses the whole document as before."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:4]:
        return None  # UTF-16/32: byte offsets do not map to ASCII delimiters
    original, data = data, data.translate(_BLANK_INVALID)
    parser = xml.parsers.expat.ParserCreate()
    spans: list[tuple[int, int]] = []
    state = {"depth": 0, "item_depth": 0, "start": -1}
    context: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        state["depth"] += 1
        if not context:
            prolog = original[: parser.CurrentByteIndex]
            context.append(hashlib.sha1(prolog + repr((name, sorted(attrs.items()))).encode()).hexdigest())
        if not state["item_depth"] and name.rpartition(":")[2] in ("item", "entry"):
            state["item_depth"], state["start"] = state["depth"], parser.CurrentByteIndex

    def end(name: str) -> None:
        if state["item_depth"] == state["depth"]:
            at = parser.CurrentByteIndex
            if data[at : at + 2] != b"</":
                raise ValueError("empty item element")  # <item/>: no end tag to cut at
            spans.append((state["start"], data.index(b">", at) + 1))
            state["item_depth"] = 0
        state["depth"] -= 1

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    try:
        parser.Parse(data, True)
    except (xml.parsers.expat.ExpatError, ValueError):
        return None
    if not spans or not context:
        return None
    return FeedSplit(context[0], tuple(spans))


class ParsedItems:
    """For each feed, what its items' bytes parsed to the last time: item digest -> (key,
    signature). Only the current items of each feed are kept, so it holds about 20 entries per
    feed. Lost on restart, which costs one full parse per feed."""

    def __init__(self) -> None:
        self._feeds: dict[str, tuple[str, dict[str, tuple[str, str]]]] = {}

    def get(self, feed: str, context: str) -> dict[str, tuple[str, str]]:
        found = self._feeds.get(feed)
        return found[1] if found is not None and found[0] == context else {}

    def put(self, feed: str, context: str, items: dict[str, tuple[str, str]]) -> None:
        self._feeds[feed] = (context, items)


def _parse_changed(
    data: bytes, split: FeedSplit | None, known: Mapping[str, tuple[str, str]], seen: Mapping[str, SeenItem],
    limit: int,
) -> tuple[Any | None, list[tuple[int, Any]], dict[int, str]]:
    """feedparser's reading of the feed and its items to look at as (position, entry), plus each
    item's digest by position for the memo. Items that parse as before to a seen key and signature
    are left out of the parsed document; on any doubt the whole document is parsed. No reading
    (None) when every item is such an item: nothing in the feed changed that the watcher reads."""
    if split is None:
        parsed = feedparser.parse(data)
        return parsed, list(enumerate(parsed.entries[:limit], start=1)), {}
    digests = [hashlib.sha1(data[a:b]).hexdigest() for a, b in split.spans]
    wanted = []
    for number, digest in enumerate(digests[:limit], start=1):
        hit = known.get(digest)
        before = seen.get(hit[0]) if hit is not None else None
        if before is None or hit is None or before.signature != hit[1]:
            wanted.append(number)
    by_number = {n: d for n, d in enumerate(digests, start=1)}
    if not wanted:
        return None, [], by_number
    if len(wanted) < min(limit, len(digests)):
        pieces, last, keep = [], 0, set(wanted)
        for number, (a, b) in enumerate(split.spans, start=1):
            if number not in keep:
                pieces.append(data[last:a])
                last = b
        pieces.append(data[last:])
        parsed = feedparser.parse(b"".join(pieces))
        if not parsed.bozo and parsed.version and len(parsed.entries) == len(wanted):
            return parsed, list(zip(wanted, parsed.entries, strict=True)), by_number
    parsed = feedparser.parse(data)
    if len(parsed.entries) != len(digests):
        by_number = {}  # items feedparser counts differently: no way to pair them, no memo
    return parsed, list(enumerate(parsed.entries[:limit], start=1)), by_number


def _conditional_headers(etag: str | None, last_modified: str | None) -> dict[str, str]:
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return headers


def fetch_feed(url: str, validators: tuple[str | None, str | None], fetcher: Fetcher) -> PollResult:
    """The feed's conditional GET; never raises. A changed feed comes back with its ``response``
    for :func:`read_feed`; a 304 or a failure is complete as it is."""
    result = PollResult(url)
    headers = _conditional_headers(*validators)
    try:
        response = fetcher.get(url, headers)
    except FetchError as exc:
        result.error = str(exc).removeprefix(url + ": ")
        return result
    result.status = response.status
    if response.status == 304:
        result.not_modified = True
        result.etag, result.last_modified = validators
    elif response.status >= 400:
        result.error = f"HTTP {response.status}"
    else:
        result.response = response
    return result


def read_feed(
    result: PollResult,
    name: str | None,
    seen: Mapping[str, SeenItem],
    fetcher: Fetcher,
    robots: Robots,
    settings: WatchSettings,
    now: float,
    memo: ParsedItems | None = None,
) -> PollResult:
    """Parse a changed feed fetched by :func:`fetch_feed` and fetch the pages of its new or changed
    items (items already seen with the same signature are skipped before any extraction); never
    raises. A result without a response is returned as it is. With a ``memo``, items whose bytes
    parsed before to what was seen are not parsed again (:func:`split_feed`)."""
    response, result.response = result.response, None
    if response is None:
        return result
    url = result.url
    split = split_feed(response.content) if memo is not None else None
    known = memo.get(url, split.context) if memo is not None and split is not None else {}
    parsed, entries, digests = _parse_changed(response.content, split, known, seen, settings.max_items_per_feed)
    if parsed is None:
        result.etag = _header(response, "etag")
        result.last_modified = _header(response, "last-modified")
        if memo is not None and split is not None:
            memo.put(url, split.context, {d: known[d] for d in digests.values() if d in known})
        return result
    # A feed with parse errors is still read when some items are usable (a stray bad entity is
    # common); one with nothing usable is reported, as is a document that is no feed at all.
    usable = any(_field(e, "link") or _field(e, "content") or _field(e, "summary") for e in parsed.entries)
    if (parsed.bozo and not usable) or (not parsed.entries and not parsed.version):
        reason = getattr(parsed, "bozo_exception", None) or "no RSS or Atom items"
        result.error = f"malformed feed: {reason}"
        return result
    result.etag = _header(response, "etag")
    result.last_modified = _header(response, "last-modified")
    outlet = name or feed_outlet(parsed.feed.get("title"))
    if memo is not None and split is not None and digests:
        # Items skipped unparsed keep what they parsed to; parsed ones are paired by position.
        parsed_now = {digests[n]: (_entry_key(e), _entry_signature(e)) for n, e in entries}
        memo.put(url, split.context, {d: parsed_now.get(d) or known[d] for d in digests.values()
                                      if d in parsed_now or d in known})
    for number, entry in entries:
        key, signature = _entry_key(entry), _entry_signature(entry)
        before = seen.get(key)
        if before is not None and before.signature == signature:
            continue
        item = ItemResult(key, signature, str(entry.get("link") or "") or None)
        result.items.append(item)
        if before is not None and now - before.first_seen > settings.recheck_window_s:
            continue  # an old item edited in the feed: remembered, not fetched again
        found = feed_entry_article(entry, Meta(source=outlet), f"{url}#{number}")
        if isinstance(found, Article):
            item.articles.append(found)
        elif item.url:
            _fetch_page(item, entry, outlet, before, fetcher, robots)
        else:
            item.error = found.reason
    return result


def _fetch_page(item: ItemResult, entry: Mapping[str, Any], outlet: str | None, before: SeenItem | None,
                fetcher: Fetcher, robots: Robots) -> None:
    link = item.url or ""
    if not robots.allowed(link):
        item.error = "robots.txt disallows this page"
        return
    headers = {}
    if before is not None and before.url == link:
        headers = _conditional_headers(before.etag, before.last_modified)
    try:
        page = fetcher.get(link, headers)
    except FetchError as exc:
        item.error = str(exc).removeprefix(link + ": ")
        return
    if page.status == 304 and before is not None:
        item.etag, item.last_modified = before.etag, before.last_modified
        return
    if page.status >= 400:
        item.error = f"HTTP {page.status}"
        return
    item.etag, item.last_modified = _header(page, "etag"), _header(page, "last-modified")
    title = str(entry.get("title") or "").strip() or None
    meta = Meta(source=outlet, url=page.url, title=title, published=_entry_published(entry))
    for found in read_html(page.content, meta, link):
        if isinstance(found, Article):
            item.articles.append(found)
        else:
            item.error = found.reason


def _header(response: Response, name: str) -> str | None:
    for key, value in response.headers.items():
        if key.lower() == name:
            return value
    return None


