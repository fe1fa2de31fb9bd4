"""The versioned JSON report: a documented view of an Analysis (docs/report.md, schema/report.schema.json).

Other tools read these names: fields may be added, the top-level names are never renamed.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from rasd.models import (
    Analysis,
    Article,
    DuplicateSet,
    Entity,
    Quote,
    ReuseLink,
    Story,
    TimeRef,
)
from rasd.settings import ReportSettings

REPORT_VERSION = "1.0"
TOP_LEVEL = ("articles", "duplicates", "reuse", "stories", "entities", "quotes", "dates")


def article_entry(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "path": article.path,
        "url": article.url,
        "source": article.source,
        "published": article.published,
        "title": article.title,
        "credit": article.credit,
        "encoding": article.encoding,
        "blocks": [{"span": [b.start, b.end], "kind": b.kind} for b in article.blocks],
    }


def duplicate_entry(dup: DuplicateSet) -> dict[str, Any]:
    return {"articles": list(dup.articles), "kind": dup.kind, "similarity": round(dup.similarity, 4)}


def reuse_entry(link: ReuseLink, max_passages: int) -> dict[str, Any]:
    return {
        "source": link.source,
        "target": link.target,
        "direction_known": link.direction_known,
        "evidence": link.evidence,
        "score": round(link.score, 4),
        "passages": [
            {
                "source_span": list(p.source_span),
                "target_span": list(p.target_span),
                "source_text": p.source_text,
                "target_text": p.target_text,
            }
            for p in link.passages[:max_passages]
        ],
    }


def story_entry(story: Story) -> dict[str, Any]:
    return {
        "id": story.id,
        "title": story.title,
        "articles": list(story.articles),
        "events": [
            {"id": e.id, "title": e.title, "articles": list(e.articles), "date": e.date} for e in story.events
        ],
        "summary": [{"text": s.text, "article": s.article, "span": list(s.span)} for s in story.summary],
        "timeline": [
            {"date": t.date, "text": t.text, "article": t.article, "background": t.background}
            for t in story.timeline
        ],
    }


def entity_entry(entity: Entity) -> dict[str, Any]:
    return {
        "id": entity.id,
        "type": entity.type,
        "name": entity.name,
        "aliases": list(entity.aliases),
        "mentions": [
            {"article": m.article, "text": m.text, "span": list(m.span), "title": m.title}
            for m in entity.mentions
        ],
    }


def quote_entry(quote: Quote) -> dict[str, Any]:
    return {
        "article": quote.article,
        "speaker": quote.speaker,
        "speaker_text": quote.speaker_text,
        "text": quote.text,
        "span": list(quote.span),
        "direct": quote.direct,
    }


def date_entry(ref: TimeRef) -> dict[str, Any]:
    return {
        "article": ref.article,
        "text": ref.text,
        "span": list(ref.span),
        "value": ref.value,
        "anchor": ref.anchor,
        "warning": ref.warning,
    }


def build_report(analysis: Analysis, settings: ReportSettings | None = None) -> dict[str, Any]:
    settings = settings or ReportSettings()
    return {
        "rasd_report": REPORT_VERSION,
        "articles": [article_entry(a) for a in analysis.articles],
        "duplicates": [duplicate_entry(d) for d in analysis.duplicates],
        "reuse": [reuse_entry(r, settings.max_passages_per_pair) for r in analysis.reuse],
        "stories": [story_entry(s) for s in analysis.stories],
        "entities": [entity_entry(e) for e in analysis.entities],
        "quotes": [quote_entry(q) for q in analysis.quotes],
        "dates": [date_entry(d) for d in analysis.dates],
    }


def write_report(report: dict[str, Any], path: str | Path) -> None:
    Path(path).write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")


def report_schema() -> dict[str, Any]:
    text = resources.files("rasd").joinpath("schema/report.schema.json").read_text(encoding="utf-8")
    return dict(json.loads(text))


def report_from_store(store: Any) -> dict[str, Any]:
    """The report as last analysed and stored (``rasd export``; the web app's JSON twins)."""
    mentions: dict[str, list[dict[str, Any]]] = {}
    for m in store.query('SELECT entity_id, article_id, start, "end", text, title FROM mentions'):
        mentions.setdefault(m["entity_id"], []).append(
            {"article": m["article_id"], "text": m["text"], "span": [m["start"], m["end"]], "title": m["title"]}
        )
    return {
        "rasd_report": REPORT_VERSION,
        "articles": [article_entry(a) for a in store.articles(latest_only=False)],
        "duplicates": [
            {"articles": json.loads(d["articles"]), "kind": d["kind"], "similarity": d["similarity"]}
            for d in store.query("SELECT * FROM duplicate_sets ORDER BY id")
        ],
        "reuse": [json.loads(r["data"]) for r in store.query("SELECT data FROM reuse_links")],
        "stories": [json.loads(s["data"]) for s in store.query("SELECT data FROM stories ORDER BY id")],
        "entities": [
            {"id": e["id"], "type": e["type"], "name": e["name"], "aliases": json.loads(e["aliases"]),
             "mentions": mentions.get(e["id"], [])}
            for e in store.query("SELECT * FROM entities ORDER BY id")
        ],
        "quotes": [
            {"article": q["article_id"], "speaker": q["speaker"], "speaker_text": q["speaker_text"],
             "text": q["text"], "span": [q["start"], q["end"]], "direct": bool(q["direct"])}
            for q in store.query('SELECT * FROM quotes ORDER BY article_id, start')
        ],
        "dates": [
            {"article": d["article_id"], "text": d["text"], "span": [d["start"], d["end"]], "value": d["value"],
             "anchor": d["anchor"], "warning": d["warning"]}
            for d in store.query('SELECT * FROM dates ORDER BY article_id, start')
        ],
    }
