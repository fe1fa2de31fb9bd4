"""Ingested text is untrusted: nothing in it may execute, link to a script, or spoof the layout."""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from rasd.settings import Settings, load_settings
from rasd.store import Store
from rasd.web import create_app

with warnings.catch_warnings():
    # starlette asks for the httpx2 fork; the httpx it falls back to works the same here.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

TOKEN = "s3cret-token"
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]")
SCRIPT = "<script>alert('x')</script>"
IMG = '<img src=x onerror="alert(1)">'

HOSTILE = [
    {"title": f"عاجل {SCRIPT} بيان الوزارة",
     "text": f"عاجل {SCRIPT} بيان الوزارة\n\nقال وزير الداخلية خالد المنصوري يوم الاثنين إن الوزارة {IMG} "
             "ستفتح تحقيقا في الحادث الذي وقع في العاصمة المنارة، وأضاف أن &lt;b&gt;النتائج&lt;/b&gt; &amp; "
             "التفاصيل ستعلن قريبا.\n\nوأكد المنصوري أن \"الأمن مستتب\" في جميع الأحياء.",
     "url": "javascript:alert(document.cookie)", "source": "منبر <b onmouseover=alert(1)>مخادع</b>",
     "published": "2025-06-16T10:00:00+03:00"},
    {"title": "\u202eنص معكوس\u202c يخدع القارئ \u2066exe.jpg\u2069",
     "text": "\u202eنص معكوس\u202c يخدع القارئ\n\nأعلنت الحكومة في المنارة أمس عن خطة جديدة \u202bلدعم\u202c المزارعين "
             "في الواحات الجنوبية، وقال المتحدث باسمها إن الخطة تبدأ الشهر المقبل.",
     "url": "https://ok.example/a?x=\"><script>alert(1)</script>", "source": "\u202eوكالة\u202c",
     "published": "2025-06-17"},
    {"title": "رابط خبيث آخر", "text": "رابط خبيث آخر\n\nخبر عادي عن افتتاح مكتبة عامة في حي الزيتون بالمنارة "
     "وسط حضور كبير من الأهالي والطلاب.", "url": " JaVaScRiPt:alert(1)", "source": "موقع ثالث",
     "published": "2025-06-18"},
    {"title": "data", "text": "رابط بيانات\n\nخبر آخر عن مهرجان ثقافي في مدينة الساحل يستمر ثلاثة أيام بمشاركة فرق "
     "محلية وعربية.", "url": "data:text/html,<script>alert(1)</script>", "source": "موقع رابع",
     "published": "2025-06-18"},
]


