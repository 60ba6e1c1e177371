"""Serve an emulator handler over real HTTP/1.1 on loopback, with keep-alive.

The standard library's threading HTTP server is enough here and lets a fault drop a connection
for real (the client sees the socket close with no response), which an ASGI server cannot do.
"""

from __future__ import annotations

import socket
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import httpx

from humekit.emulator.transport import in_process_transport
from humekit.emulator.wire import EmuRequest, EmuResponse

__all__ = ["LoopbackServer", "ServedEmulator"]

_MAX_BODY = 2 * 1024**3  # refuse absurd bodies before reading them


class LoopbackServer:
    """A background HTTP server that hands every request to ``handler``."""

    def __init__(self, handler: Callable[[EmuRequest], EmuResponse], *, host: str = "127.0.0.1", port: int = 0):
        self._handler = handler
        self._server = _Server((host, port), _make_request_handler(handler))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host.decode() if isinstance(host, bytes) else host}:{port}"

    def start(self) -> str:
        """Start serving in a daemon thread; returns the base URL."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._server.serve_forever, name="humekit-emulator", daemon=True)
            self._thread.start()
        return self.url

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()


class ServedEmulator:
    """What every emulator does to be served: on loopback (``with emu:``), or in-process (``emu.transport()``).

    A subclass sets ``_host``, ``_port`` and ``_server = None`` and answers requests in :meth:`handle`.
    """

    IN_PROCESS_ORIGIN: ClassVar[str]
    r"""The origin used for URLs when the emulator is only used in-process (never resolved)."""
    _host: str
    _port: int
    _server: LoopbackServer | None

    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one framework-free request (what both transports call)."""
        raise NotImplementedError

    def start(self) -> str:
        """Serve real HTTP on loopback in a background thread; returns :attr:`url`."""
        if self._server is None:
            self._server = LoopbackServer(self.handle, host=self._host, port=self._port)
            self._server.start()
        return self.url

    def stop(self) -> None:
        """Stop the HTTP server."""
        if self._server is not None:
            self._server.stop()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def transport(self) -> httpx.MockTransport:
        """An in-process httpx transport answering exactly like the HTTP server."""
        return in_process_transport(self.handle)

    @property
    def url(self) -> str:
        """Base URL: the loopback server's when serving, else a never-resolved in-process origin."""
        return self._server.url if self._server is not None else self.IN_PROCESS_ORIGIN


class _Incomplete(ValueError):
    """The request body ended before its declared length: the client is gone."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def handle_error(self, request: socket.socket | tuple[bytes, socket.socket], client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return  # a client that vanished (killed, timed out) is normal here, not a server error
        super().handle_error(request, client_address)


def _make_request_handler(handler: Callable[[EmuRequest], EmuResponse]) -> type[BaseHTTPRequestHandler]:
    class RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "humekit-emulator"

        def log_message(self, format: str, *args: object) -> None:  # quiet: the app keeps its own log
            pass

        def _serve(self) -> None:
            try:
                body = self._read_body()
            except _Incomplete:
                # The client went away mid-body (a crash, a dropped connection): like any HTTP server,
                # never act on a partial request (a truncated upload must not become a job).
                self.close_connection = True
                return
            except ValueError as exc:
                self.send_error(400, str(exc))
                return
            parts = urlsplit(self.path)
            request = EmuRequest(
                method=self.command,
                path=parts.path,
                query_string=parts.query,
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            response = handler(request)
            if response.drop:
                self.close_connection = True
                try:
                    self.connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                return
            self.send_response(response.status)
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def _read_body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("Content-Length") or 0)
            if length > _MAX_BODY:
                raise ValueError("request body too large")
            body = self.rfile.read(length) if length else b""
            if len(body) < length:
                raise _Incomplete(f"the connection closed after {len(body)} of {length} body bytes")
            return body

        def _read_chunked(self) -> bytes:
            chunks: list[bytes] = []
            total = 0
            while True:
                line = self.rfile.readline()
                if not line:
                    raise _Incomplete("the connection closed inside a chunked body")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                total += size
                if total > _MAX_BODY:
                    raise ValueError("request body too large")
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    raise _Incomplete("the connection closed inside a chunk")
                chunks.append(chunk)
                self.rfile.readline()

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

    return RequestHandler
