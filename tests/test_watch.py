"""The watcher against a real HTTP server on loopback whose feeds and pages change over time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from rasd.errors import SettingsError
from rasd.ingest.clean import make_article
from rasd.ingest.http import Fetcher, Response
from rasd.ingest.meta import parse_published
from rasd.settings import FetchSettings, Settings
from rasd.store import Store
from rasd.watch import (
    AlertRule,
    FeedSpec,
    Watcher,
    WatcherRunning,
    WatchSettings,
    add_feed,
    feed_health,
    parse_interval,
    read_feed_list,
    remove_feed,
)
from rasd.watch_poll import ParsedItems, PollResult, Robots, SeenItem, read_feed, split_feed

DATA = Path(__file__).resolve().parent / "data" / "watch_articles.json"
ITEMS = {item["slug"]: item for item in json.loads(DATA.read_text(encoding="utf-8"))}


# ---------------------------------------------------------------------------------------------
# A loopback server whose routes the test changes between cycles


@dataclass
class Route:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    delay_s: float = 0.0
    location: str | None = None


@dataclass
class Server:
    base: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    hits: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    posted: list[dict[str, object]] = field(default_factory=list)

    def count(self, path: str) -> int:
        return sum(1 for _, p, _ in self.hits if p == path)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server.hits.append(("GET", self.path, dict(self.headers.items())))
            route = server.routes.get(self.path)
            if route is None:
                self._send(404, b"not found", "text/plain")
                return
            if route.delay_s:
                time.sleep(route.delay_s)
            if route.location:
                self.send_response(route.status)
                self.send_header("Location", route.location)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if route.etag and self.headers.get("If-None-Match") == route.etag:
                self.send_response(304)
                self.send_header("ETag", route.etag)
                self.end_headers()
                return
            self._send(route.status, route.body, route.content_type, route.etag)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            server.hits.append(("POST", self.path, dict(self.headers.items())))
            server.posted.append(json.loads(self.rfile.read(length)))
            self._send(200, b"{}", "application/json")

        def _send(self, status: int, body: bytes, content_type: str, etag: str | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                if etag:
                    self.send_header("ETag", etag)
                self.end_headers()
                self.wfile.write(body)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (the timeout test)

    return Handler


@pytest.fixture()
def server() -> Iterator[Server]:
    state = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield state
    httpd.shutdown()
    httpd.server_close()


def rss(items: list[dict[str, str]], base: str, full_text: bool = True, updated: dict[str, str] | None = None) -> bytes:
    parts = []
    for it in items:
        link = f"{base}/news/{it['slug']}"
        content = "".join(f"<p>{escape(p)}</p>" for p in it["body"])
        text = f"<content:encoded><![CDATA[{content}]]></content:encoded>" if full_text else ""
        stamp = (updated or {}).get(it["slug"], it["published"])
        parts.append(
            f"<item><title>{escape(it['title'])}</title><link>{link}</link><guid>{link}</guid>"
            f"<pubDate>{stamp}</pubDate>{text}</item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>أخبار - تجربة</title>'
        f"<link>{base}/</link>{''.join(parts)}</channel></rss>"
    ).encode()


def page(item: dict[str, str], extra: str = "") -> bytes:
    paragraphs = "".join(f"<p>{escape(p)}</p>" for p in [*item["body"], *([extra] if extra else [])])
    return (
        f'<!doctype html><html lang="ar" dir="rtl"><head><meta charset="utf-8"><title>{escape(item["title"])}</title>'
        f'</head><body><nav>الرئيسية | سياسة | رياضة</nav><article><h1>{escape(item["title"])}</h1>'
        f"{paragraphs}</article><footer>جميع الحقوق محفوظة</footer></body></html>"
    ).encode()


class Clock:
    def __init__(self) -> None:
        self.now = 1_750_000_000.0

    def __call__(self) -> float:
        return self.now


FAST = FetchSettings(timeout_s=0.5, min_interval_per_host_s=0.0, user_agent="rasd-test/0.1 (+tests)")
EVERY = 60.0


def watcher(store: Store, clock: Clock, **kwargs: object) -> Watcher:
    settings = Settings(fetch=FAST)
    return Watcher(store, settings, WatchSettings(every_s=EVERY, workers=4), fetcher=Fetcher(FAST), clock=clock,
                   **kwargs)  # type: ignore[arg-type]


def stories_of(store: Store) -> dict[str, str]:
    return {r["article_id"]: r["story_id"] for r in store.query("SELECT article_id, story_id FROM story_articles")}


# ---------------------------------------------------------------------------------------------


def test_new_items_are_picked_up_and_an_unchanged_feed_is_answered_304(tmp_path: Path, server: Server) -> None:
    server.routes["/feed.xml"] = Route(rss([ITEMS["water-1"], ITEMS["football-1"]], server.base), etag='"v1"')
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        add_feed(store, server.base + "/feed.xml", "وكالة الساحل")
        with watcher(store, clock) as w:
            first = w.cycle()
            assert (first.polled, first.new_articles, first.processed) == (1, 2, 2)
            assert len(stories_of(store)) == 2
            # Not due yet: no request at all.
            assert w.cycle().polled == 0 and server.count("/feed.xml") == 1
            clock.now += EVERY
            second = w.cycle()
            assert (second.polled, second.not_modified, second.new_articles) == (1, 1, 0)
            assert server.hits[-1][2].get("If-None-Match") == '"v1"'
            # A new item appears: only it is stored and analysed.
            server.routes["/feed.xml"] = Route(
                rss([ITEMS["water-2"], ITEMS["water-1"], ITEMS["football-1"]], server.base), etag='"v2"')
            clock.now += EVERY
            third = w.cycle()
            assert (third.new_articles, third.processed) == (1, 1)
            ids = stories_of(store)
            assert len(ids) == 3
            assert all(h[2].get("User-Agent", "").startswith("rasd") for h in server.hits)
        [health] = feed_health(store)
        assert (health.status, health.failures, health.items_seen, health.articles_added) == ("ok", 0, 3, 3)
        assert health.name == "وكالة الساحل"
        outlets = {r["source"] for r in store.query("SELECT source FROM articles")}
        assert outlets == {"وكالة الساحل"}


def test_failing_feeds_are_reported_backed_off_and_retried_while_others_go_on(tmp_path: Path, server: Server) -> None:
    server.routes.update({
        "/good.xml": Route(rss([ITEMS["water-1"]], server.base)),
        "/slow.xml": Route(rss([ITEMS["un-1"]], server.base), delay_s=1.5),
        "/broken.xml": Route(b"oops", status=500, content_type="text/plain"),
        "/bad.xml": Route(b"<rss><channel><item><title>x</title></chan", content_type="application/xml"),
        "/loop.xml": Route(status=302, location="/loop.xml"),
    })
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        for name in ("good", "slow", "broken", "bad", "loop"):
            add_feed(store, f"{server.base}/{name}.xml")
        with watcher(store, clock) as w:
            started = time.monotonic()
            report = w.cycle()
            assert time.monotonic() - started < 5
            assert (report.polled, report.new_articles) == (1, 1)
            reasons = {url.rsplit("/", 1)[1]: reason for url, reason in report.failed}
            assert set(reasons) == {"slow.xml", "broken.xml", "bad.xml", "loop.xml"}
            assert "Timeout" in reasons["slow.xml"]
            assert reasons["broken.xml"] == "HTTP 500"
            assert reasons["bad.xml"].startswith("malformed feed")
            assert "Redirect" in reasons["loop.xml"]
            health = {h.url.rsplit("/", 1)[1]: h for h in feed_health(store)}
            assert health["broken.xml"].status == "failing" and health["broken.xml"].last_error == "HTTP 500"
            assert health["good.xml"].status == "ok"
            # The redirect loop is bounded: a handful of requests, not an endless chase.
            assert server.count("/loop.xml") <= 7
            # After one interval only the healthy feed is due; the failing ones wait twice as long.
            clock.now += EVERY
            again = w.cycle()
            assert again.polled == 1 and again.failed == []
            server.routes["/broken.xml"] = Route(rss([ITEMS["football-1"]], server.base))
            server.routes["/slow.xml"].delay_s = 0.0
            clock.now += 2 * EVERY
            retried = w.cycle()
            assert {u.rsplit("/", 1)[1] for u, _ in retried.failed} == {"bad.xml", "loop.xml"}
            assert retried.new_articles == 2
            health = {h.url.rsplit("/", 1)[1]: h for h in feed_health(store)}
            assert health["broken.xml"].failures == 0 and health["broken.xml"].status == "ok"
            assert health["bad.xml"].failures == 2
            # Backoff doubles: the malformed feed is not asked again four intervals on.
            polled = server.count("/bad.xml")
            clock.now += 3 * EVERY
            w.cycle()
            assert server.count("/bad.xml") == polled


def test_pages_respect_robots_and_a_changed_page_becomes_a_new_version(tmp_path: Path, server: Server) -> None:
    water, un = ITEMS["water-1"], ITEMS["un-1"]
    server.routes.update({
        "/robots.txt": Route(b"User-agent: *\nDisallow: /news/un-1\n", content_type="text/plain"),
        "/feed.xml": Route(rss([water, un], server.base, full_text=False)),
        "/news/water-1": Route(page(water), content_type="text/html; charset=utf-8", etag='"p1"'),
        "/news/un-1": Route(page(un), content_type="text/html; charset=utf-8"),
    })
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        add_feed(store, server.base + "/feed.xml")
        with watcher(store, clock) as w:
            first = w.cycle()
            assert first.new_articles == 1
            assert server.count("/news/un-1") == 0  # robots.txt said no
            [row] = store.query("SELECT id, url, published, version FROM articles")
            assert row["url"] == server.base + "/news/water-1" and row["version"] == 1
            assert row["published"] == parse_published(water["published"])
            errors = store.query("SELECT error FROM feed_items WHERE error IS NOT NULL")
            assert [e["error"] for e in errors] == ["robots.txt disallows this page"]
            # Unchanged feed entry: the page is not fetched again.
            clock.now += EVERY
            w.cycle()
            assert server.count("/news/water-1") == 1
            # The outlet edits the article and the feed marks the item updated.
            extra = "وأعلنت الشركة مساء اليوم أن التقنين سيشمل الأحياء الغربية أيضا ابتداء من الأحد."
            server.routes["/news/water-1"] = Route(page(water, extra), content_type="text/html; charset=utf-8",
                                                   etag='"p2"')
            server.routes["/feed.xml"] = Route(rss([water, un], server.base, full_text=False,
                                                   updated={"water-1": "Sun, 15 Jun 2025 18:00:00 +0300"}))
            clock.now += EVERY
            edited = w.cycle()
            assert (edited.new_articles, edited.versions, edited.processed) == (1, 1, 1)
            assert server.hits[-1][2].get("If-None-Match") == '"p1"'
            rows = store.query("SELECT id, version, supersedes, text FROM articles ORDER BY version")
            assert [r["version"] for r in rows] == [1, 2] and rows[1]["supersedes"] == rows[0]["id"]
            assert extra in rows[1]["text"]
            assert rows[1]["id"] in stories_of(store)


def test_alerts_fire_once_to_the_log_and_the_webhook(tmp_path: Path, server: Server) -> None:
    server.routes["/feed.xml"] = Route(rss([ITEMS["water-1"], ITEMS["un-1"]], server.base))
    rules = [
        # Written with the variants the text does not use (hamza, ta marbuta, tatweel).
        AlertRule("UN", "keyword", ("الامم المتحده",)),
        AlertRule("water burst", "growth", articles=2, minutes=30),
        AlertRule("nothing", "keyword", ("بركان",)),
    ]
    log = tmp_path / "alerts.jsonl"
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        add_feed(store, server.base + "/feed.xml")
        with watcher(store, clock, rules=rules, alert_log=log, webhook=server.base + "/hook") as w:
            first = w.cycle()
            assert (first.alerts, first.delivered) == (1, 1)
            [alert] = server.posted
            assert alert["rule"] == "UN" and alert["matched"] == "الامم المتحده"
            assert alert["title"] == ITEMS["un-1"]["title"]
            server.routes["/feed.xml"] = Route(rss([ITEMS["water-2"], ITEMS["water-1"], ITEMS["un-1"]], server.base))
            clock.now += EVERY
            second = w.cycle()
            assert second.alerts == 1
            assert [p["rule"] for p in server.posted] == ["UN", "water burst"]
            assert server.posted[1]["articles"] == 2
            # The same story growing further alerts no more.
            server.routes["/feed.xml"] = Route(
                rss([ITEMS["water-3"], ITEMS["water-2"], ITEMS["water-1"], ITEMS["un-1"]], server.base))
            clock.now += EVERY
            assert w.cycle().alerts == 0
        logged = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
        assert [a["rule"] for a in logged] == ["UN", "water burst"]
        assert len(server.posted) == 2


def test_a_second_watcher_is_refused_and_a_dead_ones_lock_taken_over(tmp_path: Path) -> None:
    path = tmp_path / "r.db"
    clock = Clock()
    with Store(path) as store, watcher(store, clock), Store(path) as other, pytest.raises(
        WatcherRunning, match=f"pid {os.getpid()}"
    ):
        watcher(other, clock)
    with Store(path) as store:
        # A lock left by a process that no longer exists does not block.
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True)
        import socket

        store.db.execute("INSERT INTO watch_lock VALUES (1, ?, ?, 'x', 'then', ?)",
                         (int(dead.stdout), socket.gethostname(), clock.now))
        with watcher(store, clock):
            pass


KILLER = """
import os, sys
from rasd.store import Store
from rasd.incremental import IncrementalPipeline
store = Store(sys.argv[1])
def die(_store, batch):
    os._exit(9)  # as if killed inside the batch's transaction
