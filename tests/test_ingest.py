from __future__ import annotations

import gzip
import io
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from rasd.errors import InputError
from rasd.ingest import IngestOptions, discover, read_inputs
from rasd.ingest.decode import decode
from rasd.ingest.http import Fetcher, FetchError
from rasd.models import Article
from rasd.settings import FetchSettings, IngestSettings

INGEST = Path(__file__).parent / "data" / "ingest"


def read(*paths: str | Path, meta: Path | None = None, **options: object) -> tuple[list[Article], list[InputError]]:
    sources, errors = discover([str(p) for p in paths], str(meta) if meta else None)
    articles: list[Article] = []
    for item in read_inputs(sources, IngestOptions(**options)):  # type: ignore[arg-type]
        (errors if isinstance(item, InputError) else articles).append(item)  # type: ignore[arg-type]
    return articles, errors


def block_texts(article: Article, kind: str) -> list[str]:
    return [article.text[b.start : b.end] for b in article.blocks if b.kind == kind]


def test_scraped_text_is_split_into_title_body_boilerplate_and_credit() -> None:
    (article,), errors = read(INGEST / "wire-utf8.txt")
    assert not errors
    assert article.title == "الحكومة تقر خطة لترشيد استهلاك المياه"
    assert len(block_texts(article, "title_repeat")) == 2
    assert block_texts(article, "credit") == ["(بالتزامن مع وكالة أنباء الساحل)"]
    assert article.credit == "وكالة أنباء الساحل"
    boiler = block_texts(article, "boilerplate")
    assert "الأكثر قراءة" in boiler and "منتخب الشباب يتأهل إلى النهائي" in boiler
    assert any(b.startswith("https://") for b in boiler)
    body = " ".join(block_texts(article, "body"))
    assert "أقر مجلس الوزراء" in body and "الأكثر" not in body and "©" not in body
    # The outlet is read from the footer when nothing else names it.
    assert article.source == "صحيفة الأفق"


def test_blocks_cover_the_original_text_without_changing_it() -> None:
    raw = (INGEST / "wire-utf8.txt").read_text(encoding="utf-8")
    (article,), _ = read(INGEST / "wire-utf8.txt")
    assert article.text == raw
    covered = "".join(article.text[b.start : b.end] for b in article.blocks)
    assert covered == "".join(raw.split("\n")).replace("\n", "")


@pytest.mark.parametrize(
    ("name", "encoding"),
    [
        ("book-fair-cp1256.txt", "cp1256"),
        ("book-fair-iso8859-6.txt", "iso-8859-6"),
        ("book-fair-utf16.txt", "utf-16"),
        ("book-fair-utf8sig.txt", "utf-8-sig"),
    ],
)
def test_legacy_and_unicode_encodings_are_detected(name: str, encoding: str) -> None:
    (article,), errors = read(INGEST / name)
    assert not errors
    assert article.encoding == encoding
    assert article.title == "افتتاح معرض الكتاب الدولي بمشاركة 40 دولة"
    assert "الدورة الخامسة عشرة" in article.text


def test_same_article_in_four_encodings_has_one_id() -> None:
    articles, _ = read(*(INGEST / n for n in ("book-fair-cp1256.txt", "book-fair-utf16.txt",
                                               "book-fair-utf8sig.txt")))
    assert len({a.id for a in articles}) == 1


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty.txt", "empty file"),
        ("binary.txt", "binary file"),
        ("invalid-utf8.txt", "not valid UTF-8"),
        ("garbage.html", "binary file"),
        ("malformed.xml", "malformed feed"),
    ],
)
def test_bad_files_give_one_error_naming_the_file(name: str, reason: str) -> None:
    articles, errors = read(INGEST / name)
    assert articles == []
    assert len(errors) == 1
    assert errors[0].path.endswith(name)
    assert reason in errors[0].reason
    assert "\n" not in str(errors[0])


def test_a_bad_file_does_not_stop_the_batch() -> None:
    articles, errors = read(INGEST / "binary.txt", INGEST / "wire-utf8.txt", INGEST / "empty.txt")
    assert len(articles) == 1 and len(errors) == 2


def test_broken_html_is_read_as_far_as_it_goes() -> None:
    articles, errors = read(INGEST / "broken.html")
    assert errors == [] and "نص غير مكتمل" in articles[0].text


def test_html_page_gives_main_text_and_metadata() -> None:
    (article,), errors = read(INGEST / "page.html")
    assert not errors
    assert article.source == "موقع المرصد"
    assert article.published == "2025-06-18T07:45:00+03:00"
    assert article.url == "https://almarsad.example/news/quake-5-8"
    assert article.title == "زلزال بقوة 5.8 درجات يضرب المنطقة الجبلية"
    assert "كمال بن يوسف" in article.text
    assert "الرئيسية" not in article.text and "نتائج الامتحانات" not in article.text


