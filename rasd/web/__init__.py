"""The rasd web app: stories, copies, actors and quotes in the browser, each page with a JSON twin.

``create_app(store_path, settings, token)`` returns a FastAPI app over a store file. Every page
is read-only (GET); the one write, ``POST /api/articles``, needs the token given at start-up and
is refused outright when none was. Templates autoescape everything and the Content-Security-
Policy forbids inline scripts, so article text, which is untrusted, is only ever text.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rasd.settings import Settings, load_settings
from rasd.store import Store
from rasd.web import api, render, views
from rasd.web.views import StoryFilters, ViewSettings

__all__ = ["WebSettings", "app_from_environment", "create_app", "default_workers", "serve"]

_HERE = Path(str(resources.files("rasd.web")))

#: No inline script, no plugin, no framing, nothing fetched from another origin. Inline SVG
#: and presentation attributes need no 'unsafe-inline'; the CSS is one file under /static.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
)

DAY = r"^\d{4}-\d{2}-\d{2}$"
# Query parameters, validated before a handler runs (a bad one is a 400 in the error shape).
FromQ = Annotated[str | None, Query(alias="from", pattern=DAY)]
ToQ = Annotated[str | None, Query(alias="to", pattern=DAY)]
TextQ = Annotated[str | None, Query(max_length=500)]
PageQ = Annotated[int, Query(ge=1, le=100_000)]
SearchQ = Annotated[str, Query(max_length=500)]


@dataclass(frozen=True, slots=True)
class WebSettings:
    views: ViewSettings = field(default_factory=ViewSettings)
    #: Articles per POST: a 1,000-article batch of news is about 4 MB of JSON and is read and
    #: stored in about a second, short enough not to hold the single writer for long.
    max_records: int = 1000
    #: Request bodies above this are refused before they are read (413), whatever they claim.
    max_body_mb: float = 32
    #: How long ``POST /api/articles?wait=true`` waits for the re-analysis it triggered.
    wait_timeout_s: float = 600
    #: Rendered story pages (and twins) kept until the store changes; 0 turns the cache off.
    #: A big story's first view costs 10-40 ms of CPU and a repeat view under 1 ms. 256: the load
    #: run's readers spread over the 200 biggest stories of the 31k store (pages of 166 kB on
    #: average, 287 kB at most), and 64 pages held a third of them; each server process keeps
    #: its own cache.
    page_cache: int = 256
    #: ... and at most this many MB of them (a big story's twin carries every passage: 1-2 MB).
    page_cache_mb: float = 48


class _SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware): the same headers on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Readers:
    """One read connection per server thread: SQLite connections are not shared across threads,
    and WAL lets every reader see the last committed analysis while the writer works."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.local = threading.local()
        self.all: list[Store] = []
        self.lock = threading.Lock()
        self.changes = 0

    def generation(self) -> int:
        """A number that grows whenever any connection (the API's writers, another program) has
        committed since this thread last asked: SQLite's ``data_version`` tells each connection of
        commits by the others. A thread's first call counts as a change, so a reader opened after
        a commit can never vouch for something cached before it."""
        version = self.get().db.execute("PRAGMA data_version").fetchone()[0]
        if version != getattr(self.local, "version", None):
            self.local.version = version
            with self.lock:
                self.changes += 1
        return self.changes

    def get(self) -> Store:
        store = getattr(self.local, "store", None)
        if store is None:
            store = Store(self.path)
            self.local.store = store
            with self.lock:
                self.all.append(store)
        return store

    def close(self) -> None:
        with self.lock:
            for store in self.all:
                # A connection belongs to its thread; closing from here is safe at shutdown only.
                store.close()
            self.all.clear()