IncrementalPipeline(store).process_pending(die)
"""


def test_killed_mid_batch_loses_nothing_and_processes_nothing_twice(tmp_path: Path, server: Server) -> None:
    server.routes["/feed.xml"] = Route(rss([ITEMS[s] for s in ("water-1", "water-2", "football-1")], server.base))
    path = tmp_path / "r.db"
    clock = Clock()
    with Store(path) as store:
        add_feed(store, server.base + "/feed.xml")
        w = watcher(store, clock)
        # Poll only: the articles are stored, then the watcher "dies" before analysing them.
        w.pipeline.process_pending = lambda before_commit=None, after_rowid=0: []  # type: ignore[method-assign]
        assert w.cycle().new_articles == 3
        store.db.execute("UPDATE watch_lock SET pid = -1")
    killed = subprocess.run([sys.executable, "-c", KILLER, str(path)], capture_output=True, text=True, timeout=60)
    assert killed.returncode == 9, killed.stderr
    with Store(path) as store:
        assert stories_of(store) == {}
        with watcher(store, clock) as w:
            clock.now += EVERY
            report = w.cycle()
            assert (report.new_articles, report.processed) == (0, 3)
        counts = store.query("SELECT article_id, COUNT(*) AS n FROM story_articles GROUP BY article_id")
        assert len(counts) == 3 and all(c["n"] == 1 for c in counts)
        quotes = store.query("SELECT article_id, start, COUNT(*) AS n FROM quotes GROUP BY article_id, start")
        assert quotes and all(q["n"] == 1 for q in quotes)


# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "seconds"), [("30s", 30), ("5m", 300), ("1h", 3600), ("1.5h", 5400), ("90", 90)])
def test_parse_interval(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("bad", ["", "5x", "-1m", "0s", "m"])
def test_parse_interval_rejects_nonsense(bad: str) -> None:
    with pytest.raises(SettingsError, match="30s, 5m, 1h"):
        parse_interval(bad)


def test_feed_lists_plain_and_opml(tmp_path: Path) -> None:
    plain = tmp_path / "feeds.txt"
    plain.write_text("# my feeds\nhttps://a.example/rss\tقناة المدار\n\nhttps://b.example/feed  موقع المرصد\n"
                     "https://c.example/atom\n", encoding="utf-8")
    assert read_feed_list(plain) == [FeedSpec("https://a.example/rss", "قناة المدار"),
                                     FeedSpec("https://b.example/feed", "موقع المرصد"),
                                     FeedSpec("https://c.example/atom", None)]
    opml = tmp_path / "feeds.opml"
    opml.write_text('<?xml version="1.0"?><opml version="2.0"><body><outline text="news">'
                    '<outline type="rss" text="الوطن" xmlUrl="https://d.example/rss"/></outline></body></opml>',
                    encoding="utf-8")
    assert read_feed_list(opml) == [FeedSpec("https://d.example/rss", "الوطن")]


def test_feed_list_management(tmp_path: Path) -> None:
    with Store(tmp_path / "r.db") as store:
        assert add_feed(store, "https://a.example/rss", "أ")
        assert not add_feed(store, "https://a.example/rss", "ب")
        assert [(h.url, h.name, h.status) for h in feed_health(store)] == [("https://a.example/rss", "ب", "new")]
        assert remove_feed(store, "https://a.example/rss")
        assert not remove_feed(store, "https://a.example/rss")
        assert feed_health(store) == []



def test_articles_stored_by_another_program_are_processed_within_the_pending_check_interval(
    tmp_path: Path, server: Server
) -> None:
    server.routes["/feed.xml"] = Route(rss([ITEMS["water-1"]], server.base), etag='"v1"')
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        add_feed(store, server.base + "/feed.xml", "وكالة الساحل")
        with watcher(store, clock) as w:
            assert w.cycle().processed == 1
            # `rasd ingest` (another program) stores an article while the watcher runs
            text = "أعلنت وزارة الصحة في ولاية الواحات اليوم افتتاح مستشفى جديد في مدينة القصور."
            store.upsert_articles([make_article(text, source="صحيفة الوادي", published="2025-06-12T09:00:00+03:00")])
            quiet = [w.cycle() for _ in range(w.watch.pending_check_cycles)]
            # cycles that store nothing themselves skip the scan for pending articles, until the
            # interval comes round: then the other program's article is analysed, once
            assert [c.processed for c in quiet[:-1]] == [0] * (len(quiet) - 1)
            assert quiet[-1].processed == 1
            assert len(stories_of(store)) == 2



# ---------------------------------------------------------------------------------------------
# Parsing only what changed in a changed feed


class CountingParse:
    """Wraps feedparser.parse in rasd.watch_poll, remembering how many entries each call read."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import feedparser

        import rasd.watch_poll as watch_poll

        self.entries: list[int] = []
        real = feedparser.parse

        def parse(data: bytes) -> object:
            parsed = real(data)
            self.entries.append(len(parsed.entries))
            return parsed

        monkeypatch.setattr(watch_poll.feedparser, "parse", parse)


