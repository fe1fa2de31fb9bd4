"""One reader per input format; each yields Article or InputError and never raises mid-batch."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

import feedparser
import trafilatura
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from rasd.errors import InputError
from rasd.ingest.clean import make_article
from rasd.ingest.decode import DecodeError, decode
from rasd.ingest.meta import Meta, parse_published
from rasd.models import Article

Item = Article | InputError

#: JSON field names rasd reads; ``--field text=content`` style mappings rename them.
JSON_FIELDS = ("id", "text", "title", "url", "source", "published")


def text_article(text: str, meta: Meta, path: str, encoding: str | None) -> Item:
    if not text.strip():
        return InputError(path, "empty: no text after decoding")
    return make_article(
        text,
        title=meta.title,
        source=meta.source,
        url=meta.url,
        published=meta.published,
        path=path,
        encoding=encoding,
    )


def read_text(data: bytes, meta: Meta, path: str) -> Iterator[Item]:
    try:
        text, encoding = decode(data)
    except (DecodeError, UnicodeDecodeError) as exc:
        yield InputError(path, str(exc))
        return
    yield text_article(text.replace("\r\n", "\n"), meta, path, encoding)


def _paragraphs_from_html(html: str) -> str:
    """Article text from HTML markup via trafilatura, paragraphs separated by blank lines."""
    extracted = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    return re.sub(r"\n+", "\n\n", extracted or "").strip()


def read_html(data: bytes, meta: Meta, path: str) -> Iterator[Item]:
    try:
        html, encoding = decode(data)
    except (DecodeError, UnicodeDecodeError) as exc:
        yield InputError(path, str(exc))
        return
    if "<" not in html:
        yield InputError(path, "not HTML: no markup found")
        return
    try:
        doc = trafilatura.bare_extraction(
            html, url=meta.url, with_metadata=True, include_comments=False, include_tables=False,
            favor_precision=True,
        )
    except Exception as exc:  # trafilatura raises many lxml errors on broken markup
        yield InputError(path, f"broken HTML: {type(exc).__name__}: {exc}")
        return
    doc = doc.as_dict() if doc is not None else None
    if not doc or not (doc.get("text") or "").strip():
        yield InputError(path, "no article text found in the HTML page")
        return
    body = re.sub(r"\n+", "\n\n", doc["text"]).strip()
    title = meta.title or (doc.get("title") or None)
    published = meta.published or _published_from_markup(html)
    if published is None and doc.get("date"):
        try:
            published = parse_published(doc["date"])
        except ValueError:
            published = None
    page_meta = Meta(source=doc.get("sitename") or None, url=doc.get("url") or None, title=title)
    merged = Meta(published=published).over(meta.over(page_meta))
    text = f"{title}\n\n{body}" if title and not body.startswith(title) else body
    yield text_article(text, merged, path, encoding)


_PUBLISHED_META = re.compile(
    r"<meta[^>]+(?:property|name|itemprop)=[\"'](?:article:published_time|datePublished|pubdate|date)[\"']"
    r"[^>]*content=[\"']([^\"']+)[\"']|<time[^>]+datetime=[\"']([^\"']+)[\"']",
    re.IGNORECASE,
)


def _published_from_markup(html: str) -> str | None:
    """The page's own full timestamp (trafilatura keeps only the day, losing time and zone)."""
    for m in _PUBLISHED_META.finditer(html[:200_000]):
        try:
            return parse_published(m.group(1) or m.group(2))
        except ValueError:
            continue
    return None


def read_json(
    data: bytes, meta: Meta, path: str, field_map: Mapping[str, str] | None = None
) -> Iterator[Item]:
    """JSONL (one object a line) or a JSON list of objects; ``field_map`` maps rasd names to yours."""
    try:
        raw, _ = decode(data)
    except (DecodeError, UnicodeDecodeError) as exc:
        yield InputError(path, str(exc))
        return
    names = {name: (field_map or {}).get(name, name) for name in JSON_FIELDS}
    stripped = raw.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(stripped)
        except json.JSONDecodeError as exc:
            yield InputError(path, f"invalid JSON: {exc.msg} at line {exc.lineno}")
            return
        numbered = list(enumerate(records, start=1))
    else:
        numbered = []
        for number, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                numbered.append((number, json.loads(line)))
            except json.JSONDecodeError as exc:
                yield InputError(f"{path}:{number}", f"invalid JSON line: {exc.msg}")
    for number, record in numbered:
        where = f"{path}:{number}"
        if not isinstance(record, dict):
            yield InputError(where, "a JSON record must be an object")
            continue
        text = record.get(names["text"])
        if not isinstance(text, str) or not text.strip():
            yield InputError(where, f"no text in field {names['text']!r}")
            continue
        try:
            published = parse_published(record.get(names["published"]))
        except ValueError as exc:
            yield InputError(where, str(exc))
            published = None
        record_meta = Meta(
            source=_str(record.get(names["source"])),
            published=published,
            url=_str(record.get(names["url"])),
            title=_str(record.get(names["title"])),
        ).over(meta)
        yield text_article(text, record_meta, f"{path}#{number}", None)


