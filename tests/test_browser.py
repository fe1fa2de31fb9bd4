"""The app in a real browser: Debian's chromium driven by Playwright against a live uvicorn server.

Skipped, with the reason, when /usr/bin/chromium or the playwright package is missing.
Screenshots go to test-artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from rasd.settings import Settings, load_settings
from tests.test_web import build_sample_store

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
ARABIC = re.compile("[\u0600-\u06ff]{3,}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="no /usr/bin/chromium (apt-get install chromium)"),
]
playwright_sync = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import uvicorn

    from rasd.web import create_app

    settings: Settings = load_settings()
    db = build_sample_store(tmp_path_factory.mktemp("browser") / "sample.db", settings)
    port = _free_port()
    config = uvicorn.Config(create_app(db, settings, None), host="127.0.0.1", port=port, log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"],
        )
        yield b
        b.close()


def _check(page: object, name: str) -> None:
    assert page.evaluate("document.documentElement.dir") == "rtl"  # type: ignore[attr-defined]
    assert page.evaluate("document.documentElement.lang") == "ar"  # type: ignore[attr-defined]
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"  # type: ignore[attr-defined]
    assert ARABIC.search(page.inner_text("main"))  # type: ignore[attr-defined]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 900}, {"width": 390, "height": 844}],
                         ids=["desktop", "phone"])
def test_browse_story_entity_and_search(server: str, browser: object, viewport: dict[str, int]) -> None:
    tag = "desktop" if viewport["width"] > 800 else "phone"
    context = browser.new_context(viewport=viewport, locale="ar")  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))

    page.goto(server + "/")
    _check(page, f"{tag}-1-stories")
    stories = page.locator("ol.stories h2 a")
    assert stories.count() > 0
    story_title = stories.first.inner_text()
    stories.first.click()
    page.wait_for_url(re.compile(r"/stories/[^/]+$"))
    assert page.locator("h1").first.inner_text() == story_title
    _check(page, f"{tag}-2-story")

    entity = page.locator("#summary .chips a.chip")
    if entity.count():
        name = entity.first.locator("bdi").inner_text()
        entity.first.click()
        page.wait_for_url(re.compile(r"/entities/[^/]+$"))
        assert page.locator("h1").first.inner_text() == name
        _check(page, f"{tag}-3-entity")
        page.locator("a[href^='/articles/']").first.click()
    else:
        page.locator("#articles a[href^='/articles/']").first.click()
    page.wait_for_url(re.compile(r"/articles/[^/]+$"))
    _check(page, f"{tag}-4-article")
    # The legend's keys switch highlight kinds off and on (the one script, served from /static).
    key = page.locator("#legend .k.date")
    key.click()
    assert "no-date" in page.locator("#text").get_attribute("class")
    key.click()
    assert "no-date" not in page.locator("#text").get_attribute("class")

    page.fill("header input[name=q]", "فى موسكو")
    page.locator("header form button").click()
    page.wait_for_url(re.compile(r"/search\?"))
    hits = page.locator("ol.hits > li")
    assert hits.count() > 0
    assert page.locator("ol.hits mark").count() > 0
    _check(page, f"{tag}-5-search")
    # Nothing the CSP blocked, no script error.
    assert problems == []
    context.close()