def test_rss_items_with_full_text() -> None:
    articles, errors = read(INGEST / "feed.xml")
    assert not errors
    assert [a.source for a in articles] == ["شبكة النبأ الإخبارية"] * 2
    assert articles[0].published == "2025-06-16T10:30:00+03:00"
    assert articles[0].url == "https://alnaba.example/news/fuel-debate"
    assert "فؤاد العلي" in articles[0].text
    assert articles[0].text.startswith("البرلمان يناقش زيادة أسعار الوقود")


def test_jsonl_records_and_their_errors_by_line() -> None:
    articles, errors = read(INGEST / "records.jsonl")
    assert [a.title for a in articles] == ["حملة تطعيم وطنية", "افتتاح جسر جديد", None]
    assert articles[0].published == "2025-06-14T09:00:00+03:00"
    assert articles[1].published == "2025-06-15"
    assert articles[2].published is None  # bad date reported, article kept
    assert sorted(e.path.rsplit(":", 1)[1] for e in errors) == ["3", "4", "5"]


def test_json_field_mapping() -> None:
    articles, errors = read(INGEST / "records-custom.json",
                            field_map={"text": "body", "title": "headline", "source": "outlet",
                                       "published": "date"})
    assert not errors
    assert articles[0].source == "قناة المدار" and articles[0].published == "2025-06-20"


def test_manifest_metadata_and_missing_rows(tmp_path: Path) -> None:
    articles, errors = read(INGEST / "wire-utf8.txt", INGEST / "book-fair-cp1256.txt",
                            meta=INGEST / "manifest.csv")
    by_path = {Path(a.path or "").name: a for a in articles}
    assert by_path["wire-utf8.txt"].published == "2025-06-16T08:00:00+03:00"
    assert by_path["wire-utf8.txt"].url == "https://alufuq.example/news/water-plan"
    assert by_path["book-fair-cp1256.txt"].source == "الوطن اليوم"
    assert [Path(e.path).name for e in errors] == ["missing-file.txt"]


def test_sidecar_json_gives_metadata_and_is_not_an_article(tmp_path: Path) -> None:
    shutil.copy(INGEST / "book-fair-utf8sig.txt", tmp_path / "a.txt")
    (tmp_path / "a.json").write_text('{"source": "قناة المدار", "published": "2025-06-21"}', encoding="utf-8")
    articles, errors = read(tmp_path)
    assert not errors and len(articles) == 1
    assert (articles[0].source, articles[0].published) == ("قناة المدار", "2025-06-21")


def test_huge_file_is_refused_by_the_documented_limit(tmp_path: Path) -> None:
    big = tmp_path / "huge.txt"
    line = ("خبر طويل جدا " * 20 + "\n").encode("utf-8")
    with big.open("wb") as handle:
        for _ in range(50 * 1024 * 1024 // len(line) + 1):
            handle.write(line)
    articles, errors = read(big, INGEST / "wire-utf8.txt")
    assert len(articles) == 1
    assert "over the 20 MB limit" in errors[0].reason
    # With the limit raised the file is read.
    articles, errors = read(big, settings=IngestSettings(max_file_mb=60))
    assert len(articles) == 1 and not errors


def _warc(path: Path, pages: list[tuple[str, str]]) -> None:
    with path.open("wb") as raw:
        writer = WARCWriter(raw, gzip=path.suffix == ".gz")
        for url, html in pages:
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")],
                                       protocol="HTTP/1.1")
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(html.encode("utf-8")),
                                               http_headers=headers)
            writer.write_record(record)
            record.payload_length = 0
            for stream in (record.raw_stream, getattr(record, "payload", None)):
                if stream is not None and hasattr(stream, "close"):
                    stream.close()


def test_warc_html_responses_become_articles(tmp_path: Path) -> None:
    page = (INGEST / "page.html").read_text(encoding="utf-8")
    archive = tmp_path / "crawl.warc.gz"
    _warc(archive, [("https://almarsad.example/a", page), ("https://almarsad.example/b", page.replace(
        "5.8", "6.1"))])
    articles, errors = read(archive)
    assert not errors
    assert [a.url for a in articles] == ["https://almarsad.example/news/quake-5-8"] * 2 or len(articles) == 2
    assert "6.1" in articles[1].text


