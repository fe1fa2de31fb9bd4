"""One Settings object, resolved once at the edge: packaged defaults merged with a user file."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from rasd.cluster import ClusterSettings
from rasd.dedup import DedupSettings
from rasd.errors import SettingsError
from rasd.quotes import QuoteSettings
from rasd.reuse import ReuseSettings
from rasd.summarize import SummarySettings
from rasd.timeline import TimelineSettings


@dataclass(frozen=True, slots=True)
class IngestSettings:
    max_file_mb: float = 20
    max_warc_mb: float = 2048
    batch_size: int = 200
    min_body_words: int = 5


@dataclass(frozen=True, slots=True)
class FetchSettings:
    timeout_s: float = 20
    min_interval_per_host_s: float = 2.0
    user_agent: str = "rasd/0.1"
    max_bytes: int = 10_000_000


@dataclass(frozen=True, slots=True)
class StoreSettings:
    path: str = "rasd.db"


@dataclass(frozen=True, slots=True)
class ReportSettings:
    max_passages_per_pair: int = 50


@dataclass(frozen=True, slots=True)
class Settings:
    ingest: IngestSettings = field(default_factory=IngestSettings)
    fetch: FetchSettings = field(default_factory=FetchSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    report: ReportSettings = field(default_factory=ReportSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    reuse: ReuseSettings = field(default_factory=ReuseSettings)
    quotes: QuoteSettings = field(default_factory=QuoteSettings)
    timeline: TimelineSettings = field(default_factory=TimelineSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    summary: SummarySettings = field(default_factory=SummarySettings)


_SECTIONS = {f.name: f.type for f in fields(Settings)}
_SECTION_CLASSES = {
    "ingest": IngestSettings,
    "fetch": FetchSettings,
    "store": StoreSettings,
    "report": ReportSettings,
    "dedup": DedupSettings,
    "reuse": ReuseSettings,
    "quotes": QuoteSettings,
    "timeline": TimelineSettings,
    "cluster": ClusterSettings,
    "summary": SummarySettings,
}


def load_settings(user_file: str | Path | None = None) -> Settings:
    """Packaged defaults.toml, then the user's file on top; unknown keys fail with a hint."""
    raw = tomllib.loads(resources.files("rasd").joinpath("defaults.toml").read_text(encoding="utf-8"))
    if user_file is not None:
        path = Path(user_file)
        try:
            user = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise SettingsError(f"{path}: cannot read settings ({exc})") from exc
        for section, values in user.items():
            if section not in _SECTION_CLASSES or not isinstance(values, dict):
                raise SettingsError(
                    f"{path}: unknown settings section [{section}]; known: {', '.join(sorted(_SECTIONS))}"
                )
            raw.setdefault(section, {}).update(values)
    return Settings(**{name: _section(name, raw.get(name, {})) for name in _SECTION_CLASSES})


def _section(name: str, values: dict[str, Any]) -> Any:
    cls = _SECTION_CLASSES[name]
    known = {f.name for f in fields(cls)}
    unknown = set(values) - known
    if unknown:
        raise SettingsError(
            f"unknown setting {name}.{sorted(unknown)[0]}; known keys in [{name}]: {', '.join(sorted(known))}"
        )
    return cls(**values)
