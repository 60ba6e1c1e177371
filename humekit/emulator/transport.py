"""The in-process httpx transport of every emulator: no sockets, the same answers as the loopback server."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from humekit.emulator.wire import EmuRequest, EmuResponse

__all__ = ["in_process_transport"]


def in_process_transport(handle: Callable[[EmuRequest], EmuResponse]) -> httpx.MockTransport:
    """An httpx transport that hands each request to ``handle``; a dropped connection raises
    :class:`httpx.RemoteProtocolError`, as a real server closing the socket does."""

    def answer(request: httpx.Request) -> httpx.Response:
        response = handle(
            EmuRequest(
                method=request.method,
                path=request.url.path,
                query_string=request.url.query.decode("ascii"),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=request.read(),
            )
        )
        if response.drop:
            raise httpx.RemoteProtocolError("Server disconnected without sending a response.", request=request)
        return httpx.Response(response.status, headers=response.headers, content=response.body, request=request)

    return httpx.MockTransport(answer)
