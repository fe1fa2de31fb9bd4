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

from rasd import cli_explore, pipeline
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
    engine: Annotated[str, typer.Option("--engine", help="embedded (SQLite store) or spark (pyspark).")] = "embedded",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Spark engine: folder for the Parquet tables.")] = None,
    master: Annotated[str, typer.Option("--master", help="Spark engine: the Spark master URL.")] = "local[*]",
) -> None:
    """Ingest PATHs, run every pipeline stage over the stored articles, write the report."""
    settings = _settings(settings_file)
    if engine == "spark":
        raise typer.Exit(_analyze_spark(paths or [], meta, out_dir, master, settings, field))
    if engine != "embedded":
        err.print(f"error: --engine must be embedded or spark, not {engine!r}", markup=False)
        raise typer.Exit(2)
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


def _analyze_spark(paths: list[str], meta: Path | None, out_dir: Path | None, master: str, settings: Settings,
                   fields: Sequence[str] | None) -> int:
    """The Spark engine (rasd.spark, docs/scale.md): Parquet tables under --out; the exit code."""
    if not paths or out_dir is None:
        err.print("error: --engine spark reads INPUT paths (no store) and needs --out DIR", markup=False)
        return 2
    from rasd import spark

    try:
        rows, errors = spark.analyze_paths(
            paths, out_dir, settings, str(meta) if meta else None, _field_map(fields),
            spark.SparkSettings(master=master), on_error=_report_error,
        )
    except RuntimeError as exc:  # pyspark or Java missing: say what to install
        err.print(f"error: {exc}", markup=False)
        return 2
    err.print(", ".join(f"{n} {name}" for name, n in rows.items()) + f"; tables in {out_dir}", markup=False)
    return 1 if errors else 0


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


@app.command()
def serve(
    db: DbOption = Path("rasd.db"),
    host: Annotated[str, typer.Option(help="Address to listen on (loopback by default).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="RASD_TOKEN", help="Bearer token for POST /api/articles; without one "
                     "every write is refused."),
    ] = None,
    settings_file: SettingsOption = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", min=1, help="Server processes (default: 2 on two cores or more, else 1); "
                     "one of them analyses posted articles."),
    ] = None,
) -> None:
    """Explore stories, copies, actors and quotes in the browser (http://HOST:PORT/)."""
    from rasd.web import default_workers
    from rasd.web import serve as run_server

    _settings(settings_file)  # a bad settings file is reported here, before any process starts
    processes = workers or default_workers()
    err.print(f"rasd: http://{host}:{port}/ over {db}; writes {'need the token' if token else 'disabled'}; "
              f"{processes} process{'es' if processes > 1 else ''}", markup=False)
    try:
        run_server(db, host, port, token, settings_file, processes)
    except RasdError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc


feeds_app = typer.Typer(help="The feed list `rasd watch` polls.", no_args_is_help=True)
app.add_typer(feeds_app, name="feeds")


@feeds_app.command("add")
def feeds_add(
    url: Annotated[str, typer.Argument(help="RSS or Atom feed URL.")],
    name: Annotated[str | None, typer.Option("--name", help="Outlet name for its articles.")] = None,
    db: DbOption = Path("rasd.db"),
) -> None:
    """Add a feed (or rename it)."""
    from rasd.watch import add_feed

    try:
        with Store(db) as store:
            added = add_feed(store, url, name)
    except RasdError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc
    err.print(f"{'added' if added else 'already listed'}: {url}", markup=False)


@feeds_app.command("remove")
def feeds_remove(url: Annotated[str, typer.Argument(help="Feed URL.")], db: DbOption = Path("rasd.db")) -> None:
    """Remove a feed (its stored articles stay)."""
    from rasd.watch import remove_feed

    with Store(db) as store:
        if not remove_feed(store, url):
            err.print(f"error: {url} is not in the feed list", markup=False)
            raise typer.Exit(1)
    err.print(f"removed: {url}", markup=False)


@feeds_app.command("list")
def feeds_list(db: DbOption = Path("rasd.db")) -> None:
    """The feeds with their health: last success, last error, items seen."""
    from rasd.watch import feed_health

    with Store(db) as store:
        rows = feed_health(store)
    table = Table(title=f"feeds in {db}")
    for column in ("feed", "name", "status", "last success", "last error", "items", "articles", "next poll"):
        table.add_column(column)
    for h in rows:
        error = f"{h.last_error} ({h.last_error_at}, {h.failures}x)" if h.failures else ""
        table.add_row(h.url, h.name or "", h.status, h.last_success or "", error, str(h.items_seen),
                      str(h.articles_added), h.next_poll or "")
    out.print(table)


@app.command()
def watch(
    feeds: Annotated[Path | None, typer.Option("--feeds", help="OPML or a list of URLs (URL<TAB>name).")] = None,
    every: Annotated[str, typer.Option("--every", help="Poll interval: 30s, 5m, 1h.")] = "5m",
    db: DbOption = Path("rasd.db"),
    alerts: Annotated[Path | None, typer.Option("--alerts", help="TOML file of [[alert]] rules.")] = None,
    alert_log: Annotated[Path | None, typer.Option("--alert-log", help="Append alerts here (JSONL).")] = None,
    webhook: Annotated[str | None, typer.Option("--webhook", help="POST each alert as JSON here.")] = None,
    once: Annotated[bool, typer.Option("--once", help="One cycle, then exit.")] = False,
    settings_file: SettingsOption = None,
) -> None:
    """Poll feeds continuously; store and analyse new articles as they appear; send alerts."""
    from rasd import watch as w

    settings = _settings(settings_file)
    try:
        interval = w.parse_interval(every)
        rules = w.load_rules(alerts) if alerts else []
        listed = w.read_feed_list(feeds) if feeds else None
    except RasdError as exc:
        err.print(f"error: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if alerts and not (alert_log or webhook):
        alert_log = Path(str(db) + ".alerts.jsonl")
    with Store(db) as store:
        if listed is not None:
            w.sync_feeds(store, listed)
        only = [f.url for f in listed] if listed is not None else None
        if not (only or w.feed_health(store)):
            err.print("error: no feeds: give --feeds FILE or add some with `rasd feeds add URL`", markup=False)
            raise typer.Exit(2)
        try:
            watcher = w.Watcher(store, settings, w.WatchSettings(every_s=interval), rules=rules,
                                alert_log=alert_log, webhook=webhook, only=only)
        except w.WatcherRunning as exc:
            err.print(f"error: {exc}", markup=False)
            raise typer.Exit(1) from exc

        failed: list[str] = []

        def show(report: w.CycleReport) -> None:
            failed[:] = [url for url, _ in report.failed]
            for url, reason in report.failed:
                err.print(f"error: {url}: {reason}", markup=False)
            err.print(
                f"polled {report.polled} feeds ({report.not_modified} unchanged), {report.new_articles} new articles"
                f" ({report.versions} new versions), {report.processed} analysed, {report.stories_changed} stories"
                f" updated, {report.alerts} alerts",
                markup=False,
            )

        with watcher:
            try:
                watcher.run(stop=lambda: once and watcher.cycles > 0, on_cycle=show)
            except KeyboardInterrupt:
                err.print("stopped", markup=False)
    # With --once the exit code says whether every feed could be read, as `rasd ingest` does.
    raise typer.Exit(1 if once and failed else 0)

cli_explore.register(app)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
