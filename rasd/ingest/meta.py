"""Article metadata from outside the text: manifest CSV rows, sidecar JSON files, date strings."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from pathlib import Path

from rasd.errors import InputError


@dataclass(frozen=True, slots=True)
class Meta:
    source: str | None = None
    published: str | None = None
    url: str | None = None
    title: str | None = None

    def over(self, other: Meta) -> Meta:
        """This metadata where known, ``other`` where not."""
        return Meta(
            source=self.source or other.source,
            published=self.published or other.published,
            url=self.url or other.url,
            title=self.title or other.title,
        )


def parse_published(value: object) -> str | None:
    """ISO 8601 (timezone kept) from YYYY-MM-DD, ISO 8601 or RFC 822 strings; None when empty.

    Raises ValueError for a non-empty value that is none of these.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    try:
        if len(text) == 10:
            return date.fromisoformat(text).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        pass
    try:
        parsed = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError) as exc:
        raise ValueError(f"bad published date {text!r} (expected YYYY-MM-DD or ISO 8601)") from exc
    return parsed.isoformat()


def read_manifest(path: Path) -> tuple[dict[Path, Meta], list[InputError]]:
    """Rows of ``path,source,published,url,title``; paths are relative to the manifest's folder."""
    table: dict[Path, Meta] = {}
    errors: list[InputError] = []
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        return table, [InputError(str(path), f"cannot open manifest ({exc.strerror})")]
    with handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            return table, [InputError(str(path), "manifest needs a header with a 'path' column")]
        for line, row in enumerate(reader, start=2):
            if not (row.get("path") or "").strip():
                errors.append(InputError(f"{path}:{line}", "manifest row without a path"))
                continue
            target = (path.parent / row["path"].strip()).resolve()
            try:
                published = parse_published(row.get("published"))
            except ValueError as exc:
                errors.append(InputError(f"{path}:{line}", str(exc)))
                published = None
            table[target] = Meta(
                source=(row.get("source") or "").strip() or None,
                published=published,
                url=(row.get("url") or "").strip() or None,
                title=(row.get("title") or "").strip() or None,
            )
    return table, errors


def read_sidecar(path: Path) -> Meta:
    """``article.txt`` may carry ``article.json`` (or ``article.txt.json``) beside it."""
    for candidate in (path.with_suffix(".json"), path.with_name(path.name + ".json")):
        if candidate != path and candidate.is_file():
            try:
                data = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return Meta()
            if not isinstance(data, dict):
                return Meta()
            try:
                published = parse_published(data.get("published"))
            except ValueError:
                published = None
            return Meta(
                source=data.get("source") or None,
                published=published,
                url=data.get("url") or None,
                title=data.get("title") or None,
            )
    return Meta()


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
