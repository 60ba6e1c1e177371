"""Tests for humekit.backends.v1.downloads: files fetched from URLs on a loopback server."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import humekit
from humekit.backends.v1.downloads import Downloads

_PIECE = b"\0" * (64 << 10)


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    failures: int = 0
    r"""503 answers before the body is served."""
    streamed: int = 0
    r"""When set: serve this many bytes with no Content-Length (the server closes the connection at the end)."""
    content_type: str = "application/octet-stream"
    pause: float = 0.0
    r"""Seconds between two pieces of a streamed body (a slow host)."""


@dataclass
class MediaServer:
    """A loopback HTTP server of routes, recording every request's path and headers."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    r"""Path -> the bytes of a streamed body written before the client hung up (or all of them)."""

    def serve(self, path: str, **route: object) -> str:
        self.routes[path] = Route(**route)  # type: ignore[arg-type]
        return f"{self.url}{path}"

    def hits(self, path: str) -> int:
        return sum(p == path for p, _ in self.requests)


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            server.requests.append((self.path, dict(self.headers.items())))
            route = server.routes.get(self.path)
            if route is None or route.failures:
                if route is not None:
                    route.failures -= 1
                self.send_error(404 if route is None else 503)
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.streamed:
                self.end_headers()
                self._stream(route.streamed, route.pause)
                return
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def _stream(self, size: int, pause: float) -> None:
            written = 0
            try:
                while written < size:
                    time.sleep(pause)
                    self.wfile.write(_PIECE)
                    self.wfile.flush()
                    written += len(_PIECE)
            except OSError:  # the client hung up
                pass
            finally:
                server.written[self.path] = written

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[MediaServer]:
    """A media server on 127.0.0.1 (HTTP/1.0: one request per connection), stopped after the test."""
    media = MediaServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(media))
    httpd.daemon_threads = True
    media.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield media
    httpd.shutdown()
    httpd.server_close()


def test_the_limit_aborts_a_stream_without_reading_the_whole_body(server: MediaServer, tmp_path: Path) -> None:
    """A body with no Content-Length is cut off once it passes the limit: most of it is never sent, none is kept."""
    total = 256 << 20
    url = server.serve("/endless.wav", streamed=total)
    downloads = Downloads(tmp_path / "downloads", max_bytes=1 << 20)
    with pytest.raises(humekit.DownloadError, match="more than 1,048,576 bytes arrived") as caught:
        downloads.fetch(url)
    assert caught.value.reason == "too_large" and caught.value.url == url
    deadline = time.monotonic() + 30
    while "/endless.wav" not in server.written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.written["/endless.wav"] < total // 4  # the server stopped long before the end
    assert list((tmp_path / "downloads").iterdir()) == []  # the partial file was removed


def test_a_download_is_kept_under_a_hash_of_its_url(server: MediaServer, tmp_path: Path) -> None:
    """Downloads.fetch saves the body once, named by the URL's hash (no extension); fetching again is free."""
    body = bytes(range(256)) * 5000  # 1.28 MB: more than one piece
    url = server.serve("/x/talk.wav", body=body)
    downloads = Downloads(tmp_path / "d")
    path = downloads.fetch(url)
    assert path.read_bytes() == body and path == downloads.path(url)
    assert path.parent == tmp_path / "d" and len(path.name) == 32 and path.suffix == ""
    assert downloads.fetch(url) == path == downloads.cached(url) and server.hits("/x/talk.wav") == 1
    assert downloads.cached(f"{server.url}/x/other.wav") is None


def test_an_interrupt_stops_the_downloads_under_way(server: MediaServer, tmp_path: Path) -> None:
    """Ctrl-C while two slow downloads run: both stop long before their end and leave no partial file."""
    total = 256 << 20
    urls = [server.serve(f"/slow{n}.wav", streamed=total, pause=0.01) for n in range(2)]
    downloads = Downloads(tmp_path / "downloads")
    interrupt = threading.Timer(0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    interrupt.start()
    with pytest.raises(KeyboardInterrupt):
        downloads.fetch_all(urls, concurrency=2)
    interrupt.join()
    assert {path for path, _ in server.requests} == {"/slow0.wav", "/slow1.wav"}
    deadline = time.monotonic() + 30
    while len(server.written) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(server.written[f"/slow{n}.wav"] < total // 4 for n in range(2))
    assert list((tmp_path / "downloads").iterdir()) == []
