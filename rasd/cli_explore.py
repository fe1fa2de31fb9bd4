"""Commands that read what `rasd analyze` stored: stories, one story, reuse of an article, an actor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rasd import textnorm
from rasd.store import Store

out = Console()
err = Console(stderr=True, highlight=False)

DbOption = Annotated[Path, typer.Option("--db", help="SQLite store file.")]


def _open(db: Path) -> Store:
    if not db.exists():
        err.print(f"error: {db}: no such store (run rasd analyze first)", markup=False)
        raise typer.Exit(2)
    return Store(db)


def stories(
    db: DbOption = Path("rasd.db"),
    limit: Annotated[int, typer.Option(help="How many stories, latest first.")] = 50,
) -> None:
    """List stories: size, outlets, first and last date, title."""
    with _open(db) as store:
        rows = store.query(
            "SELECT id, title, size, first_date, last_date, outlets FROM stories"
            " ORDER BY last_date IS NULL, last_date DESC, size DESC LIMIT ?", (limit,))
    table = Table(title=f"{len(rows)} stories")
    table.add_column("id", no_wrap=True)
    for column in ("articles", "outlets", "first", "last"):
        table.add_column(column, no_wrap=True)
    table.add_column("title")
    for r in rows:
        table.add_row(r["id"], str(r["size"]), str(len(json.loads(r["outlets"]))), (r["first_date"] or "?")[:10],
                      (r["last_date"] or "?")[:10], escape(r["title"]))
    out.print(table)


def story(
    story_id: Annotated[str, typer.Argument(help="Story id (from rasd stories).")],
    db: DbOption = Path("rasd.db"),
) -> None:
    """One story: its summary, timeline and events with their articles."""
    with _open(db) as store:
        rows = store.query("SELECT data FROM stories WHERE id = ?", (story_id,))
        if not rows:
            err.print(f"error: no story {story_id!r}", markup=False)
            raise typer.Exit(2)
        data: dict[str, Any] = json.loads(rows[0]["data"])
        articles = {r["id"]: r for r in store.query(
            f"SELECT id, source, published, title FROM articles WHERE id IN ({','.join('?' * len(data['articles']))})",
            data["articles"])}
    out.print(f"[bold]{escape(data['title'])}[/]  ({len(data['articles'])} articles)")
    out.print("\n[bold]Summary[/]")
    for s in data["summary"]:
        source = articles.get(s["article"], {}).get("source") or "?"
        out.print(f"• {escape(s['text'])} [dim]({escape(source)}, {s['article']})[/]")
    out.print("\n[bold]Timeline[/]")
    for t in data["timeline"]:
        mark = " [dim](background)[/]" if t.get("background") else ""
        out.print(f"{t['date']:<10} {escape(t['text'])}{mark}")
    out.print("\n[bold]Events[/]")
    for event in data["events"]:
        out.print(f"{event.get('date') or '?':<10} {escape(event.get('title') or '')} [dim]{event['id']}[/]")
        for a in event["articles"]:
            row = articles.get(a, {})
            out.print(f"    {(row.get('published') or '?')[:16]}  {escape(row.get('source') or '?')}: "
                      f"{escape(row.get('title') or '')} [dim]{a}[/]")


def reuse(
    article_id: Annotated[str, typer.Argument(help="Article id.")],
    db: DbOption = Path("rasd.db"),
) -> None:
    """Aligned passages an article shares with others, side by side, shared words highlighted."""
    with _open(db) as store:
        links = [json.loads(r["data"]) for r in store.query(
            "SELECT data FROM reuse_links WHERE source = ? OR target = ? ORDER BY score DESC",
            (article_id, article_id))]
        ids = {i for link in links for i in (link["source"], link["target"])}
        meta = {r["id"]: r for r in store.query(
            f"SELECT id, source, published, title FROM articles WHERE id IN ({','.join('?' * len(ids))})",
            sorted(ids))} if ids else {}
    if not links:
        err.print(f"no reuse found for {article_id}", markup=False)
        return
    for link in links:
        src, tgt = meta.get(link["source"], {}), meta.get(link["target"], {})
        arrow = "→" if link["direction_known"] else "↔"
        out.rule(f"{escape(src.get('source') or '?')} {arrow} {escape(tgt.get('source') or '?')}  "
                 f"score {link['score']:.2f} ({link.get('evidence', 'unknown')})")
        table = Table(show_header=True, expand=True)
        table.add_column(f"{escape(src.get('source') or '?')} {(src.get('published') or '')[:16]}", ratio=1)
        table.add_column(f"{escape(tgt.get('source') or '?')} {(tgt.get('published') or '')[:16]}", ratio=1)
        for p in link["passages"]:
            shared = _shared_words(p["source_text"], p["target_text"])
            table.add_row(_highlight(p["source_text"], shared), _highlight(p["target_text"], shared))
        out.print(table)


def _shared_words(a: str, b: str) -> set[str]:
    return {t.norm for t in textnorm.tokens(a)} & {t.norm for t in textnorm.tokens(b)}


def _highlight(text: str, shared: set[str]) -> str:
    pieces, cursor = [], 0
    for t in textnorm.tokens(text):
        if t.norm in shared:
            pieces.append(escape(text[cursor : t.start]))
            pieces.append(f"[reverse]{escape(t.text)}[/]")
            cursor = t.end
    pieces.append(escape(text[cursor:]))
    return "".join(pieces)


def entity(
    name: Annotated[str, typer.Argument(help="A name or alias in any spelling (شويجو finds شويغو).")],
    db: DbOption = Path("rasd.db"),
) -> None:
    """An actor: aliases, mentions over time, titles by outlet, quotes."""
    wanted = textnorm.normalize(name)
    with _open(db) as store:
        candidates = [e for e in store.query("SELECT * FROM entities ORDER BY mention_count DESC")
                      if any(wanted == textnorm.normalize(a) or wanted in textnorm.normalize(a)
                             for a in [*json.loads(e["aliases"]), e["name"]])]
        if not candidates:
            err.print(f"error: no entity named {name!r}", markup=False)
            raise typer.Exit(2)
        ent = candidates[0]
        mentions = store.query(
            "SELECT m.text, m.title, a.source, substr(a.published, 1, 10) AS day FROM mentions m"
            " JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ?", (ent["id"],))
        quotes = store.query(
            "SELECT q.text, q.direct, a.source, substr(a.published, 1, 10) AS day FROM quotes q"
            " JOIN articles a ON a.id = q.article_id WHERE q.speaker = ? ORDER BY day", (ent["id"],))
    out.print(f"[bold]{escape(ent['name'])}[/] ({ent['type']}, {ent['id']}), {len(mentions)} mentions")
    out.print("aliases: " + "، ".join(escape(a) for a in json.loads(ent["aliases"])))
    per_day: dict[str, int] = {}
    titles: dict[str, dict[str, int]] = {}
    for m in mentions:
        per_day[m["day"] or "?"] = per_day.get(m["day"] or "?", 0) + 1
        if m["title"]:
            counts = titles.setdefault(m["source"] or "?", {})
            counts[m["title"]] = counts.get(m["title"], 0) + 1
    out.print("\n[bold]Mentions over time[/]")
    for day in sorted(per_day):
        out.print(f"{day:<10} {'█' * per_day[day]} {per_day[day]}")
    table = Table(title="Titles by outlet")
    table.add_column("outlet")
    table.add_column("titles")
    for outlet in sorted(titles):
        ranked = sorted(titles[outlet].items(), key=lambda kv: -kv[1])
        table.add_row(escape(outlet), "، ".join(f"{escape(t)} ({n})" for t, n in ranked))
    out.print(table)
    out.print(f"\n[bold]Quotes[/] ({len(quotes)})")
    for q in quotes:
        kind = "«»" if q["direct"] else "reported"
        out.print(f"{q['day'] or '?'} {escape(q['source'] or '?')} [dim]{kind}[/]: {escape(q['text'])}")


def register(app: typer.Typer) -> None:
    for command in (stories, story, reuse, entity):
        app.command()(command)
