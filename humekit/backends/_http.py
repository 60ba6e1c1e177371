"""HTTP details every Hume API shares: one request with its transport errors mapped, ``Retry-After``, retry logs."""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import httpx
import tenacity

from humekit import errors
from humekit.config import Secret

__all__ = ["Limiter", "http_client", "log_retry", "retry_after_seconds", "send"]

logger = logging.getLogger("humekit.backends")


def http_client(*, timeout: float, transport: httpx.BaseTransport | None = None, base_url: str = "",
                follow_redirects: bool = False) -> httpx.Client:
    """The HTTP client humekit talks through: its user agent, ``timeout`` seconds per read (at most 10 s to
    connect), and ``transport`` (an emulator's in-process one, in tests)."""
    return httpx.Client(base_url=base_url, transport=transport, headers={"user-agent": "humekit"},
                        follow_redirects=follow_redirects, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)))

#: Makes the context manager one request holds while it is in flight (e.g. a lease of a cluster-wide
#: ``distributed.Semaphore``: :mod:`humekit.distributed.budget`). Entered around the request only, never
#: around a backoff sleep, so a waiting retry holds nothing.
Limiter = Callable[[], AbstractContextManager[Any]]


def send(http: httpx.Client, method: str, path: str, *, base_url: str, secret: Secret, limiter: Limiter | None = None,
         **kwargs: Any) -> httpx.Response:
    """One request (inside ``limiter()`` when one is given); a timeout, a dropped connection or a refused header
    becomes a humekit error that never quotes the key (``secret``) and says whether the request can have reached
    the server."""
    started = time.perf_counter()
    try:
        with limiter() if limiter is not None else nullcontext():
            response = http.request(method, path, **kwargs)
    except httpx.TimeoutException as exc:
        raise errors.APITimeoutError(
            f"{method} {path} timed out ({type(exc).__name__}); the API may be slow or unreachable at {base_url}"
        ) from exc
    except httpx.LocalProtocolError:
        # Raised before anything is sent, and its text quotes header values (the key among them): never copied.
        error = errors.APIConnectionError(
            f"{method} {path} could not be sent: httpx refused a request header as invalid (its text is withheld "
            "because it can hold the API key); check the api_key= / HUME_API_KEY value and any headers you set"
        )
        error.request_sent = False
        raise error from None
    except httpx.TransportError as exc:
        error = errors.APIConnectionError(
            f"{method} {path} failed without a response ({type(exc).__name__}: "
            f"{str(exc).replace(secret.reveal(), '********')}); check that {base_url} is reachable"
        )
        # A refused connection proves the request never reached the server.
        error.request_sent = not isinstance(exc, httpx.ConnectError)
        raise error from exc
    logger.debug("%s %s -> %d (%.3f s)", method, path, response.status_code, time.perf_counter() - started)
    return response


def log_retry(state: tenacity.RetryCallState) -> None:
    """Log, at debug level, why a request is tried again and after how long."""
    exc = state.outcome.exception() if state.outcome else None
    wait = state.next_action.sleep if state.next_action else 0.0
    logger.debug("retrying after %s (attempt %d, waiting %.2f s)", type(exc).__name__, state.attempt_number, wait)


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Seconds the server asks to wait: ``retry-after-ms``, ``Retry-After`` (seconds or an HTTP date) or
    ``X-RateLimit-Reset`` (a Unix time, as the official SDKs read it); ``None`` when it says nothing."""
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = response.headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            parsed = email.utils.parsedate_to_datetime(value) if scale == 1.0 else None
            if parsed is not None:
                return max(0.0, parsed.timestamp() - time.time())
    reset = response.headers.get("x-ratelimit-reset")  # a Unix time in seconds, as the official SDK reads it
    try:
        return None if reset is None else max(0.0, float(reset) - time.time())
    except ValueError:
        return None
