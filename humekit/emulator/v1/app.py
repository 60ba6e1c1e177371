"""The v1 emulator's request handling: auth, routing, faults, the two uploads and the runs routes.

:meth:`V1App.handle` turns one :class:`~humekit.emulator.wire.EmuRequest` into one
:class:`~humekit.emulator.wire.EmuResponse`, so the in-process transport and the loopback server
answer identically. Every answer carries ``X-Humekit-Emulator`` saying its scores are synthetic.

Choices on points the references leave open (**UNCONFIRMED**, documented in the package docstring):
auth is checked first (the gateway answers 401 before the service); an unknown path is the
gateway's 404 ``{"message"}``; a known path with another method is 405 ``method_not_allowed``;
the body-size check comes first, then the multipart framing (``message_invalid``), the parts
(``invalid_request``), the ``config`` part, then the media (format sniff, then decoding).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from humekit.clock import Clock
from humekit.emulator.multipart import FormPart, MalformedMultipart, boundary_of, parse_form
from humekit.emulator.v1.config import parse_audio_config, parse_video_config
from humekit.emulator.v1.errors import ErrorCode, V1Error, error_body
from humekit.emulator.v1.faces import FaceStateSigner, check_images, faces_in
from humekit.emulator.v1.faults import Fault, FaultInjector
from humekit.emulator.v1.limits import V1Limits
from humekit.emulator.v1.runs import Run, RunStore, page_size
from humekit.emulator.v1.scoring import scored_rows
from humekit.emulator.v1.speech import SAMPLE_RATE, decode_upload, measurements, utterances
from humekit.emulator.wire import EmuRequest, EmuResponse, json_response

__all__ = ["SYNTHETIC_HEADER", "SYNTHETIC_NOTE", "V1App", "V1RequestRecord"]

AUDIO_PATH = "/v1/expression/audio/file"
VIDEO_PATH = "/v1/expression/video/file"
RUNS_PATH = "/v1/expression/run"
_RUN_PATH = re.compile(r"^/v1/expression/run/(?P<id>[^/]+)(?P<events>/events)?$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

#: The header on every answer, and the field in every upload's 200 body, that say the scores are synthetic.
SYNTHETIC_HEADER = "X-Humekit-Emulator"
SYNTHETIC_NOTE = "humekit v1 emulator: scores are synthetic (seeded noise, no model)"
_HEADERS = {SYNTHETIC_HEADER: SYNTHETIC_NOTE}


@dataclass(frozen=True, slots=True)
class V1RequestRecord:
    """One request the emulator answered (or dropped)."""

    time: float
    method: str
    path: str
    status: int | None
    r"""The status sent, or ``None`` when the connection was dropped."""
    query: str = ""
    size: int = 0
    r"""The request body's length in bytes."""
    request_id: str = ""
    run_id: str | None = None
    r"""The run the request created (also set when its answer was lost or mangled)."""
    fault: Fault = "none"
    r"""The fault injected into this request."""


@dataclass(frozen=True, slots=True)
class _Answer:
    response: EmuResponse
    run_id: str | None = None