def _str(value: object) -> str | None:
    return str(value).strip() or None if value is not None else None


def read_feed(data: bytes, meta: Meta, path: str) -> Iterator[Item]:
    """RSS/Atom items whose full text is in the feed (content:encoded, content, summary).

    Items that only link to a page are yielded as InputError here; ``rasd.ingest.fetch_feed``
    fetches linked pages through the HTTP layer.
    """
    parsed = feedparser.parse(data)
    if parsed.bozo and not any(_has_text(e) for e in parsed.entries):
        reason = getattr(parsed, "bozo_exception", "unreadable feed")
        yield InputError(path, f"malformed feed: {reason}")
        return
    if not parsed.entries:
        yield InputError(path, "feed has no items")
        return
    outlet = meta.source or feed_outlet(parsed.feed.get("title"))
    for number, entry in enumerate(parsed.entries, start=1):
        yield feed_entry_article(entry, Meta(source=outlet), f"{path}#{number}")


def feed_outlet(title: object) -> str | None:
    """The outlet's name from a feed title such as "قناة المدار - آخر الأخبار"."""
    if not title:
        return None
    return re.split(r"\s+[-–|:]\s+", str(title).strip(), maxsplit=1)[0] or None


def _has_text(entry: Mapping[str, object]) -> bool:
    return bool(entry.get("content") or entry.get("summary"))


def feed_entry_article(entry: Mapping[str, object], meta: Meta, path: str) -> Item:
    html = ""
    contents = entry.get("content") or []
    if isinstance(contents, list) and contents:
        html = max((c.get("value", "") for c in contents if isinstance(c, dict)), key=len, default="")
    summary = str(entry.get("summary") or "")
    if len(summary) > len(html):
        html = summary
    body = _paragraphs_from_html(f"<html><body><article>{html}</article></body></html>") if html else ""
    if not body and html:
        body = re.sub(r"<[^>]+>", " ", html).strip()
    title = str(entry.get("title") or "").strip() or None
    if not body:
        return InputError(path, "feed item has no text (only a link)")
    published = None
    for key in ("published", "updated"):
        if entry.get(key):
            try:
                published = parse_published(entry[key])
                break
            except ValueError:
                continue
    text = f"{title}\n\n{body}" if title else body
    item_meta = Meta(source=meta.source, published=published, url=str(entry.get("link") or "") or None,
                     title=title)
    return text_article(text, item_meta, path, None)


def read_warc(stream_path: Path, meta: Meta, path: str, max_record_bytes: int) -> Iterator[Item]:
    """HTML responses of a WARC or WARC.gz archive, one article each; a broken tail is reported."""
    count = 0
    try:
        with stream_path.open("rb") as handle:
            for record in ArchiveIterator(handle):
                if not record.rec_type:
                    raise ValueError("record header cut off (file truncated?)")
                if record.rec_type != "response":
                    continue
                content_type = record.http_headers.get_header("Content-Type") if record.http_headers else ""
                if "html" not in (content_type or "").lower():
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI")
                count += 1
                where = f"{path}#{count}"
                payload = record.content_stream().read(max_record_bytes + 1)
                if len(payload) > max_record_bytes:
                    yield InputError(where, f"record larger than {max_record_bytes} bytes, skipped")
                    continue
                if getattr(record.raw_stream, "limit", 0):
                    # warcio hands over a short payload silently when the archive ends mid-record.
                    raise ValueError(f"record {count} ({url}) cut off before its declared length")
                warc_date = record.rec_headers.get_header("WARC-Date")
                record_meta = Meta(url=url).over(meta)
                for item in read_html(payload, record_meta, where):
                    if isinstance(item, Article) and item.published is None and warc_date:
                        # The crawl date bounds the publication date; better than nothing.
                        item = _with_published(item, warc_date)
                    yield item
    except (ArchiveLoadFailed, OSError, EOFError, gzip.BadGzipFile, ValueError) as exc:
        yield InputError(path, f"broken WARC after {count} records: {type(exc).__name__}: {exc}")
        return
    if count == 0:
        yield InputError(path, "no HTML responses in the WARC archive")


def _with_published(article: Article, value: str) -> Article:
    from dataclasses import replace

    try:
        return replace(article, published=parse_published(value))
    except ValueError:
        return article
