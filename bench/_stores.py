"""Stores the benchmarks start from."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def copy_store(source: Path, target: Path) -> None:
    """A consistent copy of a store that may be open elsewhere, read-only there (SQLite's backup)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    dst = sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
