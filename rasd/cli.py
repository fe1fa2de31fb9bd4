"""The rasd command line: thin commands over the pipeline and the store.

Exit codes: 0 when every input was read, 1 when some failed (each named on stderr with its
reason, the rest processed), 2 for usage errors.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rasd import pipeline
from rasd.errors import InputError, RasdError
from rasd.ingest import IngestOptions, discover
from rasd.report import build_report, report_from_store, write_report
from rasd.settings import Settings, load_settings
from rasd.store import Store

app = typer.Typer(
    help="rasd (رصد): Arabic news story intelligence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console()
err = Console(stderr=True, highlight=False, soft_wrap=True)

DbOption = Annotated[Path, typer.Option("--db", help="SQLite store file.")]
SettingsOption = Annotated[
    Path | None, typer.Option("--settings", help="TOML file overriding rasd's defaults.toml.")
]
MetaOption = Annotated[
    Path | None, typer.Option("--meta", help="Manifest CSV: path,source,published,url,title.")
]
FieldOption = Annotated[
    list[str] | None,
    typer.Option("--field", help="JSON field mapping NAME=YOURS, e.g. --field text=content (repeatable)."),
]


def _settings(path: Path | None) -> Settings:
    try:
        return load_settings(path)
    except RasdError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc


def _field_map(fields: Sequence[str] | None) -> dict[str, str]:
    mapping: dict[str, str] = {}
    for item in fields or ():
        name, sep, theirs = item.partition("=")
        if not sep or not name or not theirs:
            err.print(f"error: --field expects NAME=YOURS, got {item!r}", markup=False)
            raise typer.Exit(2)
        mapping[name.strip()] = theirs.strip()
    return mapping


def _report_error(error: InputError) -> None:
    err.print(f"error: {error.path}: {error.reason}", markup=False)


def _progress() -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def _ingest(paths: list[str], meta: Path | None, db: Path, settings: Settings,
            fields: Sequence[str] | None) -> pipeline.IngestSummary:
    sources, errors = discover(paths, str(meta) if meta else None)
    for error in errors:
        _report_error(error)
    options = IngestOptions(settings=settings.ingest, field_map=_field_map(fields))
    with Store(db) as store, _progress() as progress:
        task = progress.add_task("reading", total=len(sources))
        summary = pipeline.ingest(
            sources, store, settings, options, on_error=_report_error,
            on_source=lambda _s: progress.advance(task),
        )
    summary.errors[:0] = errors
    err.print(
        f"{summary.read} articles read: {summary.added} new, {summary.unchanged} already stored, "
        f"{summary.versions} new versions; {len(summary.errors)} inputs failed",
        markup=False,
    )
    return summary


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or http(s) URLs.")],
    meta: MetaOption = None,
    db: DbOption = Path("rasd.db"),
    settings_file: SettingsOption = None,
    field: FieldOption = None,
) -> None:
    """Read articles into the store (text, JSON/JSONL, HTML, RSS/Atom, WARC)."""
    settings = _settings(settings_file)
    summary = _ingest(paths, meta, db, settings, field)
    raise typer.Exit(1 if summary.errors else 0)


@app.command()
def analyze(
    paths: Annotated[list[str] | None, typer.Argument(help="Inputs to ingest first (optional).")] = None,
    meta: MetaOption = None,
    db: DbOption = Path("rasd.db"),
    report: Annotated[Path | None, typer.Option("--report", help="Write the JSON report here.")] = None,
    settings_file: SettingsOption = None,
    field: FieldOption = None,
) -> None:
    """Ingest PATHs, run every pipeline stage over the stored articles, write the report."""
    settings = _settings(settings_file)
    failed = bool(_ingest(paths, meta, db, settings, field).errors) if paths else False
    with Store(db) as store:
        articles = list(store.articles())
        with _progress() as progress:
            task = progress.add_task("analysing", total=len(pipeline.STAGES))
            analysis = pipeline.analyze(
                articles, settings, on_stage=lambda name: progress.update(task, description=name, advance=1)
            )
        result = build_report(analysis, settings.report)
        store.save_analysis(result)
    if report:
        write_report(result, report)
        err.print(f"report written to {report}", markup=False)
    err.print(
        f"{len(result['articles'])} articles, {len(result['stories'])} stories, "
        f"{len(result['duplicates'])} duplicate sets, {len(result['reuse'])} reuse links, "
        f"{len(result['entities'])} entities, {len(result['quotes'])} quotes, {len(result['dates'])} dates",
        markup=False,
    )
    raise typer.Exit(1 if failed else 0)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help='Words (all must match; "quoted" = phrase).')],
    db: DbOption = Path("rasd.db"),
    limit: Annotated[int, typer.Option(help="How many hits.")] = 20,
) -> None:
    """Full-text search across spelling variants and inflections."""
    with Store(db) as store:
        hits = store.search(query, limit=limit)
    if not hits:
        err.print("no matches", markup=False)
        return
    for hit in hits:
        out.print(f"[bold]{hit.id}[/] {hit.published or '?'} {hit.source or '?'}", highlight=False)
        out.print(f"  {hit.title or ''}", markup=False, highlight=False)
        snippet = "".join(f"[reverse]{_escape(t)}[/]" if h else _escape(t) for t, h in hit.snippet)
        out.print("  " + snippet.replace("\n", " "), highlight=False)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


@app.command()
def export(
    format: Annotated[str, typer.Option("--format", help="json (the report), jsonl or csv (articles).")] = "json",
    db: DbOption = Path("rasd.db"),
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default stdout).")] = None,
) -> None:
    """Export the store: the JSON report, or the articles as JSONL or CSV."""
    if format not in ("json", "jsonl", "csv"):
        err.print(f"error: --format must be json, jsonl or csv, not {format!r}", markup=False)
        raise typer.Exit(2)
    handle = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        with Store(db) as store:
            if format == "json":
                json.dump(report_from_store(store), handle, ensure_ascii=False, indent=1)
                handle.write("\n")
            elif format == "jsonl":
                for a in store.articles(latest_only=False):
                    record = {"id": a.id, "source": a.source, "url": a.url, "published": a.published,
                              "title": a.title, "path": a.path, "text": a.text}
                    handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(handle)
                writer.writerow(["id", "source", "url", "published", "title", "path", "text"])
                for a in store.articles(latest_only=False):
                    writer.writerow([a.id, a.source, a.url, a.published, a.title, a.path, a.text])
    finally:
        if output:
            handle.close()


@app.command()
def stats(db: DbOption = Path("rasd.db")) -> None:
    """What the store holds."""
    with Store(db) as store:
        numbers = store.stats()
        outlets = store.query(
            "SELECT COALESCE(source, '?') AS source, COUNT(*) AS n FROM articles GROUP BY source ORDER BY n DESC"
        )
    table = Table(title=f"rasd store {db}")
    table.add_column("what")
    table.add_column("value", justify="right")
    for key, value in numbers.items():
        table.add_row(key, str(value))
    out.print(table)
    per_outlet = Table(title="articles per outlet")
    per_outlet.add_column("outlet")
    per_outlet.add_column("articles", justify="right")
    for row in outlets:
        per_outlet.add_row(row["source"], str(row["n"]))
    out.print(per_outlet)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
