"""What each page shows, as plain dicts read from the store.

One function per page. The JSON twin of a page is its dict without the keys that start with an
underscore (those hold display-only layouts: SVG coordinates, highlighted pieces). Every query
is parameterised and works on empty analysis tables.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from rasd import textnorm
from rasd.store import Store
from rasd.web import render

Row = dict[str, Any]

#: Articles that a later version replaced are hidden from lists (they stay reachable by id).
_LATEST = "a.id NOT IN (SELECT supersedes FROM articles WHERE supersedes IS NOT NULL)"
_STORY_IDS = "SELECT article_id FROM story_articles WHERE story_id = ?"


@dataclass(frozen=True, slots=True)
class StoryFilters:
    date_from: str | None = None
    date_to: str | None = None
    outlet: str | None = None
    entity: str | None = None
    page: int = 1


@dataclass(frozen=True, slots=True)
class ViewSettings:
    #: Twenty stories fill a desktop screen twice and load in one round trip on a phone.
    page_size: int = 20
    #: Latest articles beside the story list: enough to browse before any analysis ran.
    latest_articles: int = 12
    #: Aligned passages shown per reuse link; the JSON twin has the stored ones (report limit).
    passages_per_link: int = 6
    #: Reuse links whose passages are shown side by side on a story page, strongest first; the
    #: others are listed with a link to their own page (/reuse/SOURCE/TARGET), and every link is on
    #: the reuse map and, with its passages, in the JSON twin. A story of wire copy has a link per
    #: pair of copies (hundreds for 30 articles) and marking the copied words of one link's passages
    #: cost about 3 ms of CPU (2,000-article SaudiNewsNet store): with every link shown, the biggest
    #: stories took 130 ms of CPU before a byte was sent, and with 12, half the page's time.
    passage_links: int = 3
    #: Links listed on a story page below the ones shown; the rest are on the map and in the twin.
    #: 30 (was 60) and 60 arrows (was 100): together 7 of the 38 ms of CPU the 30 biggest stories
    #: of the 31k-article store took per first view, for the weakest half of what was listed.
    listed_links: int = 30
    #: Arrows on a story's reuse map, strongest first. The biggest SaudiNewsNet stories (140
    #: articles of wire copy) have thousands of links; past about sixty arrows the 480-px
    #: circle is a blot, and each arrow and node costs the page a few SVG elements.
    map_links: int = 60
    #: Speakers in a story's quotes section, most quoted first, and quotes shown for each; the
    #: speaker's entity page and the twin have them all (a 140-article story has ~600 quotes).
    quote_speakers: int = 25
    quotes_per_speaker: int = 4
    #: Dated statements in a story's timeline shown on its page, oldest first as stored; the rest
    #: are counted and are in the twin (the biggest stories have 130-150, each a line of markup).
    timeline_entries: int = 60
    #: Articles listed under each outlet on a story page; the rest are counted, on the chart and
    #: in the twin.
    outlet_articles: int = 100
    #: Persons in the framing table, most mentioned first; more is unreadable on a phone.
    framing_people: int = 12
    #: Articles listed on an entity page.
    entity_articles: int = 50
    #: Search hits per page.
    search_page_size: int = 20


def public(view: dict[str, Any]) -> dict[str, Any]:
    """The JSON twin: everything but the display-only keys."""
    return {k: v for k, v in view.items() if not k.startswith("_")}


# -- stories -------------------------------------------------------------------------------------


def stories(store: Store, filters: StoryFilters, settings: ViewSettings) -> dict[str, Any]:
    where: list[str] = []
    params: list[Any] = []
    if filters.date_from:
        where.append("substr(COALESCE(s.last_date, s.first_date), 1, 10) >= ?")
        params.append(filters.date_from)
    if filters.date_to:
        where.append("substr(COALESCE(s.first_date, s.last_date), 1, 10) <= ?")
        params.append(filters.date_to)
    if filters.outlet:
        where.append("EXISTS (SELECT 1 FROM json_each(s.outlets) WHERE value = ?)")
        params.append(filters.outlet)
    if filters.entity:
        # From the entity's mentions to their stories (an index search each), not from every story.
        where.append(
            "s.id IN (SELECT sa.story_id FROM mentions m JOIN story_articles sa ON sa.article_id = m.article_id"
            " WHERE m.entity_id = ?)"
        )
        params.append(filters.entity)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = int(store.query(f"SELECT COUNT(*) AS n FROM stories s{clause}", params)[0]["n"])
    size = settings.page_size
    rows = store.query(
        f"SELECT * FROM stories s{clause} ORDER BY COALESCE(s.last_date, s.first_date) IS NULL,"
        " COALESCE(s.last_date, s.first_date) DESC, s.size DESC, s.id LIMIT ? OFFSET ?",
        [*params, size, (filters.page - 1) * size],
    )
    items = []
    for row in rows:
        data = json.loads(row["data"])
        summary = data.get("summary") or []
        items.append({
            "id": row["id"], "title": row["title"], "size": row["size"],
            "first_date": row["first_date"], "last_date": row["last_date"],
            "outlets": json.loads(row["outlets"]),
            "events": len(data.get("events") or []),
            "lead": summary[0]["text"] if summary else None,
        })
    entity_name = None
    if filters.entity:
        found = store.query("SELECT name FROM entities WHERE id = ?", [filters.entity])
        entity_name = found[0]["name"] if found else None
    pages = max(1, -(-total // size))
    return {
        "stories": items,
        "total": total,
        "page": filters.page,
        "pages": pages,
        "filters": {"from": filters.date_from, "to": filters.date_to, "outlet": filters.outlet,
                    "entity": filters.entity, "entity_name": entity_name},
        "outlets": [r["source"] for r in store.query(
            "SELECT DISTINCT source FROM articles WHERE source IS NOT NULL ORDER BY source")],
        "entities": store.query(
            "SELECT id, name, type, mention_count FROM entities WHERE type IN ('PER', 'ORG')"
            " ORDER BY mention_count DESC, name LIMIT 40"),
        "latest_articles": store.query(
            f"SELECT a.id, a.title, a.source, a.published FROM articles a WHERE {_LATEST}"
            " ORDER BY a.published IS NULL, a.published DESC, a.id LIMIT ?", [settings.latest_articles]),
        "stats": store.stats(),
    }


# -- one story -----------------------------------------------------------------------------------


def story(store: Store, story_id: str, settings: ViewSettings, twin: bool = False) -> dict[str, Any] | None:
    """The story page's data. ``twin``: every reuse link with its stored passages (the JSON twin);
    the page reads the passages of the links it shows only."""
    found = store.query("SELECT * FROM stories WHERE id = ?", [story_id])
    if not found:
        return None
    row = found[0]
    data = json.loads(row["data"])
    event_of = {r["article_id"]: r["event_id"] for r in store.query(
        "SELECT article_id, event_id FROM story_articles WHERE story_id = ?", [story_id])}
    articles = [
        {**a, "event": event_of.get(a["id"])}
        for a in store.query(
            f"SELECT a.id, a.title, a.source, a.published, a.url, a.credit FROM articles a"
            f" WHERE a.id IN ({_STORY_IDS}) ORDER BY a.published IS NULL, a.published, a.id", [story_id])
    ]
    titles = {a["id"]: a["title"] for a in articles}
    by_outlet: dict[str, list[Row]] = defaultdict(list)
    for a in articles:
        by_outlet[a["source"] or "؟"].append(a)
    events = [
        {**e, "number": i + 1, "size": len(e.get("articles") or [])}
        for i, e in enumerate(data.get("events") or [])
    ]
    summary = [{**s, "article_title": titles.get(s["article"])} for s in data.get("summary") or []]
    timeline = data.get("timeline") or []
    grouped = [{"outlet": k, "articles": v} for k, v in sorted(by_outlet.items(), key=lambda kv: -len(kv[1]))]
    reuse, reuse_total = _story_reuse(store, story_id, settings, twin)
    mapped = reuse[: settings.map_links]
    nodes = _reuse_nodes(articles, mapped)
    entities, people = _story_entities(store, story_id, settings)
    quotes = _quotes(store.query(
        f"SELECT q.*, e.name AS speaker_name, a.source, a.title AS article_title FROM quotes q"
        f" JOIN articles a ON a.id = q.article_id LEFT JOIN entities e ON e.id = q.speaker"
        f" WHERE q.article_id IN ({_STORY_IDS}) ORDER BY q.article_id, q.start", [story_id]))
    return {
        "id": row["id"], "title": row["title"], "size": row["size"],
        "first_date": row["first_date"], "last_date": row["last_date"], "outlets": json.loads(row["outlets"]),
        "summary": summary,
        "events": events,
        "timeline": timeline,
        "articles": articles,
        "by_outlet": grouped,
        # The page reads the strongest links only (see _story_reuse); the twin has every one.
        "reuse": [public(link) for link in reuse],
        "reuse_count": reuse_total,
        "framing": people["rows"],
        "framing_outlets": people["outlets"],
        "quotes": quotes,
        "entities": entities,
        "_chart": render.timeline_chart(articles, events),
        "_graph": render.reuse_graph(nodes, mapped),
        "_unmapped": reuse_total - len(mapped),
        "_timeline": timeline[: settings.timeline_entries],
        "_more_timeline": max(0, len(timeline) - settings.timeline_entries),
        "_by_outlet": [{**g, "articles": g["articles"][: settings.outlet_articles],
                        "more": max(0, len(g["articles"]) - settings.outlet_articles)} for g in grouped],
        "_quotes": [{**g, "quotes": g["quotes"][: settings.quotes_per_speaker],
                     "more": max(0, len(g["quotes"]) - settings.quotes_per_speaker)}
                    for g in quotes[: settings.quote_speakers]],
        "_more_speakers": max(0, len(quotes) - settings.quote_speakers),
        "_passages": reuse[: settings.passage_links],
        "_listed": reuse[settings.passage_links : settings.passage_links + settings.listed_links],
        "_more_links": max(0, reuse_total - settings.passage_links - settings.listed_links),
    }


def _story_reuse(
    store: Store, story_id: str, settings: ViewSettings, twin: bool
) -> tuple[list[dict[str, Any]], int]:
    """The story's reuse links, strongest first, and how many there are.

    The page reads only the links it uses (shown, listed and on the map) and lets SQLite sort,
    cut and count the rest: the biggest stories of the 31k-article SaudiNewsNet store have
    900-1,500 links, and reading them all into dicts was ~20 ms of a 45-ms page. The twin reads
    every link with its passages (the `data` blob), so it stays the slower of the two.
    """
    shown_links = settings.passage_links + settings.listed_links
    limit = -1 if twin else max(settings.map_links, shown_links)  # LIMIT -1: no limit
    rows = store.query(
        f"WITH top AS (SELECT source, target, direction_known, score FROM reuse_links"
        f" WHERE source IN ({_STORY_IDS}) OR target IN ({_STORY_IDS})"
        f" ORDER BY score DESC, source, target LIMIT ?)"
        f" SELECT r.source, r.target, r.direction_known, r.score,"
        f" sa.source AS source_outlet, sa.title AS source_title, sa.published AS source_published,"
        f" ta.source AS target_outlet, ta.title AS target_title, ta.published AS target_published"
        f" FROM top r LEFT JOIN articles sa ON sa.id = r.source LEFT JOIN articles ta ON ta.id = r.target"
        f" ORDER BY r.score DESC, r.source, r.target",
        [story_id, story_id, limit])
    total = len(rows)
    if limit >= 0 and total >= limit:
        total = store.query(
            f"SELECT COUNT(*) AS n FROM reuse_links WHERE source IN ({_STORY_IDS}) OR target IN ({_STORY_IDS})",
            [story_id, story_id])[0]["n"]
    # The passages are parsed only for the links the page shows (and for every link in the twin).
    links = []
    for i, row in enumerate(rows):
        row["direction_known"] = bool(row["direction_known"])
        shows = i < settings.passage_links
        if not (shows or twin):
            links.append({**row, "_shown": [], "_hidden": 0})
            continue
        link = json.loads(store.query("SELECT data FROM reuse_links WHERE source = ? AND target = ?",
                                      [row["source"], row["target"]])[0]["data"])
        shown = []
        for p in (link.get("passages") or [])[: settings.passages_per_link if shows else 0]:
            pair = render.copied_pair(p["source_text"], p["target_text"])
            shown.append({"source": pair.source, "target": pair.target, "share": round(pair.share, 2)})
        links.append({**link, **row, "_shown": shown,
                      "_hidden": max(0, len(link.get("passages") or []) - len(shown))})
    return links, total


def reuse_pair(store: Store, source: str, target: str) -> dict[str, Any] | None:
    """One reuse link: both articles and every stored passage side by side, copied words marked."""
    found = store.query(
        "SELECT r.data, sa.source AS source_outlet, sa.title AS source_title, sa.published AS source_published,"
        " ta.source AS target_outlet, ta.title AS target_title, ta.published AS target_published"
        " FROM reuse_links r LEFT JOIN articles sa ON sa.id = r.source LEFT JOIN articles ta ON ta.id = r.target"
        " WHERE r.source = ? AND r.target = ?", [source, target])
    if not found:
        return None
    row = found[0]
    link = json.loads(row.pop("data"))
    shown = []
    for p in link.get("passages") or []:
        pair = render.copied_pair(p["source_text"], p["target_text"])
        shown.append({"source": pair.source, "target": pair.target, "share": round(pair.share, 2)})
    stories_of = store.query(
        "SELECT DISTINCT s.id, s.title FROM story_articles sa JOIN stories s ON s.id = sa.story_id"
        " WHERE sa.article_id IN (?, ?) ORDER BY s.id", [source, target])
    return {**link, **row, "stories": stories_of, "_shown": shown}


def _reuse_nodes(articles: list[Row], links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    involved = {x for link in links for x in (link["source"], link["target"])}
    known = {a["id"]: a for a in articles}
    nodes: list[Row] = []
    for link in links:
        for side in ("source", "target"):
            aid = link[side]
            if aid in known or any(n["id"] == aid for n in nodes):
                continue
            nodes.append({"id": aid, "source": link.get(f"{side}_outlet"), "published": link.get(f"{side}_published"),
                          "title": link.get(f"{side}_title"), "outside": True})
    ordered = [a for a in articles if a["id"] in involved] + nodes
    ordered.sort(key=lambda a: (a.get("published") is None, a.get("published") or "", a["id"]))
    return [
        {"id": a["id"], "label": f"{a.get('source') or '؟'}", "when": render.short_time(a.get("published")),
         "title": a.get("title") or "", "outside": bool(a.get("outside"))}
        for a in ordered
    ]


def _story_entities(store: Store, story_id: str, settings: ViewSettings) -> tuple[list[Row], dict[str, Any]]:
    """The story's 30 most mentioned entities, and each person × outlet: the titles (المشير،
    اللواء المتقاعد ...) that outlet gave them.

    One aggregation of the story's mentions serves both (they were two, each grouping every
    mention: 3.7 + 3.8 ms of SQLite for the 20 biggest stories of the 31k store, 5.1 ms as one).
    The mentions are counted from the covering index of migration 4 before any entity is read.
    """
    rows = store.query(
        "WITH agg AS (SELECT m.entity_id, a.source, m.title, COUNT(*) AS n FROM story_articles sa"
        " JOIN articles a ON a.id = sa.article_id JOIN mentions m ON m.article_id = sa.article_id"
        " WHERE sa.story_id = ? GROUP BY m.entity_id, a.source, m.title)"
        " SELECT agg.entity_id AS id, agg.source, agg.title, agg.n, e.name, e.type FROM agg"
        " JOIN entities e ON e.id = agg.entity_id", [story_id])
    # Titles most used first within each person × outlet (ties by title, for a stable page).
    rows.sort(key=lambda r: (r["id"], r["source"] or "", -r["n"], r["title"] or ""))
    counts: dict[str, Row] = {}
    people: dict[str, dict[str, Any]] = {}
    outlets: set[str] = set()
    for r in rows:
        entity = counts.setdefault(r["id"], {"id": r["id"], "name": r["name"], "type": r["type"], "mentions": 0})
        entity["mentions"] += r["n"]
        if r["type"] != "PER":
            continue
        person = people.setdefault(r["id"], {"id": r["id"], "name": r["name"], "mentions": 0, "outlets": {}})
        person["mentions"] += r["n"]
        outlet = r["source"] or "؟"
        outlets.add(outlet)
        titles = person["outlets"].setdefault(outlet, [])
        if r["title"]:
            titles.append({"title": r["title"], "count": r["n"]})
    top = sorted(counts.values(), key=lambda e: (-e["mentions"], e["name"], e["id"]))[:30]
    ranked = sorted(people.values(), key=lambda p: (-p["mentions"], p["name"]))[: settings.framing_people]
    return top, {"rows": ranked, "outlets": sorted(outlets)}


def _quotes(rows: list[Row]) -> list[dict[str, Any]]:
    groups: dict[str, dict[str, Any]] = {}
    for q in rows:
        key = q["speaker"] or ("text:" + (q["speaker_text"] or ""))
        group = groups.setdefault(key, {
            "speaker": q["speaker"], "name": q["speaker_name"] or q["speaker_text"], "quotes": []})
        group["quotes"].append({
            "article": q["article_id"], "text": q["text"], "span": [q["start"], q["end"]],
            "direct": bool(q["direct"]), "speaker_text": q["speaker_text"], "source": q["source"],
            "article_title": q["article_title"],
        })
    return sorted(groups.values(), key=lambda g: (g["name"] is None, -len(g["quotes"]), g["name"] or ""))


# -- one entity ----------------------------------------------------------------------------------


def entities(store: Store) -> dict[str, Any]:
    return {"entities": store.query(
        "SELECT id, name, type, aliases, mention_count FROM entities ORDER BY mention_count DESC, name LIMIT 500")}


def entity(store: Store, entity_id: str, settings: ViewSettings) -> dict[str, Any] | None:
    found = store.query("SELECT * FROM entities WHERE id = ?", [entity_id])
    if not found:
        return None
    row = found[0]
    per_day = [
        (r["day"], r["n"]) for r in store.query(
            "SELECT substr(a.published, 1, 10) AS day, COUNT(*) AS n FROM mentions m JOIN articles a"
            " ON a.id = m.article_id WHERE m.entity_id = ? AND a.published IS NOT NULL"
            " GROUP BY day ORDER BY day", [entity_id])
        if _is_day(r["day"])
    ]
    titles: dict[str, list[Row]] = defaultdict(list)
    for r in store.query(
        "SELECT a.source, m.title, COUNT(*) AS n FROM mentions m JOIN articles a ON a.id = m.article_id"
        " WHERE m.entity_id = ? GROUP BY a.source, m.title ORDER BY a.source, n DESC", [entity_id]
    ):
        titles[r["source"] or "؟"].append({"title": r["title"], "count": r["n"]})
    quotes = store.query(
        "SELECT q.article_id AS article, q.text, q.start, q.\"end\", q.direct, q.speaker_text, a.source,"
        " a.published, a.title AS article_title FROM quotes q JOIN articles a ON a.id = q.article_id"
        " WHERE q.speaker = ? ORDER BY a.published, q.start", [entity_id])
    story_rows = store.query(
        "SELECT s.id, s.title, s.size, s.first_date, s.last_date, COUNT(*) AS mentions FROM stories s"
        " JOIN story_articles sa ON sa.story_id = s.id JOIN mentions m ON m.article_id = sa.article_id"
        " WHERE m.entity_id = ? GROUP BY s.id ORDER BY s.last_date DESC, s.id", [entity_id])
    articles = store.query(
        "SELECT a.id, a.title, a.source, a.published, COUNT(*) AS mentions FROM mentions m"
        " JOIN articles a ON a.id = m.article_id WHERE m.entity_id = ? GROUP BY a.id"
        " ORDER BY a.published DESC LIMIT ?", [entity_id, settings.entity_articles])
    return {
        "id": row["id"], "name": row["name"], "type": row["type"], "aliases": json.loads(row["aliases"]),
        "mention_count": row["mention_count"],
        "mentions_by_day": [{"day": d, "count": n} for d, n in per_day],
        "titles_by_outlet": [{"outlet": k, "titles": v} for k, v in sorted(titles.items())],
        "quotes": [{**q, "direct": bool(q["direct"]), "span": [q.pop("start"), q.pop("end")]} for q in quotes],
        "stories": story_rows,
        "articles": articles,
        "_bars": render.bars(per_day),
    }


def _is_day(value: object) -> bool:
    return isinstance(value, str) and render.day(value) == value


# -- one article ---------------------------------------------------------------------------------

_KIND_NAMES = {"title": "العنوان", "body": "المتن", "title_repeat": "عنوان مكرر", "boilerplate": "حشو الصفحة",
               "credit": "سطر المصدر"}


def article(store: Store, article_id: str) -> dict[str, Any] | None:
    row = store.article_row(article_id)
    if row is None:
        return None
    text = row["text"]
    blocks = [(int(s), int(e), str(k)) for s, e, k in json.loads(row["blocks"])]
    mentions = store.query(
        "SELECT m.entity_id, m.start, m.\"end\", m.text, m.title, e.name, e.type FROM mentions m"
        " LEFT JOIN entities e ON e.id = m.entity_id WHERE m.article_id = ? ORDER BY m.start", [article_id])
    dates = store.query(
        "SELECT text, start, \"end\", value, anchor, warning FROM dates WHERE article_id = ? ORDER BY start",
        [article_id])
    quotes = store.query(
        "SELECT q.speaker, q.speaker_text, q.text, q.start, q.\"end\", q.direct, e.name AS speaker_name"
        " FROM quotes q LEFT JOIN entities e ON e.id = q.speaker WHERE q.article_id = ? ORDER BY q.start",
        [article_id])
    reuse = []
    for r in store.query(
        "SELECT r.source, r.target, r.direction_known, r.score, r.data, a.source AS outlet, a.title"
        " FROM reuse_links r JOIN articles a ON a.id = CASE WHEN r.source = ? THEN r.target ELSE r.source END"
        " WHERE r.source = ? OR r.target = ? ORDER BY r.score DESC", [article_id, article_id, article_id]
    ):
        data = json.loads(r["data"])
        mine = "source_span" if r["source"] == article_id else "target_span"
        reuse.append({
            "other": r["target"] if r["source"] == article_id else r["source"],
            "role": "source" if r["source"] == article_id else "target",
            "direction_known": bool(r["direction_known"]), "score": r["score"], "evidence": data.get("evidence"),
            "outlet": r["outlet"], "title": r["title"],
            "spans": [p[mine] for p in data.get("passages") or []],
        })
    marks = _marks(mentions, dates, quotes, reuse)
    analysed = [b for b in blocks if b[2] in ("title", "body")]
    apart = [
        {"kind": k, "kind_name": _KIND_NAMES.get(k, k), "span": [s, e], "text": text[s:e]}
        for s, e, k in blocks if k not in ("title", "body")
    ]
    stories_of = store.query(
        "SELECT s.id, s.title, s.size FROM story_articles sa JOIN stories s ON s.id = sa.story_id"
        " WHERE sa.article_id = ?", [article_id])
    duplicates = [
        {"kind": d["kind"], "similarity": d["similarity"], "articles": [x for x in json.loads(d["articles"])
                                                                         if x != article_id]}
        for d in store.query(
            "SELECT * FROM duplicate_sets WHERE EXISTS (SELECT 1 FROM json_each(articles) WHERE value = ?)",
            [article_id])
    ]
    newer = store.query("SELECT id, version FROM articles WHERE supersedes = ?", [article_id])
    return {
        "id": row["id"], "title": row["title"], "source": row["source"], "published": row["published"],
        "url": row["url"], "path": row["path"], "encoding": row["encoding"], "credit": row["credit"],
        "version": row["version"], "supersedes": row["supersedes"], "superseded_by": [n["id"] for n in newer],
        "ingested_at": row["ingested_at"], "text": text,
        "blocks": [{"span": [s, e], "kind": k} for s, e, k in blocks],
        "mentions": [{"entity": m["entity_id"], "name": m["name"], "type": m["type"], "text": m["text"],
                      "span": [m["start"], m["end"]], "title": m["title"]} for m in mentions],
        "dates": [{"text": d["text"], "span": [d["start"], d["end"]], "value": d["value"], "anchor": d["anchor"],
                   "warning": d["warning"]} for d in dates],
        "quotes": [{"speaker": q["speaker"], "speaker_name": q["speaker_name"], "speaker_text": q["speaker_text"],
                    "text": q["text"], "span": [q["start"], q["end"]], "direct": bool(q["direct"])} for q in quotes],
        "reuse": reuse,
        "stories": stories_of,
        "duplicates": duplicates,
        "apart": apart,
        "_paragraphs": render.paragraphs(text, analysed, marks),
        "_has_title_block": any(k == "title" for _, _, k in blocks),
        "_url": render.safe_url(row["url"]),
    }


def _marks(mentions: list[Row], dates: list[Row], quotes: list[Row], reuse: list[Row]) -> list[render.Mark]:
    marks = [render.Mark(m["start"], m["end"], "mention", f"/entities/{m['entity_id']}",
                         m["name"] or m["text"]) for m in mentions]
    marks += [render.Mark(d["start"], d["end"], "date", None, d["value"]) for d in dates]
    marks += [render.Mark(q["start"], q["end"], "quote", None, q["speaker_name"] or q["speaker_text"])
              for q in quotes]
    for r in reuse:
        note = ("نُقل عنه إلى " if r["role"] == "source" else "منقول عن ") + (r["outlet"] or "؟")
        marks += [render.Mark(s, e, "reuse", f"/articles/{r['other']}", note) for s, e in r["spans"]]
    return marks


# -- search --------------------------------------------------------------------------------------


def search(store: Store, query: str, page: int, settings: ViewSettings) -> dict[str, Any]:
    size = settings.search_page_size
    # Store.search's hits, with snippets cut by the web layer's cheaper windowing.
    rows = store.search_rows(query, limit=size + 1, offset=(page - 1) * size) if query.strip() else []
    wanted = {textnorm.stem(t.norm) for t in textnorm.tokens(query)}
    return {
        "q": query,
        "page": page,
        "more": len(rows) > size,
        "hits": [
            {"id": r["id"], "title": r["title"], "source": r["source"], "published": r["published"],
             "snippet": [{"text": t, "hit": hit} for t, hit in render.snippet(r["text"], wanted)]}
            for r in rows[:size]
        ],
    }
