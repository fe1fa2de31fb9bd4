"""The embedded SQLite store: articles with versions, FTS5 search, and the analysis tables.

One writer in transactions, readers in parallel (WAL). Articles are keyed on their content hash,
so ingesting the same article twice stores it once and a killed run is simply run again.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rasd import textnorm
from rasd.errors import StoreError
from rasd.ingest.meta import now_iso
from rasd.models import Article, Block

#: Numbered migrations; each runs once, in order, in its own transaction, and is recorded.
MIGRATIONS: tuple[tuple[int, str], ...] = (
    (
        1,
        """
        CREATE TABLE articles (
            id TEXT PRIMARY KEY,
            url TEXT,
            source TEXT,
            title TEXT,
            published TEXT,
            path TEXT,
            text TEXT NOT NULL,
            blocks TEXT NOT NULL,
            credit TEXT,
            encoding TEXT,
            version INTEGER NOT NULL DEFAULT 1,
            supersedes TEXT,
            ingested_at TEXT NOT NULL
        );
        CREATE INDEX articles_url ON articles(url);
        CREATE INDEX articles_published ON articles(published);
        CREATE INDEX articles_source ON articles(source);
        CREATE VIRTUAL TABLE articles_fts USING fts5(
            id UNINDEXED, norms, stems, tokenize = 'unicode61 remove_diacritics 0'
        );
        CREATE TABLE duplicate_sets (
            id INTEGER PRIMARY KEY, kind TEXT NOT NULL, similarity REAL NOT NULL, articles TEXT NOT NULL
        );
        CREATE TABLE reuse_links (
            source TEXT NOT NULL, target TEXT NOT NULL, direction_known INTEGER NOT NULL,
            score REAL NOT NULL, data TEXT NOT NULL, PRIMARY KEY (source, target)
        );
        CREATE TABLE stories (
            id TEXT PRIMARY KEY, title TEXT NOT NULL, size INTEGER NOT NULL,
            first_date TEXT, last_date TEXT, outlets TEXT NOT NULL, data TEXT NOT NULL
        );
        CREATE TABLE story_articles (
            story_id TEXT NOT NULL, event_id TEXT, article_id TEXT NOT NULL,
            PRIMARY KEY (story_id, article_id)
        );
        CREATE INDEX story_articles_article ON story_articles(article_id);
        CREATE TABLE entities (
            id TEXT PRIMARY KEY, type TEXT NOT NULL, name TEXT NOT NULL, aliases TEXT NOT NULL,
            mention_count INTEGER NOT NULL
        );
        CREATE TABLE mentions (
            entity_id TEXT NOT NULL, article_id TEXT NOT NULL, start INTEGER NOT NULL,
            "end" INTEGER NOT NULL, text TEXT NOT NULL, title TEXT
        );
        CREATE INDEX mentions_entity ON mentions(entity_id);
        CREATE INDEX mentions_article ON mentions(article_id);
        CREATE TABLE quotes (
            article_id TEXT NOT NULL, speaker TEXT, speaker_text TEXT, text TEXT NOT NULL,
            start INTEGER NOT NULL, "end" INTEGER NOT NULL, direct INTEGER NOT NULL
        );
        CREATE INDEX quotes_article ON quotes(article_id);
        CREATE INDEX quotes_speaker ON quotes(speaker);
        CREATE TABLE dates (
            article_id TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
            value TEXT NOT NULL, anchor TEXT NOT NULL, warning TEXT
        );
        CREATE INDEX dates_article ON dates(article_id);
        """,
    ),
    (
        # Live monitoring (rasd.watch, rasd.incremental): the feed list with each feed's health,
        # the feed items already seen, when each article was processed, alerts sent, the lock
        # that keeps a second watcher off the store.
        2,
        """
        CREATE TABLE feeds (
            url TEXT PRIMARY KEY, name TEXT, added_at TEXT NOT NULL,
            etag TEXT, last_modified TEXT, next_poll REAL NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0, last_status INTEGER, last_polled TEXT,
            last_success TEXT, last_error TEXT, last_error_at TEXT,
            items_seen INTEGER NOT NULL DEFAULT 0, articles_added INTEGER NOT NULL DEFAULT 0
        );
        CREATE TABLE feed_items (
            feed TEXT NOT NULL, key TEXT NOT NULL, signature TEXT NOT NULL, url TEXT,
            article_id TEXT, etag TEXT, last_modified TEXT, first_seen REAL NOT NULL,
            checked REAL NOT NULL, error TEXT, PRIMARY KEY (feed, key)
        );
        CREATE TABLE processed (article_id TEXT PRIMARY KEY, processed_at REAL NOT NULL);
        CREATE TABLE alerts (
            key TEXT PRIMARY KEY, rule TEXT NOT NULL, kind TEXT NOT NULL, story_id TEXT,
            article_id TEXT, payload TEXT NOT NULL, created_at TEXT NOT NULL, delivered_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT
        );
        CREATE TABLE watch_lock (
            id INTEGER PRIMARY KEY CHECK (id = 1), pid INTEGER NOT NULL, host TEXT NOT NULL,
            token TEXT NOT NULL, started_at TEXT NOT NULL, heartbeat REAL NOT NULL
        );
        """,
    ),
    (
        # Reads of the web app (EXPLAIN QUERY PLAN on a 2,000-article SaudiNewsNet store): a story's
        # and an article's reuse links matched `target` by scanning every link with its passages;
        # the latest-versions filter, the latest articles and the story list scanned whole tables
        # (article texts, story blobs, every entity) to sort. Each is now an index search or walk.
        3,
        """
        CREATE INDEX reuse_links_target ON reuse_links(target);
        CREATE INDEX articles_supersedes ON articles(supersedes);
        CREATE INDEX articles_recent ON articles(published IS NULL, published DESC, id);
        CREATE INDEX stories_recent ON stories(
            COALESCE(last_date, first_date) IS NULL, COALESCE(last_date, first_date) DESC, size DESC, id
        );
        CREATE INDEX entities_ranked ON entities(mention_count DESC, name);
        """,
    ),
    (
        # The story page's aggregations read index entries only (31k-article SaudiNewsNet store, 20
        # biggest stories, SQLite CPU per page): a story's mentions by entity, outlet and title
        # 5.0 -> 3.7 ms; its strongest reuse links 3.8 -> 1.7 ms (the rows hold the passages, so
        # ranking them by score read a table page per link). About 2 s to build on that store.
        4,
        """
        CREATE INDEX mentions_article_entity ON mentions(article_id, entity_id, title);
        CREATE INDEX reuse_links_source_ranked ON reuse_links(source, score, target, direction_known);
        CREATE INDEX reuse_links_target_ranked ON reuse_links(target, score, source, direction_known);
        """,
    ),
    (
        # What derived data was built with: the search index's stems must come from the stemmer
        # the queries use (textnorm.STEM_VERSION), or a query's stem finds no stored one.
        5,
        """
        CREATE TABLE store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
    ),
)