def test_truncated_warc_keeps_what_was_read_and_reports_the_rest(tmp_path: Path) -> None:
    page = (INGEST / "page.html").read_text(encoding="utf-8")
    whole = tmp_path / "whole.warc.gz"
    _warc(whole, [(f"https://almarsad.example/{i}", page.replace("5.8", f"{i}.0")) for i in range(1, 4)])
    data = whole.read_bytes()
    with whole.open("rb") as handle:
        archive = ArchiveIterator(handle)
        offsets = [archive.get_record_offset() for _ in archive]
    cut = tmp_path / "cut.warc.gz"
    # Cut in the middle of the last record: a file that ends between records would be whole.
    cut.write_bytes(data[: (offsets[-1] + len(data)) // 2])
    articles, errors = read(cut)
    assert len(errors) == 1 and errors[0].path.endswith("cut.warc.gz")
    assert "broken WARC" in errors[0].reason
    assert len(articles) >= 1


def test_decode_prefers_the_code_page_with_arabic_evidence() -> None:
    text = "وزارة الخارجية تستدعي السفير"
    assert decode(text.encode("cp1256")) == (text, "cp1256")
    assert decode(text.encode("iso-8859-6")) == (text, "iso-8859-6")


# -- the HTTP layer (rasd.ingest.http) ----------------------------------------------------------


FEED_BODY = "<rss><channel><title>أخبار الساحل</title></channel></rss>".encode() * 40


class _Origin:
    """A loopback HTTP/1.1 server that keeps connections open and counts them."""

    def __init__(self, close_after: int = 0) -> None:
        self.connections = 0
        self.body = FEED_BODY
        self.close_after = close_after  # close a connection after this many answers (0: never)
        origin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def setup(self) -> None:
                super().setup()
                origin.connections += 1
                self.answered = 0

            def do_GET(self) -> None:
                self.answered += 1
                if origin.close_after and self.answered >= origin.close_after:
                    self.close_connection = True
                if self.path == "/moved":
                    self._send(301, b"", {"Location": "/feed"})
                    return
                etag = f'"{zlib.crc32(origin.body):x}"'
                if self.headers.get("If-None-Match") == etag:
                    self._send(304, b"", {"ETag": etag})
                    return
                body, extra = origin.body, {"ETag": etag}
                if "gzip" in (self.headers.get("Accept-Encoding") or ""):
                    body, extra["Content-Encoding"] = gzip.compress(body), "gzip"
                self._send(200, body, extra)

            def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                if status != 304:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def origin() -> Iterator[_Origin]:
    server = _Origin()
    yield server
    server.close()


def test_conditional_gets_reuse_a_kept_alive_connection_and_decode_gzip(origin: _Origin) -> None:
    fetcher = Fetcher(FetchSettings(min_interval_per_host_s=0.0))
    try:
        first = fetcher.get(origin.base + "/feed")
        assert (first.status, first.content) == (200, FEED_BODY)
        etag = first.headers["etag"]
        before = origin.connections
        for _ in range(5):
            assert fetcher.get(origin.base + "/feed", {"If-None-Match": etag}).status == 304
        assert origin.connections - before == 1  # five polls, one connection
        origin.body = FEED_BODY + "<!-- خبر جديد -->".encode()
        changed = fetcher.get(origin.base + "/feed", {"If-None-Match": etag})
        assert (changed.status, changed.content) == (200, origin.body)  # sent gzipped, read decoded
        assert changed.headers["etag"] != etag
        assert origin.connections - before == 1
    finally:
        fetcher.close()


def test_a_conditional_get_is_sent_again_when_the_server_closed_the_kept_connection() -> None:
    server = _Origin(close_after=1)
    fetcher = Fetcher(FetchSettings(min_interval_per_host_s=0.0))
    try:
        etag = fetcher.get(server.base + "/feed").headers["etag"]
        for _ in range(3):
            assert fetcher.get(server.base + "/feed", {"If-None-Match": etag}).status == 304
    finally:
        fetcher.close()
        server.close()


def test_a_redirected_conditional_get_is_followed_and_the_size_cap_holds(origin: _Origin) -> None:
    fetcher = Fetcher(FetchSettings(min_interval_per_host_s=0.0))
    small = Fetcher(FetchSettings(min_interval_per_host_s=0.0, max_bytes=len(FEED_BODY) - 1))
    try:
        moved = fetcher.get(origin.base + "/moved", {"If-None-Match": '"old"'})
        assert (moved.status, moved.url, moved.content) == (200, origin.base + "/feed", FEED_BODY)
        with pytest.raises(FetchError, match="larger than"):
            small.get(origin.base + "/feed", {"If-None-Match": '"old"'})  # the cap is on decoded bytes
    finally:
        fetcher.close()
        small.close()


def test_the_http_client_is_built_once_when_workers_start_together(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[object] = []
    real = httpx.Client

    def slow_client(**kwargs: object) -> httpx.Client:
        time.sleep(0.05)  # building one makes an SSL context: long enough for the others to arrive
        client = real(**kwargs)  # type: ignore[arg-type]
        built.append(client)
        return client

    monkeypatch.setattr("rasd.ingest.http.httpx.Client", slow_client)
    fetcher = Fetcher()
    start = threading.Barrier(4)

    def worker() -> httpx.Client:
        start.wait()
        return fetcher.client()

    try:
        with ThreadPoolExecutor(4) as pool:
            clients = list(pool.map(lambda _: worker(), range(4)))
        assert len(built) == 1
        assert all(c is built[0] for c in clients)
    finally:
        fetcher.close()
