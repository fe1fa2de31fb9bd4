"""The web app, in-process, over a store the real pipeline filled from the bundled sample corpus."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import threading
import warnings
from collections.abc import Iterator
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import StarletteDeprecationWarning

from rasd import pipeline
from rasd.ingest import discover
from rasd.models import Article, Block
from rasd.report import build_report
from rasd.settings import Settings, load_settings
from rasd.store import Store
from rasd.web import WebSettings, api, create_app, render, views
from rasd.web.views import ViewSettings

with warnings.catch_warnings():
    # starlette asks for the httpx2 fork; the httpx it falls back to works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

SAMPLE = Path(__file__).resolve().parent.parent / "rasd" / "data" / "sample"
TOKEN = "test-token-42"


def build_sample_store(path: Path, settings: Settings) -> Path:
    """The sample corpus through rasd.ingest + the pipeline, as ``rasd analyze`` would."""
    inputs = [str(SAMPLE / d) for d in ("articles", "pages", "feeds", "jsonl")]
    sources, errors = discover(inputs, str(SAMPLE / "manifest.csv"))
    assert not errors
    with Store(path) as store:
        summary = pipeline.ingest(sources, store, settings)
        assert not summary.errors and summary.added == 45
        analysis = pipeline.analyze(list(store.articles()), settings)
        store.save_analysis(build_report(analysis, settings.report))
    return path


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Path:
    return build_sample_store(tmp_path_factory.mktemp("web") / "sample.db", settings)


@pytest.fixture(scope="module")
def client(sample_db: Path, settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(sample_db, settings, TOKEN)) as c:
        yield c


@pytest.fixture(scope="module")
def store(sample_db: Path) -> Iterator[Store]:
    with Store(sample_db) as s:
        yield s


def ids_by_path(store: Store) -> dict[str, str]:
    return {Path(r["path"]).name: r["id"] for r in store.query("SELECT id, path FROM articles") if r["path"]}


class Runs(HTMLParser):
    """Text of an HTML page with, for each piece, the classes of the elements around it."""

    VOID = frozenset({"br", "img", "input", "meta", "link", "hr", "source", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, set[str]]] = []
        self.pieces: list[tuple[str, set[str]]] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append((tag, set((dict(attrs).get("class") or "").split())))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            if self.stack.pop()[0] == tag:
                break

    def handle_data(self, data: str) -> None:
        classes = set().union(*(c for _, c in self.stack)) if self.stack else set()
        self.pieces.append((data, classes))

    def runs(self, cls: str) -> list[str]:
        """Consecutive text inside elements of class ``cls``, joined."""
        out: list[str] = []
        current: list[str] = []
        for data, classes in self.pieces:
            if cls in classes:
                current.append(data)
            elif current:
                out.append("".join(current))
                current = []
        if current:
            out.append("".join(current))
        return out


def parse(html: str) -> Runs:
    parser = Runs()
    parser.feed(html)
    return parser


def assert_page(response: Any) -> str:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    html = response.text
    assert re.search(r'<html dir="rtl" lang="ar">', html)
    return html


def assert_twin(response: Any) -> Any:
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


# -- every page and its JSON twin ----------------------------------------------------------------


def test_every_page_and_its_json_twin(client: TestClient, store: Store) -> None:
    stats = store.stats()
    assert stats["articles"] == 45
    home = assert_twin(client.get("/stories.json"))
    assert_page(client.get("/"))
    assert home["total"] == stats["stories"]
    for story in store.query("SELECT id FROM stories"):
        assert_page(client.get(f"/stories/{story['id']}"))
        assert assert_twin(client.get(f"/stories/{story['id']}.json"))["id"] == story["id"]
    for entity in store.query("SELECT id FROM entities ORDER BY mention_count DESC LIMIT 15"):
        assert_page(client.get(f"/entities/{entity['id']}"))
        assert assert_twin(client.get(f"/entities/{entity['id']}.json"))["id"] == entity["id"]
    for article in store.query("SELECT id, title FROM articles"):
        html = assert_page(client.get(f"/articles/{article['id']}"))
        twin = assert_twin(client.get(f"/articles/{article['id']}.json"))
        assert twin["id"] == article["id"]
        assert twin["text"] == store.article_row(article["id"])["text"]  # type: ignore[index]
        assert render.strip_bidi(article["title"]) in "".join(d for d, _ in parse(html).pieces)
    for link in store.query("SELECT source, target FROM reuse_links"):
        assert_page(client.get(f"/reuse/{link['source']}/{link['target']}"))
        assert assert_twin(client.get(f"/reuse/{link['source']}/{link['target']}.json"))["target"] == link["target"]
    assert_page(client.get("/entities"))
    assert len(assert_twin(client.get("/entities.json"))["entities"]) == min(500, stats["entities"])
    assert_page(client.get("/search?q=موسكو"))
    assert assert_twin(client.get("/search.json?q=موسكو"))["hits"]
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200


def test_stories_are_latest_first_and_paged(sample_db: Path, settings: Settings, store: Store) -> None:
    total = store.stats()["stories"]
    size = 4
    assert total > size
    web = WebSettings(views=ViewSettings(page_size=size))
    with TestClient(create_app(sample_db, settings, None, web)) as small:
        pages = [assert_twin(small.get(f"/stories.json?page={n}")) for n in range(1, -(-total // size) + 1)]
        html = assert_page(small.get("/?page=2"))
        past_end = assert_twin(small.get(f"/stories.json?page={len(pages) + 1}"))
    assert all(p["pages"] == len(pages) and p["total"] == total for p in pages)
    shown = [s for p in pages for s in p["stories"]]
    assert [len(p["stories"]) for p in pages[:-1]] == [size] * (len(pages) - 1)
    assert len({s["id"] for s in shown}) == len(shown) == total
    assert past_end["stories"] == []
    ends = [s["last_date"] or s["first_date"] for s in shown]
    dated = [e for e in ends if e is not None]
    # Latest first; stories without any date come after the dated ones.
    assert dated and ends[: len(dated)] == sorted(dated, reverse=True)
    for s in shown:
        row = store.query("SELECT size, outlets FROM stories WHERE id = ?", [s["id"]])[0]
        assert s["size"] == row["size"] and s["outlets"] == json.loads(row["outlets"])
    assert 'href="/?page=1"' in html and (len(pages) == 2 or 'href="/?page=3"' in html)
    for s in pages[1]["stories"]:
        assert f'href="/stories/{s["id"]}"' in html


def test_story_filters(client: TestClient, store: Store) -> None:
    rows = store.query("SELECT id, first_date, last_date, outlets FROM stories")
    outlet = "بوابة الشروق الجديد"
    expected = {r["id"] for r in rows if outlet in json.loads(r["outlets"])}
    got = assert_twin(client.get("/stories.json", params={"outlet": outlet}))
    assert expected and {s["id"] for s in got["stories"]} == expected
    html = assert_page(client.get("/", params={"outlet": outlet}))
    assert all(f"/stories/{sid}" in html for sid in expected)

    day_from, day_to = "2025-06-20", "2025-06-22"
    expected = {
        r["id"] for r in rows if r["first_date"] and r["last_date"]
        and r["last_date"][:10] >= day_from and r["first_date"][:10] <= day_to
    }
    got = assert_twin(client.get("/stories.json", params={"from": day_from, "to": day_to}))
    assert {s["id"] for s in got["stories"]} == expected
    assert 0 < len(expected) < len(rows)


def test_story_entity_filter(client: TestClient, store: Store) -> None:
    top = store.query("SELECT id, name FROM entities WHERE type = 'PER' ORDER BY mention_count DESC LIMIT 1")
    assert top, "the pipeline found no entities in the sample corpus"
    entity = top[0]["id"]
    expected = {r["story_id"] for r in store.query(
        "SELECT DISTINCT sa.story_id FROM story_articles sa JOIN mentions m ON m.article_id = sa.article_id"
        " WHERE m.entity_id = ?", [entity])}
    got = assert_twin(client.get("/stories.json", params={"entity": entity}))
    assert {s["id"] for s in got["stories"]} == expected
    assert got["filters"]["entity_name"] == top[0]["name"]


def test_story_page_shows_articles_summary_events_and_reuse(client: TestClient, store: Store) -> None:
    ids = ids_by_path(store)
    wire, copy = ids["19-wasah-earthquake.txt"], ids["20-alwatan-earthquake-wire.txt"]
    story_id = store.query("SELECT story_id FROM story_articles WHERE article_id = ?", [copy])[0]["story_id"]
    view = assert_twin(client.get(f"/stories/{story_id}.json"))
    html = assert_page(client.get(f"/stories/{story_id}"))
    members = {r["article_id"] for r in store.query(_MEMBERS, [story_id])}
    assert {a["id"] for a in view["articles"]} == members
    for aid in members:
        assert f'href="/articles/{aid}"' in html
    outlets = {a["source"] for a in view["articles"]}
    assert {g["outlet"] for g in view["by_outlet"]} == outlets
    assert sum(len(g["articles"]) for g in view["by_outlet"]) == len(members)
    for sentence in view["summary"]:
        assert sentence["article"] in members
        assert render.strip_bidi(sentence["text"]) in html
    if view["events"]:
        assert '<svg class="chart"' in html
        assert html.count('class="dot"') == sum(1 for a in view["articles"] if a["published"])

    # The wire story and its word-for-word copy: the reuse map and the aligned passages.
    link = next((r for r in view["reuse"] if {r["source"], r["target"]} == {wire, copy}), None)
    assert link is not None, "the syndicated copy must be linked to its wire story"
    assert '<svg class="graph"' in html
    page = parse(html)
    copied = page.runs("copied")
    assert copied, "copied words are highlighted"
    passage = link["passages"][0]
    expected = [t for t, hit in render.copied_words(passage["target_text"], passage["source_text"]) if hit]
    assert expected and all(any(w in run for run in copied) for w in expected[:20])

    # The pair's own page: every stored passage side by side, the same words marked.
    pair = assert_twin(client.get(f"/reuse/{link['source']}/{link['target']}.json"))
    assert pair["passages"] == link["passages"] and {s["id"] for s in pair["stories"]} == {story_id}
    pair_html = assert_page(client.get(f"/reuse/{link['source']}/{link['target']}"))
    assert all(any(w in run for run in parse(pair_html).runs("copied")) for w in expected[:20])
    assert f'href="/articles/{wire}"' in pair_html and f'href="/articles/{copy}"' in pair_html


def test_story_page_shows_the_strongest_links_and_lists_the_rest(client: TestClient, store: Store) -> None:
    story_id = store.query(
        "SELECT sa.story_id, COUNT(*) AS n FROM reuse_links r JOIN story_articles sa ON sa.article_id = r.target"
        " GROUP BY sa.story_id ORDER BY n DESC LIMIT 1")[0]["story_id"]
    twin = assert_twin(client.get(f"/stories/{story_id}.json"))
    assert len(twin["reuse"]) >= 2 and all("passages" in link for link in twin["reuse"])
    quoted = store.query(
        "SELECT sa.story_id FROM quotes q JOIN story_articles sa ON sa.article_id = q.article_id"
        " GROUP BY sa.story_id ORDER BY COUNT(*) DESC LIMIT 1")[0]["story_id"]
    quotes = assert_twin(client.get(f"/stories/{quoted}.json"))["quotes"]
    assert sum(len(g["quotes"]) for g in quotes) >= 3
    few = ViewSettings(passage_links=1, map_links=1, quote_speakers=1, quotes_per_speaker=1)
    with TestClient(create_app(store.path, load_settings(), web=WebSettings(views=few))) as c:
        html = assert_page(c.get(f"/stories/{story_id}"))
        quotes_html = assert_page(c.get(f"/stories/{quoted}"))
    assert html.count('<details class="link"') == 1
    for link in twin["reuse"][1:]:
        assert f'href="/reuse/{link["source"]}/{link["target"]}"' in html
    assert html.count('<line class="edge') == 1
    # One quote of the most quoted speaker; the rest are counted and pointed to.
    assert quotes_html.count("<q>") == 1
    top = quotes[0]
    assert render.strip_bidi(top["quotes"][0]["text"][:30]) in unescape(quotes_html)  # type: ignore[operator]
    assert f"<small>{len(top['quotes'])}</small>" in quotes_html


def test_story_page_caps_long_lists_and_counts_the_rest(store: Store) -> None:
    """The page reads only the links it uses and caps the timeline and outlet lists; every cap
    says how many more there are and points to the twin, which keeps everything."""
    big = store.query(
        "SELECT sa.story_id, COUNT(*) AS n FROM reuse_links r JOIN story_articles sa ON sa.article_id = r.target"
        " GROUP BY sa.story_id ORDER BY n DESC LIMIT 1")[0]["story_id"]
    full = views.story(store, big, ViewSettings(), twin=True)
    assert full is not None and full["reuse_count"] == len(full["reuse"]) >= 2
    # No outlet has two articles in one sample story: a cap of 0 makes every outlet list capped.
    few = ViewSettings(passage_links=1, listed_links=0, map_links=1, timeline_entries=1, outlet_articles=0)
    page = views.story(store, big, few)
    assert page is not None and page["reuse_count"] == full["reuse_count"]
    pair = [(r["source"], r["target"]) for r in page["reuse"]]
    assert pair == [(r["source"], r["target"]) for r in full["reuse"][:1]]
    assert page["_more_links"] == page["_unmapped"] == full["reuse_count"] - 1
    assert page["timeline"] == full["timeline"] and page["_timeline"] == full["timeline"][:1]
    assert page["_more_timeline"] == len(full["timeline"]) - 1 >= 1
    for group, capped in zip(full["by_outlet"], page["_by_outlet"], strict=True):
        assert capped["articles"] == [] and capped["more"] == len(group["articles"]) >= 1
    with TestClient(create_app(store.path, load_settings(), web=WebSettings(views=few))) as c:
        html = assert_page(c.get(f"/stories/{big}"))
    assert f"و{full['reuse_count'] - 1} روابط" in html
    assert f"و{page['_more_timeline']} محطات أخرى" in html
    assert html.count("مقالات أخرى على الخط الزمني") == len(page["_by_outlet"]) >= 2
    for group in page["_by_outlet"]:
        assert f"و{group['more']} مقالات أخرى" in html
    assert html.count(f'href="/stories/{big}.json"') >= 2


_MEMBERS = "SELECT article_id FROM story_articles WHERE story_id = ?"


def test_framing_table_and_quotes(client: TestClient, store: Store) -> None:
    ids = ids_by_path(store)
    haftar_story = store.query(
        "SELECT story_id FROM story_articles WHERE article_id = ?", [ids["03-afaq-haftar-shoigu-meeting.txt"]]
    )[0]["story_id"]
    view = assert_twin(client.get(f"/stories/{haftar_story}.json"))
    html = assert_page(client.get(f"/stories/{haftar_story}"))
    titled = store.query(
        "SELECT e.id, a.source, m.title FROM mentions m JOIN entities e ON e.id = m.entity_id"
        " JOIN articles a ON a.id = m.article_id WHERE e.type = 'PER' AND m.title IS NOT NULL"
        f" AND m.article_id IN ({_MEMBERS})", [haftar_story])
    shown = {p["id"]: p for p in view["framing"]}
    for row in titled:
        if row["id"] in shown:
            titles = [t["title"] for t in shown[row["id"]]["outlets"][row["source"]]]
            assert row["title"] in titles
            assert render.strip_bidi(row["title"]) in html
    quotes = store.query(f"SELECT text, speaker FROM quotes WHERE article_id IN ({_MEMBERS})", [haftar_story])
    assert sum(len(g["quotes"]) for g in view["quotes"]) == len(quotes)
    for group in view["quotes"]:
        assert all(q["text"] for q in group["quotes"])
        speakers = {q["speaker"] for q in quotes if q["text"] in {x["text"] for x in group["quotes"]}}
        assert group["speaker"] in speakers or group["speaker"] is None


def test_entity_page(client: TestClient, store: Store) -> None:
    top = store.query("SELECT * FROM entities ORDER BY mention_count DESC LIMIT 1")
    assert top, "the pipeline found no entities in the sample corpus"
    entity = top[0]
    view = assert_twin(client.get(f"/entities/{entity['id']}.json"))
    html = assert_page(client.get(f"/entities/{entity['id']}"))
    assert view["aliases"] == json.loads(entity["aliases"])
    assert sum(d["count"] for d in view["mentions_by_day"]) == store.query(
        "SELECT COUNT(*) AS n FROM mentions m JOIN articles a ON a.id = m.article_id"
        " WHERE m.entity_id = ? AND a.published IS NOT NULL", [entity["id"]])[0]["n"]
    assert '<svg class="bars"' in html
    assert html.count("<rect ") == len(view["mentions_by_day"])
    assert render.strip_bidi(entity["name"]) in html
    for story in view["stories"]:
        assert f'href="/stories/{story["id"]}"' in html


def test_article_page_highlights_and_provenance(client: TestClient, store: Store) -> None:
    ids = ids_by_path(store)
    copy = ids["20-alwatan-earthquake-wire.txt"]
    row = store.article_row(copy)
    assert row is not None
    view = assert_twin(client.get(f"/articles/{copy}.json"))
    html = assert_page(client.get(f"/articles/{copy}"))
    page = parse(html)
    # Blocks outside the analysed text (the repeated title, the credit line) are shown apart.
    kinds = {b["kind"] for b in view["blocks"]}
    assert {"title_repeat", "credit"} <= kinds
    assert "خارج المتن" in html
    for block in view["apart"]:
        assert block["text"].strip() in html
    assert f'href="{row["url"]}"' in html and row["url"].startswith("https://")
    assert row["path"] in html
    for kind, rows in (("date", view["dates"]), ("quote", view["quotes"]), ("mention", view["mentions"])):
        runs = page.runs(kind)
        for item in rows:
            span_text = row["text"][item["span"][0]:item["span"][1]]
            if not any(row["text"][b["span"][0]:b["span"][1]] and b["kind"] in ("title", "body")
                       and b["span"][0] <= item["span"][0] < b["span"][1] for b in view["blocks"]):
                continue
            first_line = span_text.split("\n")[0].strip()
            assert any(first_line in r for r in runs), (kind, span_text)
    reused = [r for r in view["reuse"] if r["other"] == ids["19-wasah-earthquake.txt"]]
    assert reused and reused[0]["role"] == "target"
    assert page.runs("reuse")


def test_highlight_cuts_overlapping_marks() -> None:
    text = "قال المشير خليفة حفتر يوم الاثنين إن التعاون مستمر"
    mention = (text.index("خليفة"), text.index("حفتر") + 4)
    date = (text.index("يوم"), text.index("الاثنين") + 7)
    quote = (text.index("المشير"), len(text))
    marks = [render.Mark(*mention, "mention", "/entities/e1"), render.Mark(*date, "date", note="2025-06-16"),
             render.Mark(*quote, "quote")]
    pieces = render.highlight(text, 0, len(text), marks)
    assert "".join(p.text for p in pieces) == text
    by_text = {p.text: p for p in pieces}
    assert by_text["خليفة حفتر"].kinds == ("mention", "quote")
    assert by_text["خليفة حفتر"].href == "/entities/e1"
    assert by_text["يوم الاثنين"].kinds == ("date", "quote") and by_text["يوم الاثنين"].notes == ("2025-06-16",)
    assert by_text["قال "].kinds == ()


def test_copied_words_match_across_spelling_variants() -> None:
    wire = "وصل الوفد الليبي إلى موسكو في زيارة رسمية للمشاركة"
    copy = "وصل الوفد الليبى الى موسكو فى زيارة سريعة"
    pieces = render.copied_words(copy, wire)
    marked = [t for t, hit in pieces if hit]
    assert marked == ["وصل", "الوفد", "الليبى", "الى", "موسكو", "فى", "زيارة"]
    assert "".join(t for t, _ in pieces) == copy
    assert render.copied_share(pieces) == pytest.approx(7 / 8)


def test_copied_pair_marks_runs_of_copied_words_both_ways() -> None:
    wire = "وصل الوفد الليبي إلى موسكو في زيارة رسمية للمشاركة"
    copy = "وصل الوفد الليبى الى موسكو فى زيارة سريعة"
    pair = render.copied_pair(wire, copy)
    assert "".join(t for t, _ in pair.source) == wire and "".join(t for t, _ in pair.target) == copy
    # The seven copied words of the copy are one run; the wire's two uncopied words stay plain.
    assert [t for t, hit in pair.target if hit] == ["وصل الوفد الليبى الى موسكو فى زيارة"]
    assert [t for t, hit in pair.source if not hit] == [" رسمية للمشاركة"]
    assert pair.share == pytest.approx(render.copied_share(render.copied_words(copy, wire)))


def test_story_pages_are_cached_until_the_store_changes(sample_db: Path, settings: Settings, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    with sqlite3.connect(sample_db) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    with Store(db) as s:
        story_id = s.query("SELECT id FROM stories ORDER BY size DESC LIMIT 1")[0]["id"]
    with TestClient(create_app(db, settings)) as c:
        page, twin = c.get(f"/stories/{story_id}").text, c.get(f"/stories/{story_id}.json").json()
        assert c.get(f"/stories/{story_id}").text == page and c.get(f"/stories/{story_id}.json").json() == twin
        with Store(db) as s:  # another connection commits: the next view must show it
            s.db.execute("UPDATE stories SET title = 'عنوان جديد للقصة' WHERE id = ?", (story_id,))
        assert "عنوان جديد للقصة" in c.get(f"/stories/{story_id}").text
        assert c.get(f"/stories/{story_id}.json").json()["title"] == "عنوان جديد للقصة"
    with TestClient(create_app(db, settings, web=WebSettings(page_cache=0))) as c:
        assert "عنوان جديد للقصة" in c.get(f"/stories/{story_id}").text


def test_search_page_snippets_are_the_stores(client: TestClient, store: Store) -> None:
    # The page cuts its own snippets (windowed, cheaper); they must be exactly Store.search's.
    for query in ("موسكو", "وزير الخارجية", "فى ليبيا", '"التعاون العسكري"', "الزلزال"):
        expected = [(h.id, [{"text": t, "hit": hit} for t, hit in h.snippet]) for h in store.search(query, 20)]
        hits = assert_twin(client.get("/search.json", params={"q": query}))["hits"]
        assert expected and [(h["id"], h["snippet"]) for h in hits] == expected


def test_search_matches_spelling_variants(client: TestClient) -> None:
    egyptian = assert_twin(client.get("/search.json", params={"q": "فى موسكو"}))
    standard = assert_twin(client.get("/search.json", params={"q": "في موسكو"}))
    assert standard["hits"] and {h["id"] for h in egyptian["hits"]} == {h["id"] for h in standard["hits"]}
    taa = assert_twin(client.get("/search.json", params={"q": "الحكومة"}))
    haa = assert_twin(client.get("/search.json", params={"q": "الحكومه"}))
    assert taa["hits"] and {h["id"] for h in taa["hits"]} == {h["id"] for h in haa["hits"]}
    html = assert_page(client.get("/search", params={"q": "فى موسكو"}))
    marks = re.findall(r"<mark>([^<]*)</mark>", html)
    assert marks and all("موسكو" in m or m in ("في", "فى") for m in marks)
    empty = assert_page(client.get("/search", params={"q": "كلمةغيرموجودةأبدا"}))
    assert "لا نتائج" in empty


# -- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/stories/nope", "/entities/nope", "/articles/nope", "/reuse/nope/nope",
                                  "/no/such/page"])
def test_not_found_has_one_shape(client: TestClient, path: str) -> None:
    html = client.get(path)
    assert html.status_code == 404
    assert '<html dir="rtl" lang="ar">' in html.text and "404" in html.text
    if path != "/no/such/page":
        body = client.get(path + ".json")
        assert body.status_code == 404
        assert set(body.json()) == {"error"} and body.json()["error"]["status"] == 404
        assert body.json()["error"]["message"] in html.text


@pytest.mark.parametrize("query", ["from=2025-13", "to=yesterday", "page=0", "page=x"])
def test_bad_parameters_are_400_in_the_same_shape(client: TestClient, query: str) -> None:
    body = client.get(f"/stories.json?{query}")
    assert body.status_code == 400 and body.json()["error"]["status"] == 400
    html = client.get(f"/?{query}")
    assert html.status_code == 400 and '<html dir="rtl" lang="ar">' in html.text


def test_pages_are_read_only(client: TestClient) -> None:
    for method in ("post", "put", "delete", "patch"):
        response = getattr(client, method)("/")
        assert response.status_code == 405
    assert client.get("/api/articles").status_code == 405
    assert client.delete("/stories/x.json").json()["error"]["status"] == 405


# -- the ingest API ------------------------------------------------------------------------------


def _records() -> list[dict[str, str]]:
    return [
        {"id": "x1", "title": "افتتاح جسر جديد فوق وادي المنارة",
         "text": "افتتاح جسر جديد فوق وادي المنارة\n\nافتتح وزير الأشغال العامة صباح اليوم جسرا جديدا فوق وادي "
                 "المنارة يربط الأحياء الشرقية بوسط العاصمة، بعد عامين من الأعمال.\n\nوقال الوزير إن الجسر "
                 "سيخفف الزحام في ساعات الذروة.",
         "url": "https://example.org/bridge", "source": "موقع الاختبار", "published": "2025-07-03T09:00:00+03:00"},
        {"title": "مهرجان للتمور في واحة الجنوب",
         "text": "مهرجان للتمور في واحة الجنوب\n\nانطلق في واحة الجنوب مهرجان التمور السنوي بمشاركة مئات "
                 "المزارعين الذين عرضوا أصنافا نادرة من التمور المحلية.",
         "source": "موقع الاختبار", "published": "2025-07-03"},
    ]


def test_ingest_api_stores_and_reanalyses(tmp_path: Path, settings: Settings) -> None:
    db = tmp_path / "api.db"
    seed = "قمة المنارة\n\nاجتمع وزراء الخارجية في المنارة اليوم لبحث التعاون الإقليمي والتجارة."
    with Store(db) as s:
        s.upsert_articles([Article(id="seed", text=seed, title="قمة المنارة", source="وكالة",
                                   blocks=(Block(0, 11, "title"), Block(13, len(seed), "body")),
                                   published="2025-07-01")])
    with TestClient(create_app(db, settings, TOKEN)) as c:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        response = c.post("/api/articles?wait=true", json=_records(), headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["added"]) == 2 and body["unchanged"] == [] and body["errors"] == []
        assert body["analysis"]["done"] and body["analysis"]["error"] is None
        for aid in body["added"]:
            view = assert_twin(c.get(f"/articles/{aid}.json"))
            assert view["source"] == "موقع الاختبار"
        hits = assert_twin(c.get("/search.json", params={"q": "جسر المنارة"}))["hits"]
        assert [h["id"] for h in hits] == [body["added"][0]]
        status = assert_twin(c.get("/api/status"))
        assert status["stats"]["articles"] == 3 and status["analysis"]["runs"] >= 1
        # The first run analysed the three stored articles that were in no story (the seed was
        # only ingested), and on three articles the incremental tables match the batch pipeline's.
        assert status["analysis"]["last_articles"] == 3 and status["analysis"]["mode"] == "incremental"
        with Store(db) as s:
            expected = build_report(pipeline.analyze(list(s.articles()), settings), settings.report)
            assert s.stats()["stories"] == len(expected["stories"])
            assert s.stats()["dates"] == len(expected["dates"])
            in_story = {r["article_id"] for r in s.query("SELECT article_id FROM story_articles")}
            assert in_story == {"seed", *body["added"]}

        again = c.post("/api/articles?wait=true", json=_records(), headers=headers).json()
        assert sorted(again["unchanged"]) == sorted(body["added"]) and again["added"] == []
        # Nothing new: the next run analyses nothing again.
        assert assert_twin(c.get("/api/status"))["analysis"]["last_articles"] == 0
        later = {"title": "تمديد الجسر فوق وادي المنارة", "source": "وكالة", "published": "2025-07-04",
                 "text": "تمديد الجسر فوق وادي المنارة\n\nقرر وزير الأشغال العامة تمديد الجسر الجديد فوق وادي "
                         "المنارة حتى الأحياء الغربية."}
        grown = c.post("/api/articles?wait=true", json=[later], headers=headers).json()
        assert len(grown["added"]) == 1 and grown["analysis"]["done"]
        assert assert_twin(c.get("/api/status"))["analysis"]["last_articles"] == 1
        assert assert_twin(c.get(f"/articles/{grown['added'][0]}.json"))["stories"]

        mixed = c.post("/api/articles", json=[{"title": "بلا نص"}, 7], headers=headers).json()
        assert mixed["added"] == [] and len(mixed["errors"]) == 2
        for bad in (b"{not json", b'{"text": "not a list"}', "نص".encode()):
            r = c.post("/api/articles", content=bad, headers={**headers, "content-type": "application/json"})
            assert r.status_code == 400 and r.json()["error"]["status"] == 400
        assert c.post("/api/articles", content=b"[]", headers={**headers, "content-type": "text/plain"}
                      ).status_code == 415
        with Store(db) as s:
            assert s.count_articles() == 4


def test_status_reads_the_store_again_only_after_a_commit(
    tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/api/status`` counts the store (its articles in no story, its tables) once per change:
    polled while nothing commits, a reader thread counts at most once; after another program
    commits, the next answer shows it."""
    db = tmp_path / "status.db"

    def article(n: int) -> Article:
        text = f"خبر رقم {n}\n\nاجتمع وزراء الخارجية في المنارة اليوم لبحث التعاون الإقليمي رقم {n}."
        return Article(id=f"a{n}", text=text, title=f"خبر رقم {n}", source="وكالة",
                       blocks=(Block(0, text.index("\n"), "title"), Block(text.index("\n") + 2, len(text), "body")),
                       published="2025-07-01")

    with Store(db) as s:
        s.upsert_articles([article(1)])
    counted: list[int] = []
    count = api.count_pending

    def counting(connection: sqlite3.Connection, ids: list[str] | None = None) -> int:
        counted.append(threading.get_ident())
        return count(connection, ids)

    monkeypatch.setattr(api, "count_pending", counting)
    with TestClient(create_app(db, settings)) as c:  # no token: nothing analyses, nothing changes
        first = assert_twin(c.get("/api/status"))
        assert first["analysis"]["pending"] == 1 and first["stats"]["articles"] == 1
        for _ in range(20):
            assert assert_twin(c.get("/api/status")) == first
        assert 1 <= len(counted) == len(set(counted))  # once per server thread at most
        with Store(db) as s:
            s.upsert_articles([article(2), article(3)])
        after = assert_twin(c.get("/api/status"))
        assert after["analysis"]["pending"] == 3 and after["stats"]["articles"] == 3