def _read(body: bytes, seen: dict[str, SeenItem], memo: ParsedItems | None, clock: Clock) -> PollResult:
    fetcher = Fetcher(FAST)
    robots = Robots(fetcher, FAST.user_agent, WatchSettings(), clock)
    result = PollResult("http://feeds.example/rss", status=200,
                        response=Response("http://feeds.example/rss", 200, body, {"ETag": '"e"'}))
    return read_feed(result, None, seen, fetcher, robots, WatchSettings(), clock(), memo)


def _seen_after(result: PollResult, seen: dict[str, SeenItem], clock: Clock) -> dict[str, SeenItem]:
    return {**seen, **{i.key: SeenItem(i.signature, i.url, None, None, clock()) for i in result.items}}


def test_split_feed_finds_items_and_refuses_what_expat_cannot_read() -> None:
    body = rss([ITEMS["water-1"], ITEMS["un-1"]], "http://x")
    split = split_feed(body)
    assert split is not None and len(split.spans) == 2
    assert all(body[a:b].startswith(b"<item>") and body[a:b].endswith(b"</item>") for a, b in split.spans)
    atom = (b'<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
            b"<entry><id>1</id><title>a</title></entry><entry><id>2</id><title>b</title></entry></feed>")
    assert [atom[a:b][:11] for a, b in split_feed(atom).spans] == [b"<entry><id>"] * 2  # type: ignore[union-attr]
    assert split_feed(b"<rss><channel><item><title>x</title></chan") is None
    assert split_feed(b"<rss><channel><title>&nbsp;</title><item><title>x</title></item></channel></rss>") is None
    assert split_feed(b"<rss><channel><title>no items</title></channel></rss>") is None


