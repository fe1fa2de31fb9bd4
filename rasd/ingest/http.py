"""The one replaceable HTTP layer: timeouts, a size cap and a polite per-host rate limit."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from rasd.settings import FetchSettings


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    content: bytes
    headers: dict[str, str]


class FetchError(Exception):
    """A fetch failed; the message names the URL and the reason."""


@dataclass
class Fetcher:
    """GETs with a per-host minimum interval, so rasd never hammers a server."""

    settings: FetchSettings = field(default_factory=FetchSettings)
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    _last: dict[str, float] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _client: httpx.Client | None = None

    def _wait_turn(self, host: str) -> None:
        with self._lock:
            last = self._last.get(host)
            now = self.clock()
            if last is not None and now - last < self.settings.min_interval_per_host_s:
                self.sleep(self.settings.min_interval_per_host_s - (now - last))
            self._last[host] = self.clock()

    def get(self, url: str, headers: dict[str, str] | None = None) -> Response:
        host = urlsplit(url).netloc
        if not host:
            raise FetchError(f"{url}: not an absolute http(s) URL")
        self._wait_turn(host)
        if self._client is None:
            self._client = httpx.Client(
                timeout=self.settings.timeout_s,
                follow_redirects=True,
                max_redirects=5,
                headers={"User-Agent": self.settings.user_agent},
            )
        try:
            with self._client.stream("GET", url, headers=headers or {}) as response:
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > self.settings.max_bytes:
                        raise FetchError(f"{url}: larger than {self.settings.max_bytes} bytes")
                    chunks.append(chunk)
                return Response(str(response.url), response.status_code, b"".join(chunks),
                                dict(response.headers))
        except httpx.HTTPError as exc:
            raise FetchError(f"{url}: {type(exc).__name__}: {exc}") from exc

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