@dataclass(frozen=True, slots=True)
class UpsertResult:
    added: list[str]
    unchanged: list[str]
    #: (new id, id it supersedes): a changed text under a URL already stored.
    versions: list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: str
    title: str | None
    source: str | None
    published: str | None
    #: (text, highlighted) pieces of a window of the original text around the first hit.
    snippet: list[tuple[str, bool]]


class Store:
    """A rasd database file. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            self.db.row_factory = sqlite3.Row
            if self.path != ":memory:":
                self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            self._refresh_search_index()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{self.path}: cannot open as a rasd store ({exc})") from exc

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # -- schema -------------------------------------------------------------------------------

    def _migrate(self) -> None:
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT)"
        )
        done = {row[0] for row in self.db.execute("SELECT version FROM schema_migrations")}
        for version, sql in MIGRATIONS:
            if version in done:
                continue
            with self.transaction():
                for statement in _statements(sql):
                    self.db.execute(statement)
                self.db.execute("INSERT INTO schema_migrations VALUES (?, ?)", (version, now_iso()))

    def _refresh_search_index(self) -> None:
        """Rebuild the search index's stems when they were made by another stemmer version."""
        if self._search_index_is_current():
            return
        with self.transaction():
            # Asked again under the write lock: another process may have rebuilt it meanwhile.
            if self._search_index_is_current():
                return
            self.db.execute("DELETE FROM articles_fts")
            for article in self.articles(latest_only=False):
                self._index_for_search(article)
            self.db.execute(
                "INSERT OR REPLACE INTO store_meta VALUES ('stem_version', ?)", (str(textnorm.STEM_VERSION),)
            )

    def _search_index_is_current(self) -> bool:
        row = self.db.execute("SELECT value FROM store_meta WHERE key = 'stem_version'").fetchone()
        return row is not None and row[0] == str(textnorm.STEM_VERSION)

    def schema_version(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()[0])

    def transaction(self) -> _Transaction:
        return _Transaction(self.db)

    # -- articles -----------------------------------------------------------------------------

    def upsert_articles(self, articles: Sequence[Article]) -> UpsertResult:
        """Store a batch in one transaction; stored articles are never changed or lost."""
        added: list[str] = []
        unchanged: list[str] = []
        versions: list[tuple[str, str]] = []
        with self.transaction():
            for article in articles:
                if self.db.execute("SELECT 1 FROM articles WHERE id = ?", (article.id,)).fetchone():
                    unchanged.append(article.id)
                    continue
                version, supersedes = 1, None
                if article.url:
                    prev = self.db.execute(
                        "SELECT id, version FROM articles WHERE url = ? ORDER BY version DESC LIMIT 1",
                        (article.url,),
                    ).fetchone()
                    if prev is not None:
                        version, supersedes = prev["version"] + 1, prev["id"]
                        versions.append((article.id, prev["id"]))
                self.db.execute(
                    "INSERT INTO articles (id, url, source, title, published, path, text, blocks, credit,"
                    " encoding, version, supersedes, ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        article.id, article.url, article.source, article.title, article.published,
                        article.path, article.text, _blocks_json(article.blocks), article.credit,
                        article.encoding, version, supersedes, now_iso(),
                    ),
                )
                self._index_for_search(article)
                added.append(article.id)
        return UpsertResult(added, unchanged, versions)

    def _index_for_search(self, article: Article) -> None:
        norms, stems = _index_terms(article)
        self.db.execute("INSERT INTO articles_fts (id, norms, stems) VALUES (?, ?, ?)", (article.id, norms, stems))

    def has_article(self, article_id: str) -> bool:
        return self.db.execute("SELECT 1 FROM articles WHERE id = ?", (article_id,)).fetchone() is not None

    def article(self, article_id: str) -> Article | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return _article(row) if row else None

    def article_row(self, article_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM articles WHERE id = ?", (article_id,)).fetchone()
        return dict(row) if row else None

    def articles(self, latest_only: bool = True) -> Iterator[Article]:
        """Stored articles in publication order (undated last); older versions skipped by default."""
        sql = "SELECT * FROM articles"
        if latest_only:
            sql += " WHERE id NOT IN (SELECT supersedes FROM articles WHERE supersedes IS NOT NULL)"
        sql += " ORDER BY published IS NULL, published, id"
        for row in self.db.execute(sql):
            yield _article(row)

    def articles_by_id(self, ids: Iterable[str]) -> list[Article]:
        """The stored articles among ``ids`` (any version), in no particular order."""
        wanted = list(dict.fromkeys(ids))
        out: list[Article] = []
        # SQLite allows 32,766 host parameters; 500 a statement keeps each one short.
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.extend(_article(r) for r in self.db.execute(f"SELECT * FROM articles WHERE id IN ({marks})", chunk))
        return out

    def count_articles(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM articles").fetchone()[0])

    def stats(self) -> dict[str, Any]:
        one = self.db.execute
        return {
            "articles": self.count_articles(),
            "versions": int(one("SELECT COUNT(*) FROM articles WHERE supersedes IS NOT NULL").fetchone()[0]),
            "outlets": int(one("SELECT COUNT(DISTINCT source) FROM articles").fetchone()[0]),
            "first_published": one("SELECT MIN(published) FROM articles").fetchone()[0],
            "last_published": one("SELECT MAX(published) FROM articles").fetchone()[0],
            "duplicate_sets": int(one("SELECT COUNT(*) FROM duplicate_sets").fetchone()[0]),
            "reuse_links": int(one("SELECT COUNT(*) FROM reuse_links").fetchone()[0]),
            "stories": int(one("SELECT COUNT(*) FROM stories").fetchone()[0]),
            "entities": int(one("SELECT COUNT(*) FROM entities").fetchone()[0]),
            "quotes": int(one("SELECT COUNT(*) FROM quotes").fetchone()[0]),
            "dates": int(one("SELECT COUNT(*) FROM dates").fetchone()[0]),
            "schema_version": self.schema_version(),
        }

    # -- search -------------------------------------------------------------------------------

    def search(self, query: str, limit: int = 20, offset: int = 0) -> list[SearchHit]:
        """Articles matching every word of ``query`` (stemmed, so spelling variants and inflections
        match); "quoted words" must occur as a phrase. Any string is safe: it never reaches FTS5
        syntax unquoted."""
        expression = fts_expression(query)
        if not expression:
            return []
        rows = self.db.execute(
            "SELECT a.id, a.title, a.source, a.published, a.text, a.blocks FROM articles_fts f"
            " JOIN articles a ON a.id = f.id WHERE articles_fts MATCH ? ORDER BY f.rank LIMIT ? OFFSET ?",
            (expression, max(1, min(limit, 200)), max(0, offset)),
        ).fetchall()
        wanted = {textnorm.stem(t.norm) for t in textnorm.tokens(query)}
        return [
            SearchHit(r["id"], r["title"], r["source"], r["published"], _snippet(r["text"], wanted))
            for r in rows
        ]

    def search_rows(self, query: str, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        """The articles ``search`` finds, best first, as rows (id, title, source, published, text)
        without snippets: for a caller that cuts its own (the web app's search page)."""
        expression = fts_expression(query)
        if not expression:
            return []
        return self.query(
            "SELECT a.id, a.title, a.source, a.published, a.text FROM articles_fts f"
            " JOIN articles a ON a.id = f.id WHERE articles_fts MATCH ? ORDER BY f.rank LIMIT ? OFFSET ?",
            (expression, max(1, min(limit, 200)), max(0, offset)),
        )

    # -- analysis -----------------------------------------------------------------------------

    def save_analysis(self, report: dict[str, Any]) -> None:
        """Replace the analysis tables with ``report`` (the JSON report's shape), atomically."""
        with self.transaction():
            for table in ("duplicate_sets", "reuse_links", "stories", "story_articles", "entities",
                          "mentions", "quotes", "dates"):
                self.db.execute(f"DELETE FROM {table}")
            for dup in report.get("duplicates", []):
                self.db.execute(
                    "INSERT INTO duplicate_sets (kind, similarity, articles) VALUES (?, ?, ?)",
                    (dup["kind"], dup["similarity"], json.dumps(dup["articles"])),
                )
            for link in report.get("reuse", []):
                self.db.execute(
                    "INSERT OR REPLACE INTO reuse_links VALUES (?, ?, ?, ?, ?)",
                    (link["source"], link["target"], int(link["direction_known"]), link["score"],
                     _dumps(link)),
                )
            published = dict(self.db.execute("SELECT id, published FROM articles").fetchall())
            sources = dict(self.db.execute("SELECT id, source FROM articles").fetchall())
            for story in report.get("stories", []):
                dates = sorted(published[a] for a in story["articles"] if published.get(a))
                outlets = sorted({sources[a] for a in story["articles"] if sources.get(a)})
                self.db.execute(
                    "INSERT INTO stories VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (story["id"], story["title"], len(story["articles"]), dates[0] if dates else None,
                     dates[-1] if dates else None, _dumps(outlets), _dumps(story)),
                )
                event_of = {a: e["id"] for e in story.get("events", []) for a in e["articles"]}
                self.db.executemany(
                    "INSERT OR IGNORE INTO story_articles VALUES (?, ?, ?)",
                    [(story["id"], event_of.get(a), a) for a in story["articles"]],
                )
            for entity in report.get("entities", []):
                self.db.execute(
                    "INSERT INTO entities VALUES (?, ?, ?, ?, ?)",
                    (entity["id"], entity["type"], entity["name"], _dumps(entity["aliases"]),
                     len(entity["mentions"])),
                )
                self.db.executemany(
                    "INSERT INTO mentions VALUES (?, ?, ?, ?, ?, ?)",
                    [(entity["id"], m["article"], m["span"][0], m["span"][1], m["text"], m.get("title"))
                     for m in entity["mentions"]],
                )
            self.db.executemany(
                "INSERT INTO quotes VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(q["article"], q["speaker"], q["speaker_text"], q["text"], q["span"][0], q["span"][1],
                  int(q["direct"])) for q in report.get("quotes", [])],
            )
            self.db.executemany(
                "INSERT INTO dates VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(d["article"], d["text"], d["span"][0], d["span"][1], d["value"], d["anchor"],
                  d.get("warning")) for d in report.get("dates", [])],
            )

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Read-only helper for the app and the CLI."""
        return [dict(r) for r in self.db.execute(sql, params)]


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error: a batch is stored whole or not at all."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _statements(sql: str) -> Iterable[str]:
    return (s.strip() for s in sql.split(";") if s.strip())


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _blocks_json(blocks: Sequence[Block]) -> str:
    return json.dumps([[b.start, b.end, b.kind] for b in blocks])


def _article(row: sqlite3.Row) -> Article:
    return Article(
        id=row["id"], text=row["text"], title=row["title"], source=row["source"], url=row["url"],
        published=row["published"], path=row["path"],
        blocks=tuple(Block(s, e, k) for s, e, k in json.loads(row["blocks"])),
        credit=row["credit"], encoding=row["encoding"],
    )


def _index_terms(article: Article) -> tuple[str, str]:
    norms: list[str] = []
    for block in article.blocks:
        if block.kind in ("title", "body"):
            norms.extend(textnorm.words(article.text[block.start : block.end]))
    if article.title and not any(b.kind == "title" for b in article.blocks):
        norms.extend(textnorm.words(article.title))
    return " ".join(norms), " ".join(textnorm.stem(n) for n in norms)


_PHRASE = re.compile(r'"([^"]*)"')


def fts_expression(query: str) -> str:
    """An FTS5 MATCH expression built only from quoted stems: user syntax is never passed through.

    Words are ANDed; text in double quotes (any quote marks) is a phrase.
    """
    normalized = textnorm.normalize(query)
    parts: list[str] = []
    for i, chunk in enumerate(_PHRASE.split(normalized)):
        stems = [textnorm.stem(t.norm) for t in textnorm.tokens(chunk)]
        stems = [s.replace('"', "") for s in stems if s]
        if not stems:
            continue
        if i % 2 == 1:
            parts.append('stems : "' + " ".join(stems) + '"')
        else:
            parts.extend(f'stems : "{s}"' for s in stems)
    return " AND ".join(parts)


def _snippet(text: str, wanted: set[str], width: int = 220) -> list[tuple[str, bool]]:
    # Only the window around the first paragraph that holds a hit is tokenised, not the article.
    hits: list[textnorm.Token] = []
    for m in re.finditer(r"[^\n]+", text):
        hits = [t for t in textnorm.tokens(text, m.start(), m.end()) if textnorm.stem(t.norm) in wanted]
        if hits:
            hits = [t for t in textnorm.tokens(text, max(0, hits[0].start - width), hits[0].start + width)
                    if textnorm.stem(t.norm) in wanted]
            break
    if not hits:
        return [(text[:width], False)]
    start = max(0, hits[0].start - width // 3)
    end = min(len(text), start + width)
    while start > 0 and not text[start - 1].isspace() and hits[0].start - start < width // 2:
        start -= 1
    pieces: list[tuple[str, bool]] = []
    cursor = start
    for t in hits:
        if t.start < cursor or t.end > end:
            continue
        pieces.append((text[cursor : t.start], False))
        pieces.append((text[t.start : t.end], True))
        cursor = t.end
    pieces.append((text[cursor:end], False))
    return [(p, h) for p, h in pieces if p]