class Audit(HTMLParser):
    """Every element and attribute of a page, to look for anything that could run."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script":
            self.scripts.append(values)
        if tag in ("iframe", "object", "embed", "base", "form") and tag != "form":
            self.problems.append(f"<{tag}>")
        if tag == "img" and values.get("src") != "/static/logo.svg":
            self.problems.append(f"<img src={values.get('src')!r}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{tag} {name}={value!r}")
            if name in ("href", "src", "action", "formaction", "xlink:href") and value is not None:
                scheme = re.sub(r"[\s\x00-\x1f]", "", value).lower()
                if scheme.startswith(("javascript:", "data:", "vbscript:")):
                    self.problems.append(f"{tag} {name}={value!r}")
            if name == "style":
                self.problems.append(f"inline style on {tag}")


def audit(html: str) -> Audit:
    parser = Audit()
    parser.feed(html)
    return parser


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="module")
def hostile(
    tmp_path_factory: pytest.TempPathFactory, settings: Settings
) -> Iterator[tuple[TestClient, Path, list[str]]]:
    """Hostile articles posted through the API (the real reader and pipeline), then analysis rows
    whose spans cover the hostile markup so that highlighting is exercised on it too."""
    db = tmp_path_factory.mktemp("security") / "hostile.db"
    with TestClient(create_app(db, settings, TOKEN)) as client:
        response = client.post("/api/articles?wait=true", json=HOSTILE, headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        ids = response.json()["added"]
        assert len(ids) == len(HOSTILE)
        with Store(db) as store:
            first = store.article(ids[0])
            second = store.article(ids[1])
            assert first is not None and second is not None
            img = first.text.index(IMG)
            script = first.text.index(SCRIPT)
            reversed_ = second.text.index("\u202e")
            entity = {"id": "e<x>", "type": "PER", "name": f"خالد {SCRIPT}", "aliases": [IMG, "\u202eالمنصوري"],
                      "mentions": [{"article": ids[0], "text": first.text[img:img + len(IMG)],
                                    "span": [img - 6, img + len(IMG)], "title": f"الوزير {IMG}"},
                                   {"article": ids[1], "text": "نص", "span": [reversed_, reversed_ + 5],
                                    "title": "\u202eاللواء"}]}
            passage = {"source_span": [script, script + len(SCRIPT) + 12],
                       "target_span": [reversed_, reversed_ + 20],
                       "source_text": first.text[script:script + len(SCRIPT) + 12],
                       "target_text": second.text[reversed_:reversed_ + 20]}
            report = {
                "stories": [{"id": "s1", "title": f"قصة {SCRIPT} \u202eمعكوسة", "articles": ids[:2],
                             "events": [{"id": "ev1", "title": IMG, "articles": ids[:2], "date": "2025-06-16"}],
                             "summary": [{"text": first.text[script:script + 60], "article": ids[0],
                                          "span": [script, script + 60]}],
                             "timeline": [{"date": "2025-06-16", "text": IMG, "article": ids[0],
                                           "background": False}]}],
                "entities": [entity],
                "reuse": [{"source": ids[0], "target": ids[1], "direction_known": True, "evidence": "published",
                           "score": 0.5, "passages": [passage]}],
                "quotes": [{"article": ids[0], "speaker": "e<x>", "speaker_text": IMG, "text": SCRIPT,
                            "span": [script, script + len(SCRIPT)], "direct": True}],
                "dates": [{"article": ids[0], "text": "يوم الاثنين", "span": [img - 30, img], "value": "2025-06-16",
                           "anchor": "publication", "warning": SCRIPT}],
                "duplicates": [{"kind": "near", "similarity": 0.9, "articles": ids[2:]}],
            }
            store.save_analysis(report)
        yield client, db, ids


def _pages(ids: list[str]) -> list[str]:
    return ["/", "/entities", "/stories/s1", "/entities/e%3Cx%3E", *(f"/articles/{i}" for i in ids),
            f"/reuse/{ids[0]}/{ids[1]}",
            "/search?q=script", "/search?q=الوزارة", "/search?q=%E2%80%AE", f"/?outlet={SCRIPT}",
            f"/stories/{SCRIPT}", f"/search?q={IMG}"]


def test_nothing_executes_and_nothing_spoofs(hostile: tuple[TestClient, Path, list[str]]) -> None:
    client, _, ids = hostile
    for path in _pages(ids):
        response = client.get(path)
        assert response.status_code in (200, 404), (path, response.status_code)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "default-src 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        html = response.text
        found = audit(html)
        assert found.problems == [], (path, found.problems)
        assert found.scripts == [{"src": "/static/app.js", "defer": None}], path
        assert "<script>alert" not in html and "onerror=" not in html.replace("onerror=&#34;", "")
        assert "<b onmouseover" not in html
        assert not BIDI.search(html), (path, [hex(ord(c)) for c in BIDI.findall(html)])
    article = client.get(f"/articles/{ids[0]}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in article
    assert "&amp;lt;b&amp;gt;" in article  # entities in the text are shown as written, never decoded


def test_hostile_text_is_highlighted_as_text(hostile: tuple[TestClient, Path, list[str]]) -> None:
    client, _, ids = hostile
    article = client.get(f"/articles/{ids[0]}").text
    escaped_img = "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"
    assert re.search(r'<a class="hl [^"]*mention[^"]*" href="/entities/e&lt;x&gt;"[^>]*>[^<]*' + re.escape(escaped_img),
                     article)
    story = client.get("/stories/s1").text
    assert re.search(r'<blockquote class="side source" dir="auto">[^<]*&lt;script&gt;alert', story)
    pair = client.get(f"/reuse/{ids[0]}/{ids[1]}")
    assert pair.status_code == 200
    assert re.search(r'<blockquote class="side source" dir="auto">[^<]*&lt;script&gt;alert', pair.text)
    assert "<bdi>معكوسة</bdi>" not in story and "قصة &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; معكوسة" in story
    entity = client.get("/entities/e%3Cx%3E").text
    assert "<bdi>المنصوري</bdi>" in entity  # the alias is shown, isolated, with its override removed


def test_only_http_urls_become_links(hostile: tuple[TestClient, Path, list[str]]) -> None:
    client, _, ids = hostile
    for aid in ids:
        html = client.get(f"/articles/{aid}").text
        hrefs = re.findall(r'href="([^"]*)"', html)
        assert not [h for h in hrefs if not h.startswith(("/", "http://", "https://"))]
        external = [h for h in hrefs if h.startswith("http")]
        assert all(h.startswith("https://ok.example/") for h in external)
    # The quote in the second URL cannot close the attribute: that URL is shown as text, not linked.
    second = client.get(f"/articles/{ids[1]}").text
    assert 'href="https://ok.example' not in second and "https://ok.example/a?x=&#34;&gt;&lt;script&gt;" in second
    # The JSON twin keeps the stored text exactly: escaping is the HTML's business.
    twin = client.get(f"/articles/{ids[0]}.json")
    assert twin.headers["content-type"].startswith("application/json")
    assert SCRIPT in twin.json()["text"] and twin.json()["url"] == "javascript:alert(document.cookie)"


FTS_PIECES = st.sampled_from([
    '"', "'", "*", "NEAR(", ")", "(", "OR", "AND", "NOT", "-", "^", ":", "stems:", "norms : x", "{", "}", "\\",
    "'; DROP TABLE articles; --", '" OR 1=1 --', "%", "_", "\x00", "\u202e", "فى", "الحكومة", "المنارة*", "«", "»",
])


@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(FTS_PIECES, st.text(max_size=12)), max_size=8).map(" ".join))
def test_no_search_string_errors(hostile: tuple[TestClient, Path, list[str]], query: str) -> None:
    client, _, _ = hostile
    query = query[:500]
    page = client.get("/search", params={"q": query})
    twin = client.get("/search.json", params={"q": query})
    assert page.status_code == 200 and twin.status_code == 200
    assert isinstance(twin.json()["hits"], list)
    assert not audit(page.text).problems


def test_search_statement_does_not_touch_the_store(hostile: tuple[TestClient, Path, list[str]]) -> None:
    client, db, ids = hostile
    client.get("/search", params={"q": "'; DROP TABLE articles; --"})
    with Store(db) as store:
        assert store.count_articles() == len(ids)


@pytest.mark.parametrize("headers", [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": "Bearer "},
])
def test_ingest_without_the_token_is_refused(hostile: tuple[TestClient, Path, list[str]],
                                             headers: dict[str, str]) -> None:
    client, db, ids = hostile
    record = [{"title": "خبر مزروع", "text": "خبر مزروع\n\nنص يحاول الدخول إلى المخزن بلا إذن من صاحبه أبدا."}]
    response = client.post("/api/articles", json=record, headers=headers)
    assert response.status_code == 401
    assert response.json()["error"]["status"] == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    with Store(db) as store:
        assert store.count_articles() == len(ids)


def test_without_a_configured_token_every_write_is_refused(tmp_path: Path, settings: Settings) -> None:
    db = tmp_path / "closed.db"
    record = [{"title": "خبر", "text": "خبر\n\nنص خبر يكفي للتخزين لو كانت الكتابة مسموحة في هذا الخادم."}]
    for token in (None, ""):
        with TestClient(create_app(db, settings, token)) as client:
            for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer None"}):
                response = client.post("/api/articles", json=record, headers=headers)
                assert response.status_code == 401
            assert client.get("/api/status").json()["writes_enabled"] is False
    with Store(db) as store:
        assert store.count_articles() == 0


def test_oversized_and_overlong_requests_are_refused(hostile: tuple[TestClient, Path, list[str]]) -> None:
    client, db, ids = hostile
    headers = {"Authorization": f"Bearer {TOKEN}"}
    too_many = [{"text": "نص"}] * 1001
    response = client.post("/api/articles", content=json.dumps(too_many), headers={
        **headers, "content-type": "application/json"})
    assert response.status_code == 400
    huge = client.post("/api/articles", content=b"[" + b" " * (33 * 1024 * 1024) + b"]",
                       headers={**headers, "content-type": "application/json"})
    assert huge.status_code == 413
    assert client.get("/search", params={"q": "ا" * 501}).status_code == 400
    with Store(db) as store:
        assert store.count_articles() == len(ids)
