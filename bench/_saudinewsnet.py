"""Read SaudiNewsNet in place (one zip a day, each a JSON list) for the benchmarks."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "news" / "saudinewsnet"


def records(limit: int | None = None) -> Iterator[dict[str, str]]:
    count = 0
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            for name in archive.namelist():
                for record in json.loads(archive.read(name)):
                    yield record
                    count += 1
                    if limit is not None and count >= limit:
                        return


def days(limit: int | None = None) -> Iterator[list[dict[str, str]]]:
    """The corpus one day (one zip) at a time, as a streaming reader would hold it."""
    count = 0
    for path in sorted(DATA.glob("*.zip")):
        with zipfile.ZipFile(path) as archive:
            day = [r for name in archive.namelist() for r in json.loads(archive.read(name))]
        if limit is not None:
            day = day[: max(0, limit - count)]
        if not day:
            return
        count += len(day)
        yield day
