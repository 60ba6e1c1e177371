"""A webhook receiver: verify, record durably in SQLite, acknowledge fast, then run your handlers.

Every accepted event is written to the ``webhook_events`` table *before* the 200 is sent, under a
dedupe key that is the same for every redelivery of the same event (see ``dedupe_key`` in
:mod:`humekit.webhooks.events`: ``event_name + chat_id`` for EVI, ``job_id + status`` for batch callbacks).
Handlers run afterwards on one worker thread; each event is claimed atomically in the table, so
it is handled once even when Hume delivers it twice at the same moment, and events recorded but
not yet handled when the process stopped are handled after the next start.

Who may deliver what is decided in :mod:`humekit.webhooks.authorization`: batch job callbacks by the
unguessable ``?token=`` that :meth:`WebhookReceiver.callback_url` puts in their URL (or an HMAC), EVI
events only by a valid ``X-Hume-AI-Webhook-*`` HMAC with a fresh timestamp. A receiver with no signing
secret cannot authenticate EVI events, says so once at start-up (a log warning) and refuses them with
401 ``no_signing_secret``, unless built with ``accept_unsigned_events=True``. A random token is generated
when none is given: there is no open mode.

The parts: this module (the endpoint, serving, and the public methods), :mod:`~humekit.webhooks.store`
(the table), :mod:`~humekit.webhooks.handlers` (the worker) and :mod:`~humekit.webhooks.waiting`.

Usage in a notebook::

    with WebhookReceiver(secret=os.environ["HUME_WEBHOOK_SIGNING_KEY"]) as receiver:
        receiver.on("chat_ended", lambda event: print(event.chat_id))
        url = receiver.start()            # http://127.0.0.1:<free port>
        ...
        receiver.events()                 # a DataFrame of everything recorded

Or mount ``receiver.app`` in your own Starlette/FastAPI app (call ``receiver.start_worker()``).
"""

from __future__ import annotations

import logging
import os
import secrets
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlencode

import pandas as pd
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from humekit.clock import Clock, SystemClock
from humekit.errors import ConfigurationError, MalformedPayloadError, WebhookVerificationError
from humekit.pipeline.ledger.location import parse_location
from humekit.webhooks.authorization import authorize, proven_credentials, rejection_reason
from humekit.webhooks.events import Event, parse_event
from humekit.webhooks.handlers import Handler, HandlerWorker
from humekit.webhooks.signing import Secret, signing_keys
from humekit.webhooks.store import WebhookStore
from humekit.webhooks.waiting import received_events, wait_for_events

__all__ = ["DEFAULT_LEDGER", "WebhookReceiver"]

logger = logging.getLogger("humekit.webhooks.receiver")

#: Where events are recorded unless ``ledger=`` says otherwise (relative to the working directory).
DEFAULT_LEDGER = "humekit-webhooks.sqlite"
_JSON_TYPES = ("application/json", "text/json")


class CallbackReceiver(Protocol):
    """What ``measure(callback=...)`` needs from a receiver of batch job callbacks.

    :class:`WebhookReceiver` is one; any object with these two methods can stand in for it (e.g. a
    receiver running in another process that you reach through a shared store).
    """

    def callback_url(self, *, run: str) -> str:
        """The public URL Hume should call back, carrying ``run`` (this measure call's id) as a query parameter."""
        ...

    def received(self, ids: Iterable[str], *, event_name: str) -> Mapping[str, Event]:
        """The events already recorded for these job ids (``event_name="job"``), without waiting."""
        ...


def _events_file(ledger: str | os.PathLike[str] | None) -> Path:
    """The SQLite file a receiver keeps its events in (a URL, even a job ledger's PostgreSQL one, is refused)."""
    location = parse_location(ledger if ledger is not None else DEFAULT_LEDGER)
    if not isinstance(location, Path):
        raise ConfigurationError(f"WebhookReceiver(ledger={location.display!r}): a webhook receiver keeps its events "
                                 "in a SQLite file on the machine that receives them; pass ledger= a file's path (the "
                                 "job ledger given to measure can still be the PostgreSQL database)")
    return location


