"""A faithful local emulator of Hume's v1 Expression Measurement API (the live, synchronous one).

Used like the v0 :class:`humekit.emulator.Emulator`::

    with V1Emulator() as emu:                     # real HTTP on a free loopback port
        ...  # base URL emu.url, key emu.api_key
    emu = V1Emulator(); emu.transport()           # in-process httpx transport, no sockets
    humekit emulator --api v1 --port 8000         # standalone (or python -m humekit.emulator --api v1)

Hume's own SDK runs against it unmodified::

    from hume_expression_measurement import ExpressionMeasurementClient, ExpressionMeasurementClientEnvironment
    client = ExpressionMeasurementClient(api_key=emu.api_key, environment=ExpressionMeasurementClientEnvironment(
        base=emu.url, production=emu.url.replace("http", "ws", 1)))

**Scores are synthetic.** There is no model: scores are seeded noise keyed by the content, cut,
rounded and sorted as v1's are. Every answer carries the header ``X-Humekit-Emulator`` and every
upload's 200 body a field ``"emulator"`` that say so (v1's SDK models keep unknown fields, so the
real SDK parses them). What *is* real: the routes, auth, the error codes and bodies, the strict
audio format checks, utterances found from the audio's own energy, the measurement schedule
(every ``measurement_timer_ms`` of speech, windows of <= 10 s, ``speech_ended``), runs and their
billing, cursor paging. Faces are synthetic too (0-3 per image, seeded by its bytes).

Routes: ``POST /v1/expression/audio/file`` and ``/v1/expression/video/file`` (multipart, parsed
from the raw bytes), ``GET /v1/expression/run`` (newest first; ``page_size`` 1-200, ``cursor``,
``user_id``, ``status``, ``mode``, ``endpoint``, ``started_before`` exclusive, ``started_after``
inclusive), ``GET /v1/expression/run/{id}`` and ``/events`` (empty for file runs). The realtime
WebSocket routes are not emulated.

Choices where Hume's references say **UNCONFIRMED** (each is tested):

- *Auth*: exactly one of ``X-Hume-Api-Key`` / ``Authorization: Bearer <emu.access_token>``; 401
  bodies are ``{"message"}``, plus ``request_id`` only for a rejected API key. ``emu.read_only_api_key``
  may read runs but gets 403 ``forbidden`` on uploads (keys have per-key permissions).
- *Order*: auth, then routing (unknown path: the gateway's 404 ``{"message"}``; wrong method: 405
  ``method_not_allowed``), then faults, then body size (413 ``audio_too_long`` / ``image_too_large``),
  multipart framing (400 ``message_invalid``), parts (400 ``invalid_request``), ``config``
  (400 ``config_invalid``, serde-style wording), then the media: format sniff (415
  ``unsupported_media_type``) before decoding (400 ``audio_decode_failed`` / ``image_decode_failed``).
- *Audio*: ``RIFF…WAVE`` is read as WAV and must be plain PCM 16 kHz mono 16-bit; MP3 (``ID3`` or two
  MPEG frame headers), FLAC, Ogg and MP4 are refused; anything else is raw s16le, whatever the part's
  Content-Type says. The measurement timer restarts in each utterance. Audio without speech gives
  empty ``utterances`` and ``measurements``.
- *Statuses*: the code-to-status pairs of :data:`humekit.emulator.v1.errors.CODE_STATUS`.
- *Runs*: an audio upload is recorded once it passes every check; an image upload once its images
  reach the checks (so a bad image leaves an ``errored`` run billed 0). ``run_id`` is a UUIDv7,
  ``request_id`` 32 hex digits. Audio is billed ``samples / 16000`` s, images 1/3 s each, at least 10 s.
- *Vocabularies*: ``labels.json`` holds the names seen in Hume's sources and, marked
  UNCONFIRMED, humekit's stand-ins for the rest; audio ``expressions`` use per-name cutoffs the
  emulator derives from each name (Hume's are not published).
- *face_state*: an HMAC-signed token of the request's face numbering, valid 24 h on the emulator's
  clock; an altered, expired or foreign one is ignored.

Faults (:class:`V1Faults`): a script for the next requests and/or seeded rates, of ``server_busy``
(with or without ``Retry-After``), a gateway 429 ``{"message"}``, ``internal_error``, a malformed or
truncated 200, a dropped connection before processing, or a lost answer after the run was billed;
plus latency.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid

from humekit.clock import Clock, SystemClock
from humekit.emulator.server import LoopbackServer, ServedEmulator
from humekit.emulator.v1.app import SYNTHETIC_HEADER, SYNTHETIC_NOTE, V1App, V1RequestRecord
from humekit.emulator.v1.errors import CODE_STATUS
from humekit.emulator.v1.faults import FAULT_MEANINGS, FAULTS, Fault, FaultInjector, V1Faults
from humekit.emulator.v1.limits import V1Limits
from humekit.emulator.v1.runs import Run
from humekit.emulator.wire import EmuRequest, EmuResponse

__all__ = [
    "CODE_STATUS", "FAULTS", "FAULT_MEANINGS", "Fault", "Run", "SYNTHETIC_HEADER", "SYNTHETIC_NOTE", "V1Emulator",
    "V1Faults", "V1Limits", "V1RequestRecord",
]  # fmt: skip

class V1Emulator(ServedEmulator):
    """Hume's v1 Expression Measurement API on loopback or in-process.

    Args:
        api_key: the key clients send in ``X-Hume-Api-Key`` (a random one by default).
        access_token: the token accepted in ``Authorization: Bearer`` (a random one by default).
        faults: what goes wrong, for which requests, how often (:class:`V1Faults`); settable later.
        limits: the request and image limits (Hume's documented ones by default).
        clock: where time comes from (runs' times, ``face_state`` expiry); the wall clock by default.
        seed: seed of the ids (request, run, user) and the ``face_state`` key.
        user_id: the ``user_id`` of every run (derived from ``seed`` by default).
        host, port: where :meth:`start` listens (a free loopback port by default).

    Serving (from :class:`~humekit.emulator.server.ServedEmulator`): ``start``/``stop`` or ``with``,
    ``url``, ``transport()`` (in-process httpx; a dropped connection raises ``RemoteProtocolError``).
    """

    IN_PROCESS_ORIGIN = "http://emulator-v1.humekit.invalid"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        access_token: str | None = None,
        faults: V1Faults = V1Faults(),
        limits: V1Limits = V1Limits(),
        clock: Clock | None = None,
        seed: int = 0,
        user_id: str | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self._api_key = api_key or f"emulator-v1-{secrets.token_urlsafe(18)}"
        self._access_token = access_token or f"emulator-v1-token-{secrets.token_urlsafe(18)}"
        self._read_only_api_key = f"emulator-v1-read-only-{secrets.token_urlsafe(12)}"
        self.clock: Clock = clock or SystemClock()
        self._host, self._port = host, port
        self._server: LoopbackServer | None = None
        digest = hashlib.sha256(f"user:{seed}".encode()).digest()
        self._app = V1App(
            api_key=self._api_key,
            access_token=self._access_token,
            read_only_api_key=self._read_only_api_key,
            clock=self.clock,
            faults=FaultInjector(faults),
            limits=limits,
            seed=seed,
            user_id=user_id or str(uuid.UUID(bytes=digest[:16], version=4)),
        )

    def handle(self, request: EmuRequest) -> EmuResponse:
        """Answer one framework-free request (what both transports call)."""
        return self._app.handle(request)

    # -- what tests and users look at --------------------------------------------------------
    @property
    def api_key(self) -> str:
        """The API key this emulator accepts (with every permission)."""
        return self._api_key

    @property
    def access_token(self) -> str:
        """The access token accepted as ``Authorization: Bearer``."""
        return self._access_token

    @property
    def read_only_api_key(self) -> str:
        """A key that may read runs but is refused the uploads with 403 ``forbidden``."""
        return self._read_only_api_key

    @property
    def faults(self) -> V1Faults:
        """The faults in force; setting new ones restarts their script and seeded draws."""
        return self._app.faults.faults

    @faults.setter
    def faults(self, value: V1Faults) -> None:
        self._app.faults = FaultInjector(value)

    @property
    def requests(self) -> list[V1RequestRecord]:
        """Every request answered (or dropped) so far, in order."""
        return list(self._app.requests)

    @property
    def runs(self) -> list[Run]:
        """Every run recorded so far, newest first."""
        return self._app.runs.all()

    @property
    def metered_seconds(self) -> float:
        """The billed seconds of every run so far (what the account would be charged)."""
        return sum(run.metered_seconds for run in self._app.runs.all())

    def __repr__(self) -> str:
        state = f"serving at {self.url}" if self._server else "in-process"
        return f"<humekit.emulator.v1.V1Emulator {state}, {len(self.runs)} runs, scores are synthetic>"