class V1App:
    """Hume's v1 Expression Measurement API, independent of how requests arrive."""

    def __init__(self, *, api_key: str, access_token: str, read_only_api_key: str, clock: Clock,
                 faults: FaultInjector, limits: V1Limits, seed: int, user_id: str):
        self._keys = {"api": api_key, "token": access_token, "read_only": read_only_api_key}
        self.clock = clock
        self.faults = faults
        self.limits = limits
        self.user_id = user_id
        self.runs = RunStore()
        self.requests: list[V1RequestRecord] = []
        self._seed = seed
        self._counter = 0
        self._lock = threading.Lock()
        organization = hashlib.sha256(f"org:{seed}:{api_key}".encode()).hexdigest()[:16]
        secret = hashlib.sha256(f"face-state:{seed}:{api_key}".encode()).digest()
        self._face_states = FaceStateSigner(secret, organization)

    # -- entry point -------------------------------------------------------------------------
    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one request, recording it in :attr:`requests`."""
        request_id = self._new_id("request").hex
        fault: Fault = "none"
        if self.faults.faults.latency:
            time.sleep(self.faults.faults.latency)
        denied = self._check_auth(request, request_id)
        route = None if denied is not None else self._route(request, request_id)
        if denied is not None:
            answer = _Answer(denied)
        elif route is None:
            answer = _Answer(_gateway(404, f"Not Found: no route for {request.method} {request.path}"))
        elif isinstance(route, EmuResponse):
            answer = _Answer(route)
        else:
            upload = request.path in (AUDIO_PATH, VIDEO_PATH)
            fault = self.faults.next(upload=upload)
            answer = self._answer(request, request_id, route, fault, upload=upload)
        response = answer.response
        response.headers.update(_HEADERS)
        self.requests.append(V1RequestRecord(
            time=self.clock.time(), method=request.method, path=request.path,
            status=None if response.drop else response.status, query=request.query_string,
            size=len(request.body or b""), request_id=request_id, run_id=answer.run_id, fault=fault,
        ))  # fmt: skip
        return response

    def _answer(self, request: EmuRequest, request_id: str, route: Callable[[EmuRequest, str], _Answer],
                fault: Fault, *, upload: bool) -> _Answer:
        early = _early_fault(fault, request_id, retry_after=self.faults.faults.retry_after)
        if early is not None:
            return _Answer(early)
        if upload and self._credential(request) == ("key", self._keys["read_only"]):
            return _Answer(_error("forbidden", "this API key may not use the measurement endpoints "
                                  "(it has no measure permission); use a key that does", request_id))
        try:
            answer = route(request, request_id)
        except V1Error as refused:
            return _Answer(_error(refused.code, refused.message, request_id), refused.run_id)
        return _Answer(_late_fault(fault, answer.response, request_id), answer.run_id)

    def _credential(self, request: EmuRequest) -> tuple[str, str] | None:
        key, bearer = request.header("x-hume-api-key"), request.header("authorization")
        if key is not None and bearer is None:
            return ("key", key)
        if bearer is not None and key is None and bearer[:7].lower() == "bearer ":
            return ("token", bearer[7:].strip())
        return None

    def _check_auth(self, request: EmuRequest, request_id: str) -> EmuResponse | None:
        key, bearer = request.header("x-hume-api-key"), request.header("authorization")
        if key is not None and bearer is not None:
            return _gateway(401, "send exactly one credential: X-Hume-Api-Key or Authorization: Bearer, not both")
        credential = self._credential(request)
        if credential is None:
            return _gateway(401, "missing credentials: send your API key in X-Hume-Api-Key "
                            "(or an access token in Authorization: Bearer)")
        kind, value = credential
        if kind == "token":
            if _same(value, self._keys["token"]):
                return None
            return _gateway(401, "the access token is invalid or expired; request a new one")
        if _same(value, self._keys["api"]) or _same(value, self._keys["read_only"]):
            return None
        return json_response(401, {"message": "invalid API key", "request_id": request_id})

    def _route(self, request: EmuRequest, request_id: str) -> Callable[[EmuRequest, str], _Answer] | EmuResponse | None:
        path = request.path.rstrip("/") or "/"
        routes: dict[str, tuple[str, Callable[[EmuRequest, str], _Answer]]] = {
            AUDIO_PATH: ("POST", self._audio), VIDEO_PATH: ("POST", self._video), RUNS_PATH: ("GET", self._list_runs),
        }
        match = _RUN_PATH.match(path)
        if path in routes:
            method, handler = routes[path]
        elif match:
            method, handler = "GET", self._events if match["events"] else self._get_run
        else:
            return None
        if request.method != method:
            return _error("method_not_allowed", f"{request.method} is not allowed on {path}; use {method}",
                          request_id, headers={"allow": method})
        return handler

    # -- uploads -----------------------------------------------------------------------------
    def _audio(self, request: EmuRequest, request_id: str) -> _Answer:
        parts = self._parts(request, too_large="audio_too_long")
        files, config_raw = _split_parts(parts, single_file=True)
        config = parse_audio_config(config_raw)
        data = files[0].data
        samples = decode_upload(data)
        now = self.clock.time()
        run = self._new_run("audio", now, config.run_config())
        found = utterances(samples)
        windows = measurements(found, timer_ms=config.measurement_timer_ms)
        seed = hashlib.md5(samples.tobytes()).hexdigest()
        times = [w.audio_end_ms / 1000 for w in windows]
        expressions = scored_rows(seed, "audio", "audio_expressions", times)
        voice = scored_rows(seed, "voice", "voice_attributes", times)
        self.runs.put(run.ended(at=round(self.clock.time(), 3), media_seconds=len(samples) / SAMPLE_RATE,
                                bytes_received=len(data)))
        body = {
            "request_id": request_id,
            "run_id": run.run_id,
            "received": {"audio_duration_ms": round(len(samples) * 1000 / SAMPLE_RATE)},
            "utterances": [{"utterance_id": u.utterance_id, "audio_start_ms": u.audio_start_ms,
                            "audio_end_ms": u.audio_end_ms} for u in found],
            "measurements": [
                {"measurement_id": w.measurement_id, "utterance_id": w.utterance_id,
                 "audio_start_ms": w.audio_start_ms, "audio_end_ms": w.audio_end_ms, "trigger": w.trigger,
                 "expressions": e, "voice_attributes": v}
                for w, e, v in zip(windows, expressions, voice, strict=True)
            ],
            "emulator": SYNTHETIC_NOTE,
        }  # fmt: skip
        return _Answer(json_response(200, body), run.run_id)

    def _video(self, request: EmuRequest, request_id: str) -> _Answer:
        parts = self._parts(request, too_large="image_too_large")
        files, config_raw = _split_parts(parts, single_file=False)
        config = parse_video_config(config_raw)
        now = self.clock.time()
        run = self._new_run("video", now, config.run_config())
        self.runs.put(run)  # an image upload is recorded once its images reach the checks
        received = sum(f.size for f in files)
        try:
            images = check_images([f.data for f in files], self.limits)
        except V1Error as refused:
            self.runs.put(run.errored(at=round(self.clock.time(), 3), bytes_received=received))
            refused.run_id = run.run_id
            raise
        ids = self._face_states.read(config.face_state, now=now)
        results = [
            {"frame_id": i, "faces": faces_in(image, i, threshold=config.threshold, min_size=config.min_size,
                                              ids=ids, limits=self.limits)}
            for i, image in enumerate(images)
        ]
        self.runs.put(run.ended(at=round(self.clock.time(), 3), media_seconds=len(images) / 3, bytes_received=received))
        body: dict[str, Any] = {"request_id": request_id, "run_id": run.run_id, "received": {"frames": len(images)},
                                "measurements": results}
        if config.return_face_state:
            body["face_state"] = self._face_states.issue(ids, now=now)
        body["emulator"] = SYNTHETIC_NOTE
        return _Answer(json_response(200, body), run.run_id)

    def _parts(self, request: EmuRequest, *, too_large: ErrorCode) -> list[FormPart]:
        if len(request.body) > self.limits.max_request_bytes:
            raise V1Error(too_large, f"the request is {len(request.body):,} bytes, over the "
                          f"{self.limits.max_request_bytes:,}-byte limit for the whole multipart body; send less per "
                          "request (split the audio, or fewer images)")
        boundary = boundary_of(request.header("content-type"))
        if boundary is None:
            raise V1Error("message_invalid", "the multipart body could not be read: send multipart/form-data "
                          "with a boundary")
        try:
            return parse_form(request.body, boundary)
        except MalformedMultipart as exc:
            raise V1Error("message_invalid", f"the multipart body could not be read: {exc}") from None

    # -- runs --------------------------------------------------------------------------------
    def _list_runs(self, request: EmuRequest, request_id: str) -> _Answer:
        return _Answer(json_response(200, self.runs.page(request.query)))

    def _get_run(self, request: EmuRequest, request_id: str) -> _Answer:
        return _Answer(json_response(200, self._run(request).details()))

    def _events(self, request: EmuRequest, request_id: str) -> _Answer:
        run_id = _RUN_PATH.match(request.path.rstrip("/"))["id"]  # type: ignore[index]
        if not _UUID.match(run_id):
            raise V1Error("invalid_request", f"run_id must be a UUID such as a response's run_id; got {run_id!r}")
        self._run(request)
        params = dict(request.query)
        unknown = sorted(set(params) - {"page_size", "cursor"})
        if unknown:
            raise V1Error("invalid_request", f"unknown query parameter(s) {unknown}; expected page_size, cursor")
        page_size(params.get("page_size"))
        if "cursor" in params:  # file runs log no events, so no cursor was ever issued
            raise V1Error("invalid_request", "cursor is not a next_cursor this endpoint returned")
        return _Answer(json_response(200, {"events": [], "at_cap": False, "capped_kinds": [], "gaps": False}))

    def _run(self, request: EmuRequest) -> Run:
        run_id = _RUN_PATH.match(request.path.rstrip("/"))["id"]  # type: ignore[index]
        run = self.runs.get(run_id)
        if run is None:
            raise V1Error("not_found", f"no run {run_id!r} in this organization")
        return run

    # -- ids ---------------------------------------------------------------------------------
    def _new_id(self, kind: str) -> uuid.UUID:
        with self._lock:
            self._counter += 1
            counter = self._counter
        digest = hashlib.sha256(f"{self._seed}:{kind}:{counter}".encode()).digest()
        return uuid.UUID(bytes=digest[:16])

    def _new_run(self, endpoint: Literal["audio", "video"], now: float, config: dict[str, Any]) -> Run:
        """A live run with a UUIDv7 id (its first 48 bits the start in ms, the rest seeded); times in whole ms."""
        now = round(now, 3)
        random_bits = int.from_bytes(self._new_id("run").bytes, "big")
        value = (int(now * 1000) & (2**48 - 1)) << 80 | (random_bits & (2**80 - 1))
        value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
        value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
        return Run(run_id=str(uuid.UUID(int=value)), user_id=self.user_id, endpoint=endpoint,
                   started_at=now, ended_at=None, status="live", config=config)


def _split_parts(parts: list[FormPart], *, single_file: bool) -> tuple[list[FormPart], bytes | None]:
    files = [p for p in parts if p.name == "file"]
    configs = [p for p in parts if p.name == "config"]
    others = sorted({p.name for p in parts} - {"file", "config"})
    if others:
        raise V1Error("invalid_request", f"unexpected multipart part(s) {others}; send 'file' and an optional 'config'")
    if len(configs) > 1:
        raise V1Error("invalid_request", "send at most one 'config' part")
    if single_file and len(files) != 1:
        raise V1Error("invalid_request", f"the audio endpoint takes exactly one 'file' part; got {len(files)}")
    if not files:
        raise V1Error("invalid_request", "send one or more 'file' parts, one JPEG image each")
    return files, configs[0].data if configs else None


def _early_fault(fault: Fault, request_id: str, *, retry_after: int) -> EmuResponse | None:
    """The answer of a fault that strikes before the request is processed (nothing measured, no run)."""
    wait = {"retry-after": str(retry_after)}
    if fault == "drop":
        return EmuResponse(0, drop=True)
    if fault == "server_busy":
        return _error("server_busy", "the service is busy; retry shortly (injected by the emulator)", request_id)
    if fault == "server_busy_retry_after":
        return _error("server_busy", "the service is busy; retry after the Retry-After delay (injected by the emulator)",
                      request_id, headers=wait)
    if fault == "gateway_rate_limit":
        return json_response(429, {"message": "API rate limit exceeded"}, headers=wait)
    if fault == "internal_error":
        return _error("internal_error", "an internal error occurred (injected by the emulator)", request_id)
    return None


def _late_fault(fault: Fault, response: EmuResponse, request_id: str) -> EmuResponse:
    """The answer of a fault that strikes after the request was measured and billed."""
    if response.status != 200:
        return response
    if fault == "lost_response":
        return EmuResponse(0, drop=True)
    if fault == "malformed":
        return json_response(200, {"request_id": request_id, "emulator": SYNTHETIC_NOTE,
                                   "note": "a malformed answer injected by the emulator"})
    if fault == "truncated":
        return EmuResponse(200, response.body[: max(1, len(response.body) // 2)], dict(response.headers))
    return response


def _error(code: ErrorCode, message: str, request_id: str, *, headers: dict[str, str] | None = None) -> EmuResponse:
    refused = V1Error(code, message)
    return json_response(refused.status, error_body(code, message, request_id), headers=headers)


def _gateway(status: int, message: str) -> EmuResponse:
    """What Hume's gateway answers before the service: ``{"message"}`` only."""
    return json_response(status, {"message": message})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())