class WebhookReceiver:
    """Receive Hume webhooks and batch callbacks into a durable SQLite table.

    Args:
        secret: the HMAC key(s) (``HUME_WEBHOOK_SIGNING_KEY``, or the API key); defaults to the
            ``HUME_WEBHOOK_SIGNING_KEY`` environment variable when set.
        ledger: the SQLite file; defaults to ``./humekit-webhooks.sqlite`` (:data:`DEFAULT_LEDGER`) so
            events survive restarts. A relative path is resolved against the working directory now. Events
            stay in a file on the machine that receives them, even when the job ledger is a PostgreSQL
            database (a URL here is refused).
        max_body_bytes: larger bodies get 413 (default 256 MiB: a batch callback carries the whole
            job's predictions, about 1 MB per minute of video with face, prosody and language).
        tolerance: the HMAC timestamp window in seconds, both ways.
        callback_token: accepts unsigned **batch job callbacks** whose ``?token=`` equals it (Hume
            does not document their signing); generated when not given. It never authenticates an
            EVI event. A request that carries HMAC headers must verify against ``secret`` whatever
            its token.
        clock: where "now" comes from for the timestamp window (share the emulator's virtual clock).
        accept_unsigned_events: with no ``secret``, accept EVI events that nobody can authenticate
            (recorded with ``auth="unsigned"``). Off by default: anyone who can reach the receiver
            could then trigger your ``chat_ended`` handlers. Only for a receiver no one else can reach.

    Without a secret, EVI events cannot be authenticated: the receiver logs one warning when built
    and refuses them (401, ``no_signing_secret``) unless ``accept_unsigned_events=True``.
    """

    def __init__(
        self,
        *,
        secret: Secret | None = None,
        ledger: str | os.PathLike[str] | None = None,
        max_body_bytes: int = 256 * 1024 * 1024,
        tolerance: float = 180,
        callback_token: str | None = None,
        clock: Clock | None = None,
        accept_unsigned_events: bool = False,
    ):
        if secret is None:
            secret = os.environ.get("HUME_WEBHOOK_SIGNING_KEY") or None
        if callback_token is not None and not callback_token:
            raise ConfigurationError("callback_token must be a non-empty string (or None)")
        if secret:
            signing_keys(secret)  # fail now, not on the first delivery, for [""] or a wrong type
        self._secret = secret
        self.accept_unsigned_events = bool(accept_unsigned_events)
        if not secret:
            logger.warning(
                "this webhook receiver has no signing secret, so EVI events (chat_started, chat_ended, "
                "tool_call) cannot be authenticated and will be %s; batch job callbacks are accepted by their "
                "callback token. Pass secret= or set HUME_WEBHOOK_SIGNING_KEY to accept signed EVI events.",
                "accepted UNAUTHENTICATED (accept_unsigned_events=True)" if accept_unsigned_events else "refused")
        # Always a token: Hume documents no signature for batch callbacks, so even with a secret (for
        # EVI) they authenticate by the token that callback_url() puts in their query string.
        self.callback_token = callback_token or secrets.token_urlsafe(24)
        self.max_body_bytes = max_body_bytes
        self.tolerance = tolerance
        self.clock: Clock = clock or SystemClock()
        self.ledger = _events_file(ledger)
        self._store = WebhookStore(self.ledger)
        self._worker = HandlerWorker(self._store)
        self._server: Any = None
        self._thread: threading.Thread | None = None
        self.url: str | None = None
        self.app = Starlette(routes=[Route("/{path:path}", self._endpoint, methods=["GET", "POST"])])

    def __repr__(self) -> str:
        auth = "hmac" if self._secret else "token"
        return f"WebhookReceiver(url={self.url!r}, ledger={str(self.ledger)!r}, auth={auth!r})"

    # -- handlers ----------------------------------------------------------------------------
    def on(self, event_name: str, handler: Handler | None = None) -> Any:
        """Register ``handler(event)`` for ``event_name``; usable as a decorator.

        Args:
            event_name: ``chat_started``, ``chat_ended``, ``tool_call``, ``job`` (batch callbacks),
                a future event name, or ``*`` for every event.
            handler: the function; omit it to use ``@receiver.on("chat_ended")``.

        Returns:
            The handler (so decorating leaves the function usable).
        """

        def register(fn: Handler) -> Handler:
            return self._worker.register(event_name, fn)

        return register if handler is None else register(handler)

    # -- serving -----------------------------------------------------------------------------
    def start(self, host: str = "127.0.0.1", port: int = 0, *, timeout: float = 10.0) -> str:
        """Serve on ``host:port`` (a free loopback port by default) in a background thread.

        Returns:
            The base URL, e.g. ``http://127.0.0.1:53211``; also :attr:`url`.
        """
        import uvicorn

        if self._thread is not None:
            return self.url or ""
        self.start_worker()
        config = uvicorn.Config(self.app, host=host, port=port, log_level="warning", lifespan="off",
                                access_log=False, timeout_graceful_shutdown=2)  # fmt: skip
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, name="humekit-webhook-receiver", daemon=True)
        thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
                raise ConfigurationError(f"the webhook receiver could not start on {host}:{port} (port in use?)")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        self._server, self._thread = server, thread
        self.url = f"http://{'[%s]' % bound[0] if ':' in bound[0] else bound[0]}:{bound[1]}"
        return self.url

    def stop(self) -> None:
        """Stop serving and stop the handler worker (pending events stay recorded)."""
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(timeout=10)
            self._server = self._thread = None
            self.url = None
        self._worker.stop()

    def close(self) -> None:
        """Stop, then close the ledger."""
        self.stop()
        self._store.close()

    def __enter__(self) -> WebhookReceiver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def callback_url(self, path: str = "/", *, base_url: str | None = None, **params: str) -> str:
        """The URL to give Hume as ``callback_url``: ``base_url`` (default :attr:`url`) + path + token.

        Args:
            path: appended to the base URL.
            base_url: a public URL that reaches this receiver (e.g. a tunnel); defaults to :attr:`url`.
            **params: extra query parameters, kept in the callback (e.g. ``run="2026-11-24"``).
        """
        base = base_url or self.url
        if base is None:
            raise ConfigurationError("the receiver is not serving: call receiver.start() or pass base_url=")
        query = {**params, **({"token": self.callback_token} if self.callback_token else {})}
        return base.rstrip("/") + "/" + path.lstrip("/") + (f"?{urlencode(query)}" if query else "")

    # -- HTTP --------------------------------------------------------------------------------
    async def _endpoint(self, request: Request) -> JSONResponse:
        if request.method == "GET":
            return JSONResponse({"status": "ok", "service": "humekit webhook receiver"})
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body_bytes):
            status = 413 if length.isdigit() else 400
            return _reject(status, "body_too_large" if status == 413 else "bad_content_length",
                           f"the body must be at most {self.max_body_bytes} bytes")  # fmt: skip
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if kind and kind not in _JSON_TYPES and not kind.endswith("+json"):
            return _reject(400, "unsupported_content_type", f"expected application/json, got {kind!r}")
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body_bytes:
                    return _reject(413, "body_too_large", f"the body must be at most {self.max_body_bytes} bytes")
                chunks.append(chunk)
        except ClientDisconnect:
            return _reject(400, "client_disconnected", "the body did not arrive")
        body = b"".join(chunks)
        try:
            credentials = proven_credentials(body, request.headers, request.query_params.get("token"),
                                             secret=self._secret, callback_token=self.callback_token,
                                             tolerance=self.tolerance, clock=self.clock)  # fmt: skip
            try:
                event = parse_event(body)
            except MalformedPayloadError as exc:
                if not credentials:  # an anonymous sender learns nothing about how bodies are parsed
                    self._authorize(None, credentials)
                return _reject(400, "malformed_payload", str(exc))
            auth = self._authorize(event, credentials)
        except WebhookVerificationError as exc:
            return _reject(401, rejection_reason(exc), str(exc))
        new, deliveries = self._store.record(event, body, auth)
        if new:
            self._worker.enqueue(event.dedupe_key)
        return JSONResponse({"status": "success" if new else "duplicate", "event_id": event.dedupe_key,
                             "deliveries": deliveries})  # fmt: skip

    def _authorize(self, event: Event | None, credentials: set[str]) -> str:
        return authorize(event, credentials, secret=self._secret, accept_unsigned_events=self.accept_unsigned_events)

    # -- handling ----------------------------------------------------------------------------
    def start_worker(self) -> None:
        """Start the handler thread (done by :meth:`start`; call it yourself when mounting :attr:`app`)."""
        self._worker.start()

    def retry(self, event_ids: Iterable[str] | None = None, *, states: Sequence[str] = ("failed",)) -> int:
        """Hand recorded events to the handlers again, e.g. after fixing a handler.

        Args:
            event_ids: only these events (``event_id`` column); default every event in ``states``.
            states: which states to retry; add ``"handling"`` for events a crash interrupted
                mid-handler (they are not retried automatically: handlers run at most once).

        Returns:
            How many events were queued.
        """
        queued = self._store.requeue(event_ids, states)
        self.start_worker()
        for event_id in queued:
            self._worker.enqueue(event_id)
        return len(queued)

    # -- reading -----------------------------------------------------------------------------
    def events(self, event_name: str | None = None, *, state: str | None = None) -> pd.DataFrame:
        """Every recorded event, oldest first, with its parsed ``event`` object.

        Args:
            event_name: only this kind (``chat_ended``, ``job``…).
            state: only this handling state (``pending``, ``handling``, ``handled``, ``failed``).

        Returns:
            Columns ``event_id, event_name, subject_id, status, received_at, deliveries, auth, state,
            attempts, error, handled_at, payload, event``; times are UTC datetimes.
        """
        return self._store.events(event_name, state=state)

    def wait_for(
        self,
        ids: str | Iterable[str],
        *,
        timeout: float = 60.0,
        event_name: str | Sequence[str] = ("job", "chat_ended"),
        handled: bool = False,
    ) -> dict[str, Event]:
        """Block until an event arrived for every id (a batch ``job_id`` or an EVI ``chat_id``).

        Args:
            ids: the job or chat ids.
            timeout: seconds (real time) to wait at most.
            event_name: which kinds count; by default a job callback or a ``chat_ended``.
            handled: also wait until the handlers have run (state ``handled`` or ``failed``).

        Returns:
            ``{id: event}`` for every id.

        Raises:
            WaitTimeoutError: some ids got no event in time (``.pending`` lists them).
        """
        return wait_for_events(self._store, ids, timeout=timeout, event_name=event_name, handled=handled)

    def received(self, ids: str | Iterable[str], *, event_name: str | Sequence[str] = "job") -> dict[str, Event]:
        """The events already recorded for these ids (batch ``job_id`` or EVI ``chat_id``), without waiting."""
        return received_events(self._store, ids, event_name=event_name)


def _reject(status: int, reason: str, message: str) -> JSONResponse:
    return JSONResponse({"status": "rejected", "reason": reason, "message": message}, status_code=status)