class _Environment(Environment):
    """Jinja2 with ``view.key`` looking in a dict before its attributes.

    The views are plain dicts; Jinja2 tries ``getattr`` first, and the AttributeError raised
    for every dict key made attribute look-ups a third of a story page's render time (2,000
    articles: 2,200 look-ups, 33 of 90 ms under the profiler). The templates call no dict
    method whose name is also a key (only ``kind_names.get``), so the result is the same.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        if type(obj) is dict and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


class _PageCache:
    """Rendered pages by key, each stamped with the readers' generation it was read under; an
    entry from an older generation is never served. The stamp is taken before the page is read,
    so a page that raced a commit carries the older stamp and is dropped."""

    def __init__(self, size: int, max_bytes: int) -> None:
        self.size = size
        self.max_bytes = max_bytes
        self.bytes = 0
        self.pages: OrderedDict[tuple[str, str], tuple[int, Response]] = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key: tuple[str, str], generation: int) -> Response | None:
        with self.lock:
            found = self.pages.get(key)
            if found is None or found[0] != generation:
                return None
            self.pages.move_to_end(key)
        body = found[1]
        return Response(body.body, status_code=body.status_code, media_type=body.media_type)

    def put(self, key: tuple[str, str], generation: int, response: Response) -> Response:
        if self.size > 0 and response.status_code == 200 and len(response.body) <= self.max_bytes:
            with self.lock:
                old = self.pages.pop(key, None)
                if old is not None:
                    self.bytes -= len(old[1].body)
                self.pages[key] = (generation, response)
                self.bytes += len(response.body)
                while len(self.pages) > self.size or self.bytes > self.max_bytes:
                    self.bytes -= len(self.pages.popitem(last=False)[1][1].body)
        return response


def _environment() -> Environment:
    env = _Environment(
        loader=FileSystemLoader(str(_HERE / "templates")),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=render.strip_bidi,
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates are package files: no stat() of three files per page to look for edits.
        auto_reload=False,
    )
    env.filters["day"] = render.day
    env.filters["safe_url"] = render.safe_url
    # when(value) and outlet(name): the two tags every page prints, written once (render.py).
    env.globals["when"] = render.time_tag
    env.globals["outlet"] = render.outlet_tag
    env.filters["short"] = lambda text, n=90: (text if len(text or "") <= n else text[: n - 1] + "…") if text else ""
    env.globals["kind_names"] = {"PER": "شخص", "ORG": "مؤسسة", "LOC": "مكان", "MISC": "أخرى"}
    return env


def _wants_json(request: Request) -> bool:
    path = request.url.path
    return path.endswith(".json") or path.startswith("/api/")


def create_app(
    store_path: str | Path,
    settings: Settings | None = None,
    token: str | None = None,
    web: WebSettings | None = None,
) -> FastAPI:
    """The app over the store at ``store_path`` (created when missing).

    ``token``: the bearer token ``POST /api/articles`` must carry; None or "" refuses every write.
    """
    path = _store_file(store_path)
    settings = settings or load_settings()
    web = web or WebSettings()
    env = _environment()
    writer = api.Writer(path, settings)
    readers = _Readers(path)
    pages = _PageCache(web.page_cache, int(web.page_cache_mb * 1024 * 1024))

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        for name in ("story.html", "stories.html", "search.html", "article.html", "entity.html", "error.html"):
            env.get_template(name)  # compiled before the first reader waits for it, in every process
        if token:
            # One process of several (``--workers``) becomes the analyser now, so that articles
            # posted to the others are analysed even if none is ever posted to it.
            writer.start()
        yield
        writer.close()
        readers.close()

    app = FastAPI(title="rasd", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    app.state.writer = writer
    app.state.readers = readers
    app.state.web = web
    app.mount("/static", StaticFiles(directory=str(_HERE / "static")), name="static")

    def render_page(
        template: str, view: dict[str, Any], json_url: str | None, status: int = 200, **extra: Any
    ) -> Response:
        html = env.get_template(template).render(view=view, json_url=json_url, q=extra.pop("q", ""), **extra)
        return HTMLResponse(html, status_code=status)

    def error(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
        body = {"error": {"status": status, "message": message}}
        if _wants_json(request):
            return JSONResponse(body, status_code=status, headers=headers)
        html = env.get_template("error.html").render(view=body["error"], json_url=None, q="")
        return HTMLResponse(html, status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        messages = {404: "لا توجد صفحة بهذا العنوان", 405: "هذه الطريقة غير مسموحة هنا: الموقع للقراءة فقط"}
        message = exc.detail if isinstance(exc.detail, str) and exc.status_code not in messages else \
            messages.get(exc.status_code, str(exc.detail))
        return error(request, exc.status_code, message, getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'query')}: {e.get('msg', '')}" for e in exc.errors()
        )
        return error(request, 400, f"طلب غير صالح ({problems})")

    def not_found(request: Request, what: str) -> Response:
        return error(request, 404, f"{what} غير موجود")

    # -- stories ---------------------------------------------------------------------------------

    def stories_view(date_from: str | None, date_to: str | None, outlet: str | None, entity: str | None,
                     page_no: int) -> dict[str, Any]:
        filters = StoryFilters(date_from or None, date_to or None, outlet or None, entity or None, page_no)
        view = views.stories(readers.get(), filters, web.views)
        params = {k: v for k, v in (("from", filters.date_from), ("to", filters.date_to),
                                    ("outlet", filters.outlet), ("entity", filters.entity)) if v}
        view["_prev"] = "/?" + urlencode({**params, "page": page_no - 1}) if page_no > 1 else None
        view["_next"] = "/?" + urlencode({**params, "page": page_no + 1}) if page_no < view["pages"] else None
        view["_json"] = "/stories.json" + ("?" + urlencode({**params, "page": page_no}) if params or page_no > 1
                                           else "")
        return view

    @app.get("/", response_class=HTMLResponse)
    def home(date_from: FromQ = None, date_to: ToQ = None, outlet: TextQ = None, entity: TextQ = None,
             page: PageQ = 1) -> Response:
        view = stories_view(date_from, date_to, outlet, entity, page)
        return render_page("stories.html", view, view["_json"])

    @app.get("/stories.json")
    def home_json(date_from: FromQ = None, date_to: ToQ = None, outlet: TextQ = None, entity: TextQ = None,
                  page: PageQ = 1) -> Response:
        return JSONResponse(views.public(stories_view(date_from, date_to, outlet, entity, page)))

    @app.get("/stories/{story_id}.json")
    def story_json(request: Request, story_id: str) -> Response:
        generation = readers.generation()
        cached = pages.get(("twin", story_id), generation)
        if cached is not None:
            return cached
        view = views.story(readers.get(), story_id, web.views, twin=True)
        if view is None:
            return not_found(request, "القصة")
        return pages.put(("twin", story_id), generation, JSONResponse(views.public(view)))

    @app.get("/stories/{story_id}", response_class=HTMLResponse)
    def story_page(request: Request, story_id: str) -> Response:
        generation = readers.generation()
        cached = pages.get(("page", story_id), generation)
        if cached is not None:
            return cached
        view = views.story(readers.get(), story_id, web.views)
        if view is None:
            return not_found(request, "القصة")
        return pages.put(("page", story_id), generation,
                         render_page("story.html", view, f"/stories/{story_id}.json"))

    @app.get("/reuse/{source}/{target}.json")
    def reuse_json(request: Request, source: str, target: str) -> Response:
        view = views.reuse_pair(readers.get(), source, target)
        return not_found(request, "رابط النقل") if view is None else JSONResponse(views.public(view))

    @app.get("/reuse/{source}/{target}", response_class=HTMLResponse)
    def reuse_page(request: Request, source: str, target: str) -> Response:
        view = views.reuse_pair(readers.get(), source, target)
        if view is None:
            return not_found(request, "رابط النقل")
        return render_page("reuse.html", view, f"/reuse/{source}/{target}.json")

    # -- entities --------------------------------------------------------------------------------

    @app.get("/entities.json")
    def entities_json() -> Response:
        return JSONResponse(views.entities(readers.get()))

    @app.get("/entities", response_class=HTMLResponse)
    def entities_page() -> Response:
        return render_page("entities.html", views.entities(readers.get()), "/entities.json")

    @app.get("/entities/{entity_id}.json")
    def entity_json(request: Request, entity_id: str) -> Response:
        view = views.entity(readers.get(), entity_id, web.views)
        return not_found(request, "الكيان") if view is None else JSONResponse(views.public(view))

    @app.get("/entities/{entity_id}", response_class=HTMLResponse)
    def entity_page(request: Request, entity_id: str) -> Response:
        view = views.entity(readers.get(), entity_id, web.views)
        if view is None:
            return not_found(request, "الكيان")
        return render_page("entity.html", view, f"/entities/{entity_id}.json")

    # -- articles --------------------------------------------------------------------------------

    @app.get("/articles/{article_id}.json")
    def article_json(request: Request, article_id: str) -> Response:
        view = views.article(readers.get(), article_id)
        return not_found(request, "المقال") if view is None else JSONResponse(views.public(view))

    @app.get("/articles/{article_id}", response_class=HTMLResponse)
    def article_page(request: Request, article_id: str) -> Response:
        view = views.article(readers.get(), article_id)
        if view is None:
            return not_found(request, "المقال")
        return render_page("article.html", view, f"/articles/{article_id}.json")

    # -- search ----------------------------------------------------------------------------------

    @app.get("/search.json")
    def search_json(q: SearchQ = "", page: PageQ = 1) -> Response:
        return JSONResponse(views.search(readers.get(), q, page, web.views))

    @app.get("/search", response_class=HTMLResponse)
    def search_page(q: SearchQ = "", page: PageQ = 1) -> Response:
        view = views.search(readers.get(), q, page, web.views)
        view["_prev"] = "/search?" + urlencode({"q": q, "page": page - 1}) if page > 1 else None
        view["_next"] = "/search?" + urlencode({"q": q, "page": page + 1}) if view["more"] else None
        return render_page("search.html", view, "/search.json?" + urlencode({"q": q, "page": page}), q=q)

    # -- the write API ---------------------------------------------------------------------------

    # The store's counts and its articles in no story, read again only after a commit: each is a
    # scan (the pending articles 7-50 ms on the 31k store, warm to cold), and clients poll the
    # status while they wait. A cap on the count would not help: with nothing pending, the usual
    # state, the scan must reach the end of the table to know.
    facts: list[tuple[int, dict[str, Any], int]] = []
    facts_lock = threading.Lock()

    def store_facts() -> tuple[dict[str, Any], int]:
        generation = readers.generation()  # stamped before reading, as the page cache does
        with facts_lock:
            if facts and facts[0][0] == generation:
                return facts[0][1], facts[0][2]
        store = readers.get()
        stats, pending = store.stats(), api.count_pending(store.db)
        with facts_lock:
            facts[:] = [(generation, stats, pending)]
        return stats, pending

    @app.get("/api/status")
    def status() -> Response:
        state = writer.state
        stats, pending = store_facts()
        return JSONResponse({
            "stats": stats,
            "analysis": {"requested": state.requested, "finished": state.finished, "running": state.running,
                         "runs": state.runs, "last_seconds": state.last_seconds,
                         "last_articles": state.last_articles, "last_error": state.last_error,
                         "startup_seconds": state.startup_seconds, "analysed": state.analysed,
                         "mode": "incremental",
                         # Several server processes: only one analyses (the others' counters stay
                         # at zero); ``pending`` is read from the store, the same in every process.
                         "this_process": writer.is_analyser, "pending": pending},
            "writes_enabled": bool(token),
        })

    @app.post("/api/articles")
    async def post_articles(request: Request, wait: bool = False) -> Response:
        challenge = {"WWW-Authenticate": 'Bearer realm="rasd"'}
        if not token:
            return error(request, 401, "writes are disabled: start the server with --token (or RASD_TOKEN)",
                         challenge)
        if not api.token_ok(request.headers.get("authorization"), token):
            return error(request, 401, "missing or wrong token: send Authorization: Bearer TOKEN", challenge)
        if "json" not in request.headers.get("content-type", "").lower():
            return error(request, 415, "send the articles as Content-Type: application/json")
        limit = int(web.max_body_mb * 1024 * 1024)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            return error(request, 413, f"the body is over the {web.max_body_mb:g} MB limit; send smaller batches")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > limit:
                return error(request, 413, f"the body is over the {web.max_body_mb:g} MB limit; send smaller batches")
        try:
            records = api.parse_records(bytes(body), web.max_records)
        except api.BadRequest as exc:
            return error(request, 400, str(exc))
        articles, problems = await run_in_threadpool(api.read_records, records)
        stored, ticket = await run_in_threadpool(writer.ingest, articles)
        done = False
        if wait:
            ids = [*stored["added"], *stored["unchanged"], *(v["id"] for v in stored["versions"])]
            done = await run_in_threadpool(writer.wait, ticket, web.wait_timeout_s, ids)
        return JSONResponse({
            **stored,
            "errors": [{"where": e.path, "reason": e.reason} for e in problems],
            "analysis": {"ticket": ticket, "done": done,
                         "error": writer.state.last_error if done else None},
        }, status_code=200 if done or not wait else 202)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> Response:
        # Never a traceback to the client: the shape is the same as every other error.
        return error(request, 500, f"internal error ({type(exc).__name__})")

    app.add_middleware(_SecurityHeaders)
    return app


def _store_file(store_path: str | Path) -> str:
    path = str(store_path)
    if path == ":memory:":
        raise ValueError("the web app needs a store file (each server thread opens its own connection)")
    return path


#: Where ``serve`` hands its options to the worker processes uvicorn starts (each imports
#: :func:`app_from_environment` by name, so the options cannot travel as arguments).
_ENV_DB, _ENV_SETTINGS, _ENV_TOKEN, _ENV_WEB = "RASD_SERVE_DB", "RASD_SERVE_SETTINGS", "RASD_TOKEN", "RASD_SERVE_WEB"


def default_workers() -> int:
    """Server processes when ``--workers`` is not given: two where there are two cores.

    One process renders one page at a time (the interpreter lock), so on the 31k-article store
    four clients queued behind it (story p95 206 ms with 1 process, see docs/web.md for 2). More
    processes than cores only add memory (each holds its own connections and page cache), and the
    clients, the analysis and SQLite want CPU too: two, or one on a single core.
    """
    return max(1, min(2, os.cpu_count() or 1))


def _web_to_json(web: WebSettings) -> str:
    return json.dumps(dataclasses.asdict(web))


def _web_from_json(text: str) -> WebSettings:
    values = json.loads(text)
    return WebSettings(**{**values, "views": ViewSettings(**values["views"])})


def app_from_environment() -> FastAPI:
    """The app of one worker process of ``serve``: store, settings file, token and web settings
    from the environment ``serve`` set before starting the workers."""
    settings_file = os.environ.get(_ENV_SETTINGS) or None
    web = os.environ.get(_ENV_WEB)
    return create_app(os.environ[_ENV_DB], load_settings(settings_file), os.environ.get(_ENV_TOKEN) or None,
                      _web_from_json(web) if web else None)


def serve(store_path: str | Path, host: str, port: int, token: str | None = None,
          settings_file: str | Path | None = None, workers: int = 1, web: WebSettings | None = None) -> None:
    """Run the app under uvicorn until interrupted; ``workers`` > 1 starts that many processes on
    one socket (one of them analyses posted articles, see :mod:`rasd.web.api`), each with ``web``."""
    import uvicorn

    if workers < 1:
        raise ValueError(f"workers must be 1 or more, not {workers}")
    settings = load_settings(settings_file)
    if workers == 1:
        uvicorn.run(create_app(store_path, settings, token, web), host=host, port=port, log_level="warning")
        return
    # Created and migrated here, once: a missing or unreadable store fails now, not in each worker,
    # and the workers do not race to migrate it. Each worker loads the settings file again (a
    # process of its own; uvicorn imports the app by name), already known to be good.
    path = _store_file(store_path)
    Store(path).close()
    os.environ[_ENV_DB] = path
    os.environ[_ENV_SETTINGS] = str(settings_file or "")
    os.environ[_ENV_TOKEN] = token or ""
    os.environ[_ENV_WEB] = _web_to_json(web or WebSettings())
    analyser = None
    if token:
        # The analysis gets a process of its own, which takes the lock before any worker starts:
        # in a worker it shared the interpreter lock with that worker's pages (during an ingest its
        # Python loops held it for whole switch intervals), and the OS shares the cores more fairly.
        # Should it die, the next worker to receive a batch takes the analysis over.
        analyser = multiprocessing.get_context("spawn").Process(
            target=_analyse, args=(path, settings), name="rasd-analysis", daemon=True)
        analyser.start()
        # Ready when the lock file names it (no shared semaphore: one left waiting on a killed peer
        # hangs; and the check only reads the file, so it never keeps the analyser from the lock).
        deadline = time.monotonic() + 60
        while analyser.is_alive() and api.AnalysisLock.holder(path) != analyser.pid and time.monotonic() < deadline:
            time.sleep(0.1)
    from uvicorn.supervisors import Multiprocess

    config = uvicorn.Config("rasd.web:app_from_environment", factory=True, host=host, port=port,
                            workers=workers, log_level="warning")
    try:
        Multiprocess(config, sockets=[_listening_socket(host, port)]).run()
    except KeyboardInterrupt:
        pass
    finally:
        if analyser is not None and analyser.is_alive():
            analyser.terminate()  # SIGTERM: it finishes the batch in hand (one transaction) and exits
            analyser.join(90)


def _listening_socket(host: str, port: int) -> socket.socket:
    """The socket the workers share, made as TCP explicitly.

    uvicorn's own (``Config.bind_socket``) leaves the protocol number 0, and asyncio only turns
    Nagle's algorithm off (TCP_NODELAY) on connections whose socket says TCP: every page sent in
    more than one write then waited for the client's delayed ACK, 40-50 ms a request on loopback
    (measured: a 3 kB static file 2.8 ms with one process, 48 ms with two; 2.2 ms with this socket).
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock


def _analyse(store_path: str, settings: Settings) -> None:
    """The analysing process of ``serve`` with several workers: the API's writer without the app,
    holding the analysis lock until it is told to stop. Where another process already analyses
    the store (another server over it), it exits: the workers take over when that one goes."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())  # Ctrl-C reaches the whole process group
    parent = os.getppid()
    writer = api.Writer(store_path, settings)
    try:
        if not writer.start():
            return
        # A server killed outright (SIGKILL) cannot stop it: it goes when its parent has gone.
        while not stop.wait(1.0) and os.getppid() == parent:
            pass
    finally:
        writer.close()