def test_a_changed_feed_parses_only_its_new_and_changed_items(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingParse(monkeypatch)
    clock, memo = Clock(), ParsedItems()
    base = "http://x"
    first = _read(rss([ITEMS["water-1"], ITEMS["football-1"], ITEMS["un-1"]], base), {}, memo, clock)
    assert first.error is None and len(first.items) == 3 and counting.entries == [3]
    seen = _seen_after(first, {}, clock)
    # One new item at the top: only it is handed to feedparser, and it reads as in the whole feed.
    grown = rss([ITEMS["water-2"], ITEMS["water-1"], ITEMS["football-1"], ITEMS["un-1"]], base)
    second = _read(grown, seen, memo, clock)
    assert counting.entries[-1] == 1
    assert [i.key for i in second.items] == [f"{base}/news/water-2"]
    assert [a.title for a in second.items[0].articles] == [ITEMS["water-2"]["title"]]
    whole = _read(grown, seen, None, clock)
    assert counting.entries[-1] == 4
    assert [(i.key, i.signature) for i in whole.items] == [(i.key, i.signature) for i in second.items]
    assert whole.items[0].articles[0].id == second.items[0].articles[0].id
    seen = _seen_after(second, seen, clock)
    # The same document again: nothing to read, no parse at all, the feed's validators kept.
    calls = len(counting.entries)
    same = _read(grown, seen, memo, clock)
    assert same.items == [] and same.error is None and same.etag == '"e"' and len(counting.entries) == calls
    # An item the outlet updated is read again, with its new signature; the others are not.
    edited = rss([ITEMS["water-2"], ITEMS["water-1"], ITEMS["football-1"], ITEMS["un-1"]], base,
                 updated={"football-1": "Sun, 15 Jun 2025 18:00:00 +0300"})
    changed = _read(edited, seen, memo, clock)
    assert counting.entries[-1] == 1 and [i.key for i in changed.items] == [f"{base}/news/football-1"]
    assert changed.items[0].signature != seen[f"{base}/news/football-1"].signature
    # An item whose bytes are known but whose seen row is gone (pruned, another signature) is read.
    del seen[f"{base}/news/un-1"]
    again = _read(edited, seen, memo, clock)
    assert {i.key for i in again.items} == {f"{base}/news/un-1", f"{base}/news/football-1"}


def test_a_malformed_feed_falls_back_to_the_whole_parse_and_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    counting = CountingParse(monkeypatch)
    clock, memo = Clock(), ParsedItems()
    first = _read(rss([ITEMS["water-1"]], "http://x"), {}, memo, clock)
    seen = _seen_after(first, {}, clock)
    broken = _read(b"<rss><channel><item><title>x</title></chan", seen, memo, clock)
    assert broken.error is not None and broken.error.startswith("malformed feed") and broken.items == []
    # An HTML entity expat rejects but feedparser reads: the whole feed is parsed, its items kept.
    loose = rss([ITEMS["water-2"], ITEMS["water-1"]], "http://x").replace(b"</title><link>", b"&nbsp;</title><link>", 1)
    read = _read(loose, seen, memo, clock)
    assert counting.entries[-1] == 2 and read.error is None
    assert [i.key for i in read.items] == ["http://x/news/water-2"]


def test_a_stray_control_character_in_a_seen_item_does_not_make_every_change_a_whole_parse(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    counting = CountingParse(monkeypatch)
    clock, memo = Clock(), ParsedItems()
    # U+001A (as in some SaudiNewsNet texts) is not allowed in XML: expat and feedparser's strict
    # parser refuse the document, feedparser reads it with its loose parser.
    body = rss([ITEMS["water-1"], ITEMS["football-1"]], "http://x").replace(b"<p>", b"<p>\x1a ", 1)
    split = split_feed(body)
    assert split is not None and len(split.spans) == 2
    first = _read(body, {}, memo, clock)
    assert first.error is None and len(first.items) == 2 and counting.entries == [2]
    seen = _seen_after(first, {}, clock)
    grown = body.replace(b"<item>", rss([ITEMS["water-2"]], "http://x").split(b"</link>", 1)[1]
                         .split(b"</channel>")[0] + b"<item>", 1)
    assert grown.count(b"<item>") == 3
    second = _read(grown, seen, memo, clock)
    assert counting.entries[-1] == 1 and [i.key for i in second.items] == ["http://x/news/water-2"]
    whole = _read(grown, seen, None, clock)
    assert counting.entries[-1] == 3
    assert [(i.key, i.signature) for i in whole.items] == [(i.key, i.signature) for i in second.items]
    assert [a.text for a in whole.items[0].articles] == [a.text for a in second.items[0].articles]
    # A new item carrying one is parsed with the whole (not well-formed) document.
    third = grown.replace(b"<item>", rss([ITEMS["un-1"]], "http://x").split(b"</link>", 1)[1]
                          .split(b"</channel>")[0].replace(b"<p>", b"<p>\x1a", 1) + b"<item>", 1)
    seen = _seen_after(second, seen, clock)
    read = _read(third, seen, memo, clock)
    assert counting.entries[-1] == 4 and [i.key for i in read.items] == ["http://x/news/un-1"]


def test_the_watcher_parses_a_changed_feed_once_whole_then_only_its_new_items(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    counting = CountingParse(monkeypatch)
    server.routes["/feed.xml"] = Route(rss([ITEMS["water-1"], ITEMS["football-1"]], server.base))
    clock = Clock()
    with Store(tmp_path / "r.db") as store:
        add_feed(store, server.base + "/feed.xml")
        with watcher(store, clock) as w:
            assert w.cycle().new_articles == 2 and counting.entries == [2]
            server.routes["/feed.xml"] = Route(
                rss([ITEMS["water-2"], ITEMS["water-1"], ITEMS["football-1"]], server.base))
            clock.now += EVERY
            report = w.cycle()
            assert (report.new_articles, report.processed) == (1, 1) and counting.entries[-1] == 1
        # A new watcher knows nothing of the items' bytes: one whole parse, nothing new.
        clock.now += EVERY
        with watcher(store, clock) as w:
            report = w.cycle()
            assert (report.polled, report.new_articles) == (1, 0) and counting.entries[-1] == 3
        assert store.count_articles() == 3

