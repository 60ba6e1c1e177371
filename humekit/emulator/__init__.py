"""A faithful local emulator of Hume's v0 batch Expression Measurement API (sunset 2026-06-14).

It also serves EVI's chat endpoints (list, paged events, audio reconstruction) with synthetic
chats, and can simulate chats that deliver signed ``chat_started``/``chat_ended`` webhooks
(``emu.evi.simulate_chat``).

One implementation, three ways to use it::

    with Emulator() as emu:                 # real HTTP on a free loopback port
        client = humekit.Client(base_url=emu.url, api_key=emu.api_key)
    emu = Emulator(); emu.transport()       # in-process httpx transport, no sockets
    python -m humekit.emulator --port 8000  # standalone, for your own pipelines

**Scores are synthetic.** They are deterministic noise seeded by each input's content, with no
model behind them; only the structure (sources, files, segments, frames, labels) is real.

Hume's live v1 API (synchronous uploads, runs) has its own emulator, served the same ways:
:class:`humekit.emulator.v1.V1Emulator` (``humekit emulator --api v1``); its docstring lists the
choices it makes where Hume's v1 contract is unconfirmed.
"""

from __future__ import annotations

import os
from pathlib import Path
import secrets
from typing import Any
from urllib.parse import urlsplit

import httpx

from humekit.clock import Clock, SystemClock, VirtualClock
from humekit.emulator.app import EmulatorApp, RequestRecord
from humekit.emulator.callbacks import CallbackDispatcher, Delivery
from humekit.emulator.evi import EviEmulator
from humekit.emulator.faults import FaultInjector, Faults
from humekit.emulator.media_store import MediaStore
from humekit.emulator.server import LoopbackServer, ServedEmulator
from humekit.emulator.store import Job, Schedule
from humekit.emulator.wire import EmuRequest, EmuResponse
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits

__all__ = ["Delivery", "Emulator", "Faults", "RequestRecord", "Schedule", "VirtualClock"]

#: The origin used for URLs when the emulator is only used in-process (never resolved).
IN_PROCESS_ORIGIN = "http://emulator.humekit.invalid"