def test_serve_hands_the_web_settings_to_every_worker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``serve(workers=2, web=...)``: each worker process builds its app from the environment
    ``serve`` set, with the same web settings (the load benchmark's page cache among them)."""
    import uvicorn.supervisors

    from rasd import web as webapp

    chosen = WebSettings(views=ViewSettings(page_size=7, listed_links=5), page_cache=3, page_cache_mb=1.5)
    built: list[WebSettings] = []

    class Workers:  # in place of uvicorn's supervisor: one worker's start-up, in this process
        def __init__(self, config: object, sockets: list[socket.socket]) -> None:
            self.sockets = sockets

        def run(self) -> None:
            for sock in self.sockets:
                sock.close()
            app = webapp.app_from_environment()
            built.append(app.state.web)
            app.state.writer.close()
            app.state.readers.close()

    for name in (webapp._ENV_DB, webapp._ENV_SETTINGS, webapp._ENV_TOKEN, webapp._ENV_WEB):
        monkeypatch.setenv(name, "")  # restored after the test, whatever serve sets
    monkeypatch.setattr(uvicorn.supervisors, "Multiprocess", Workers)
    webapp.serve(tmp_path / "workers.db", "127.0.0.1", 0, None, None, 2, web=chosen)
    assert built == [chosen]
    assert (tmp_path / "workers.db").is_file()  # created (and migrated) once, before the workers


def test_time_and_outlet_tags_escape_and_drop_bidi_controls() -> None:
    assert render.time_tag("2025-06-16T19:30:00+03:00") == (
        '<time dir="ltr" datetime="2025-06-16T19:30:00+03:00">2025-06-16 19:30</time>')
    assert render.time_tag(None) == '<time dir="ltr" datetime="">—</time>'
    hostile = '\u202e"><script>alert(1)</script>&'
    escaped = "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;"
    assert render.time_tag(hostile) == f'<time dir="ltr" datetime="{escaped}">{escaped}</time>'
    assert render.outlet_tag(hostile) == f'<span class="outlet"><bdi>{escaped}</bdi></span>'
    assert render.outlet_tag(None) == render.outlet_tag("") == '<span class="outlet"><bdi>؟</bdi></span>'


def test_serve_command_is_registered() -> None:
    from typer.testing import CliRunner

    from rasd.cli import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    for option in ("--db", "--host", "--port", "--token"):
        assert option in result.output


def test_svg_attrs_take_numbers_and_anchor_words_only() -> None:
    assert render.svg_attrs(("cx", 12.5), ("cy", 3), ("text-anchor", "end")) == 'cx="12.5" cy="3" text-anchor="end"'
    for bad in ('"><script>', "\u202eend", True, None):
        with pytest.raises((TypeError, ValueError)):
            render.svg_attrs(("x", bad))  # type: ignore[arg-type]


def test_story_entities_and_framing_match_a_direct_count(store: Store) -> None:
    # One aggregation of a story's mentions feeds both lists: each must be what counting the
    # mentions directly gives.
    settings = ViewSettings()
    checked = 0
    for row in store.query("SELECT id FROM stories"):
        view = views.story(store, row["id"], settings)
        assert view is not None
        direct = store.query(
            "SELECT e.id, e.name, e.type, COUNT(*) AS mentions FROM mentions m JOIN entities e ON e.id = m.entity_id"
            " WHERE m.article_id IN (SELECT article_id FROM story_articles WHERE story_id = ?) GROUP BY e.id",
            [row["id"]])
        direct.sort(key=lambda e: (-e["mentions"], e["name"], e["id"]))
        assert view["entities"] == direct[:30]
        # The table's rows in order: most mentioned first, then by name (a dict would ignore it).
        people = [(e["id"], e["mentions"]) for e in direct if e["type"] == "PER"]
        assert [(p["id"], p["mentions"]) for p in view["framing"]] == people[: settings.framing_people]
        checked += bool(view["framing"])
    assert checked >= 3


def test_page_cache_keeps_to_its_count_and_bytes() -> None:
    from fastapi.responses import HTMLResponse

    from rasd.web import _PageCache

    cache = _PageCache(3, 250)
    for i in range(4):
        cache.put(("page", str(i)), 1, HTMLResponse("x" * 100))
    # 250 bytes hold two 100-byte pages: the oldest went first.
    assert list(cache.pages) == [("page", "2"), ("page", "3")] and cache.bytes == 200
    found = cache.get(("page", "3"), 1)
    assert found is not None and found.body == b"x" * 100
    assert cache.get(("page", "3"), 2) is None  # read under an older generation
    cache.put(("page", "big"), 1, HTMLResponse("y" * 300))  # larger than the whole cache: not kept
    cache.put(("page", "3"), 1, HTMLResponse("z" * 50))  # replaced, not counted twice
    assert ("page", "big") not in cache.pages and cache.bytes == 150
