"""Tests for humekit.backends._http: the limiter both API clients hold around each request, never while waiting."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from humekit import Client
from humekit.backends.v1.client import V1Client


class Holding:
    """A limiter that counts how many requests hold it now, and what the transport and the clock saw."""

    def __init__(self) -> None:
        self.now = 0
        self.entered = 0
        self.during_requests: list[int] = []
        self.during_sleeps: list[int] = []
        self._lock = threading.Lock()

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            self.now += 1
            self.entered += 1
        try:
            yield
        finally:
            with self._lock:
                self.now -= 1

    def sleep(self, seconds: float) -> None:
        self.during_sleeps.append(self.now)

    def time(self) -> float:
        return 0.0


def busy_then(body: bytes, limiter: Holding) -> httpx.MockTransport:
    """A transport answering 503 once, then 200 with ``body``, noting how many hold the limiter at each request."""
    answers = iter([httpx.Response(503, json={"message": "busy", "code": "server_busy"}),
                    httpx.Response(200, content=body)])

    def handle(request: httpx.Request) -> httpx.Response:
        limiter.during_requests.append(limiter.now)
        return next(answers)

    return httpx.MockTransport(handle)


@pytest.mark.parametrize("api", ["v1", "v0"])
def test_each_request_holds_the_limiter_and_a_retry_wait_does_not(api: str) -> None:
    """A request retried after a 503 enters the limiter once per attempt; the backoff sleep holds none."""
    limiter = Holding()
    client: Any
    if api == "v1":
        client = V1Client(api_key="k", base_url="http://hume.test", limiter=limiter, clock=limiter,
                          transport=busy_then(b'{"runs": [], "next_cursor": null}', limiter))
        assert client.list_runs() == {"runs": [], "next_cursor": None}
    else:
        client = Client(api_key="k", base_url="http://hume.test", limiter=limiter, clock=limiter,
                        transport=busy_then(b"[]", limiter))
        assert client.list_jobs() == []
    assert limiter.during_requests == [1, 1]  # each attempt inside its own lease
    assert limiter.during_sleeps == [0]  # the backoff between them holds nothing
    assert limiter.entered == 2 and limiter.now == 0


def test_a_request_that_fails_without_an_answer_gives_its_lease_back() -> None:
    """A dropped connection (raised from inside the limiter) still leaves the limiter released."""
    limiter = Holding()

    def drop(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = V1Client(api_key="k", base_url="http://hume.test", limiter=limiter, clock=limiter, max_retries=1,
                      transport=httpx.MockTransport(drop))
    with pytest.raises(Exception, match="failed without a response"):
        client.list_runs()
    assert limiter.entered == 2 and limiter.now == 0 and limiter.during_sleeps == [0]