class Emulator(ServedEmulator):
    """A Hume-compatible batch API on loopback or in-process.

    Args:
        api_key: the key clients must send in ``X-Hume-Api-Key`` (a random one by default).
        schedule: how long jobs stay QUEUED and IN_PROGRESS.
        faults: what goes wrong and how often (:class:`Faults`).
        limits: the limits enforced (Hume's documented ones by default).
        clock: where time comes from; a :class:`~humekit.clock.VirtualClock` makes jobs finish
            as soon as a client sleeps on it.
        media_dir: a folder served under ``/media/`` for URL jobs.
        webhook_signing_key: sign ``callback_url`` deliveries with EVI-style HMAC headers.
        callback_transport: deliver callbacks through this httpx transport (e.g. an in-process app).
        allow_network_fetch: let URL jobs fetch non-loopback URLs (off: only ``/media/`` and loopback).
        host, port: where :meth:`start` listens (a free loopback port by default).
        jobs_file: keep the jobs in this JSON file: loaded when it exists, written by :meth:`stop`,
            so an emulator restarted with the same file still knows (and finishes) earlier jobs.
    """

    IN_PROCESS_ORIGIN = IN_PROCESS_ORIGIN

    def __init__(
        self,
        *,
        api_key: str | None = None,
        schedule: Schedule = Schedule(),
        faults: Faults = Faults(),
        limits: Limits = DEFAULT_LIMITS,
        clock: Clock | None = None,
        media_dir: str | os.PathLike[str] | None = None,
        webhook_signing_key: str | None = None,
        callback_transport: httpx.BaseTransport | None = None,
        allow_network_fetch: bool = False,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        jobs_file: str | os.PathLike[str] | None = None,
    ):
        self._api_key = api_key or f"emulator-{secrets.token_urlsafe(18)}"
        self.clock: Clock = clock or SystemClock()
        self.media = MediaStore(media_dir)
        self._allow_network_fetch = allow_network_fetch
        self._host, self._port = host, port
        self._server: LoopbackServer | None = None
        injector = FaultInjector(faults)
        self._callbacks = CallbackDispatcher(
            clock=self.clock,
            body=self._callback_body,
            lose=lambda: injector.happens(faults.callback_loss_rate),
            signing_key=webhook_signing_key,
            transport=callback_transport,
        )
        self.evi = EviEmulator(clock=self.clock, seed=seed, media=self.media)
        self._app = EmulatorApp(
            api_key=self._api_key,
            clock=self.clock,
            schedule=schedule,
            faults=injector,
            limits=limits,
            media=self.media,
            fetch=self._fetch,
            on_job_created=self._job_created,
            extra_routes=self._evi_route,
        )
        self._jobs_file = None if jobs_file is None else Path(jobs_file)
        if self._jobs_file is not None and self._jobs_file.exists():
            self._app.jobs.load(self._jobs_file)

    # -- serving -----------------------------------------------------------------------------
    def stop(self) -> None:
        """Stop the HTTP server and the callback thread (and write ``jobs_file``)."""
        super().stop()
        self._callbacks.close()
        if self._jobs_file is not None:
            self._app.jobs.save(self._jobs_file)

    def client(self, **kwargs: Any) -> Any:
        """A :class:`humekit.Client` wired to this emulator (in-process unless it is serving)."""
        from humekit.backends.v0.client import Client

        if self._server is None:
            kwargs.setdefault("transport", self.transport())
        kwargs.setdefault("clock", self.clock)
        return Client(api_key=self._api_key, base_url=self.url, **kwargs)

    # -- what tests and users look at --------------------------------------------------------
    @property
    def schedule(self) -> Schedule:
        """How long jobs stay QUEUED and IN_PROGRESS; setting it changes the jobs created from then on."""
        return self._app.schedule

    @schedule.setter
    def schedule(self, value: Schedule) -> None:
        self._app.schedule = value

    @property
    def api_key(self) -> str:
        """The API key this emulator accepts."""
        return self._api_key

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request answered so far: time, method, path, status, and the job a POST created."""
        return list(self._app.requests)

    @property
    def callbacks(self) -> list[Delivery]:
        """Every ``callback_url`` delivery attempt so far."""
        return list(self._callbacks.deliveries)

    @property
    def jobs(self) -> list[Job]:
        """Every job created so far."""
        return self._app.jobs.all()

    def add_media(self, name: str, data: bytes) -> str:
        """Serve ``data`` under ``/media/<name>`` and return its URL."""
        self.media.put(name, data)
        return self.media_url(name)

    def media_url(self, name: str) -> str:
        """The URL of ``/media/<name>`` on this emulator."""
        return f"{self.url}/media/{name.lstrip('/')}"

    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one framework-free request (what both transports call)."""
        return self._app.handle(request)

    def __repr__(self) -> str:
        state = f"serving at {self.url}" if self._server else "in-process"
        return f"<humekit.emulator.Emulator {state}, {len(self._app.jobs)} jobs, scores are synthetic>"

    # -- internals ---------------------------------------------------------------------------
    def _origins(self) -> set[str]:
        origins = {urlsplit(IN_PROCESS_ORIGIN).netloc}
        if self._server is not None:
            netloc = urlsplit(self._server.url).netloc
            port = netloc.rsplit(":", 1)[-1]
            origins |= {netloc, f"localhost:{port}", f"127.0.0.1:{port}"}
        return origins

    def _fetch(self, url: str) -> bytes:
        if self._app.is_own_url(url, self._origins()):
            data = self.media.get(urlsplit(url).path[len("/media/") :])
            if data is None:
                raise FileNotFoundError(f"404 Not Found (nothing at {urlsplit(url).path})")
            return data
        host = urlsplit(url).hostname or ""
        if not self._allow_network_fetch and host not in ("127.0.0.1", "localhost", "::1"):
            raise PermissionError(
                "the emulator does not fetch from the network; serve the file with Emulator.add_media "
                "or media_dir, or pass allow_network_fetch=True"
            )
        with httpx.Client(timeout=30.0, follow_redirects=True) as http:
            response = http.get(url)
            response.raise_for_status()
            return response.content

    def _job_created(self, job: Job) -> None:
        url = job.request.get("callback_url")
        if url:
            self._callbacks.schedule(job.job_id, url, job.ended_ms / 1000)

    def _callback_body(self, job_id: str) -> dict[str, Any] | None:
        job = self._app.jobs.get(job_id)
        if job is None:
            return None
        status = job.status(self._app.now_ms())
        if status == "FAILED":
            return {"job_id": job_id, "status": status, "message": job.failure}
        return {"job_id": job_id, "status": status, "predictions": self._app.predictions(job)}

    def _evi_route(self, request: EmuRequest) -> EmuResponse | None:
        if not request.path.startswith("/v0/evi/"):
            return None
        return self.evi.handle(request)
