"""The humekit exception tree: every error humekit raises, rooted at :class:`HumekitError`.

Each message says what is wrong, where (row, column, job id) and what to do next::

    HumekitError
    ├── ConfigurationError              missing API key, bad base URL, bad option
    │   ├── MissingAPIKeyError          no API key anywhere (argument, HUME_API_KEY, .env)
    │   └── UnknownModelError (also ValueError)   a model name Hume does not have
    ├── TableError (also ValueError)    a recordings table that cannot be sent
    │   ├── MissingColumnError
    │   ├── DuplicateIdError
    │   └── InvalidRowsError            rows with unusable sources (missing file, bad URL, too long…)
    ├── PredictionsFormatError (also ValueError)   a document that is not Hume predictions
    ├── ScoresTableError (also ValueError)         a table the analysis helpers cannot use
    ├── ChatEventsFormatError (also ValueError)    a file that is not exported EVI chat events
    ├── APIError                        anything that went wrong talking to the API
    │   ├── APIConnectionError
    │   │   └── APITimeoutError
    │   └── APIStatusError              .status_code, .body, .request_id
    │       ├── BadRequestError         400/413/422: the request itself is wrong
    │       │   └── LimitExceededError  a documented per-job limit was exceeded (.limit)
    │       ├── AuthenticationError     401/403
    │       ├── NotFoundError           404
    │       ├── RateLimitError          429 (.retry_after)
    │       └── ServerError             5xx
    ├── WaitTimeoutError                jobs still pending when a wait ran out (.pending)
    ├── LedgerError                     the job ledger cannot be read or written
    ├── MediaDecodeError                a media file that cannot be converted (undecodable, empty, no audio/video)
    ├── DownloadError                   a URL humekit could not download for v1 (.url, .status, .reason)
    ├── PartitionFailedError            partitions of measure_distributed failed on the cluster (.failed, .result)
    ├── ChatAudioError                  an EVI chat's audio reconstruction ended ERROR/CANCELLED
    ├── EVISunsetError                  a live EVI call after Hume ended EVI (2026-11-13)
    └── WebhookVerificationError (also ValueError)
        ├── MissingHeaderError
        ├── InvalidSignatureError
        ├── TimestampOutsideToleranceError
        │   ├── StaleTimestampError     too old: a delayed delivery or a replay
        │   └── FutureTimestampError    too far ahead: a skewed clock
        └── MalformedPayloadError

``JobFailedError`` is deprecated and no longer part of the public API: nothing ever raised it (a failed
job is a ``failed`` row with Hume's message in ``error``, never an exception). ``humekit.JobFailedError``
still resolves, with a ``DeprecationWarning``, for this release.

Not an error, so outside the tree: :class:`MeasureInterrupted` (a ``KeyboardInterrupt``) is
Ctrl-C / Kernel ▸ Interrupt during ``measure``; ``except Exception`` (or ``HumekitError``) never
swallows it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ChatAudioError",
    "ChatEventsFormatError",
    "ConfigurationError",
    "DownloadError",
    "DuplicateIdError",
    "EVISunsetError",
    "FutureTimestampError",
    "HumekitError",
    "InvalidRowsError",
    "InvalidSignatureError",
    "LedgerError",
    "LimitExceededError",
    "MalformedPayloadError",
    "MeasureInterrupted",
    "MediaDecodeError",
    "MissingAPIKeyError",
    "MissingColumnError",
    "MissingHeaderError",
    "NotFoundError",
    "PartitionFailedError",
    "PredictionsFormatError",
    "RateLimitError",
    "ScoresTableError",
    "ServerError",
    "StaleTimestampError",
    "TableError",
    "TimestampOutsideToleranceError",
    "UnknownModelError",
    "WaitTimeoutError",
    "WebhookVerificationError",
]


class HumekitError(Exception):
    """Base class of every error humekit raises."""


class ConfigurationError(HumekitError):
    """humekit is configured in a way that cannot work (no API key, bad URL, bad option)."""


class MissingAPIKeyError(ConfigurationError):
    """No API key was given: not as an argument, nor in ``HUME_API_KEY``, nor in a ``.env`` file."""


class UnknownModelError(ConfigurationError, ValueError):
    """A model name Hume does not have (raised by :func:`humekit.predictions.vocabulary.check_models`)."""

    def __init__(self, message: str, *, unknown: Sequence[str]):
        super().__init__(message)
        self.unknown = list(unknown)


class TableError(HumekitError, ValueError):
    """The recordings table cannot be sent as it is.

    In every message "row 3" is the row's position in the table (0-based, as in ``table.iloc[3]``,
    whatever its index), with its ID beside it when it has one; ``rows`` holds those positions.
    """

    def __init__(self, message: str, *, rows: Sequence[Any] = (), column: str | None = None):
        super().__init__(message)
        self.rows = list(rows)
        self.column = column


class MissingColumnError(TableError):
    """A column named in the call is not in the table."""


class DuplicateIdError(TableError):
    """The ID column has duplicated or null values, so results could not be joined back."""


class InvalidRowsError(TableError):
    """Some rows' sources cannot be measured (missing files, bad URLs, over a limit…)."""


class PredictionsFormatError(HumekitError, ValueError):
    """A document given as predictions is not in Hume's predictions shape."""


class ScoresTableError(HumekitError, ValueError):
    """A table given to :mod:`humekit.predictions.analysis` lacks what it needs (a key column, ``emotion``/``score``)."""


class ChatEventsFormatError(HumekitError, ValueError):
    """A file given as exported EVI chat events is not the JSON ``chats.list_chat_events`` returned."""


class APIError(HumekitError):
    """Talking to the Hume API (or a compatible endpoint) failed."""


class APIConnectionError(APIError):
    """The request did not get an HTTP response (refused, reset or dropped connection)."""

    request_sent: bool = True
    r"""False when the request provably never reached the server (so resending it cannot pay twice)."""


class APITimeoutError(APIConnectionError):
    """The request timed out before a response arrived."""


class APIStatusError(APIError):
    """The API answered with an error status."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        body: Any = None,
        request_id: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ):
        super().__init__(message)
        self.status_code = status_code
        self.body = body
        self.request_id = request_id
        self.method = method
        self.path = path


class BadRequestError(APIStatusError):
    """The API rejected the request as malformed (400, 413, 422)."""


class PayloadRefusedError(BadRequestError):
    """The API refused this payload as it is (too large, a format it does not take, undecodable): sending the
    same bytes again cannot succeed, so humekit never does; ``code`` is the API's reason (v1's error code)."""

    def __init__(self, message: str, *, code: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.code = code


class LimitExceededError(PayloadRefusedError):
    """The API rejected a job for exceeding a documented limit; the same payload must not be resent."""

    def __init__(self, message: str, *, limit: str | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.limit = limit


class AuthenticationError(APIStatusError):
    """The API key was missing or rejected (401/403)."""


class NotFoundError(APIStatusError):
    """The job (or chat) does not exist at this endpoint (404)."""


class RateLimitError(APIStatusError):
    """The API asked us to slow down (429) for longer than humekit waits on its own."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(APIStatusError):
    """The API failed on its side (5xx) and retries did not help."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after
        r"""Seconds the server asked to wait (a 503 ``Retry-After``), if it said."""


class JobFailedError(HumekitError):
    """Deprecated, never raised: a failed job is a ``failed`` row whose ``error`` holds Hume's message.

    Kept importable (``humekit.JobFailedError`` warns) for this release; it will be removed.
    """

    def __init__(self, message: str, *, job_id: str, reason: str | None = None):
        super().__init__(message)
        self.job_id = job_id
        self.reason = reason


class WaitTimeoutError(HumekitError):
    """Waiting ran out of time while jobs were still queued or running; they can be resumed.

    Attributes:
        pending: the ids of the jobs still queued or running.
        result: from :func:`humekit.measure`, the partial :class:`~humekit.pipeline.measure.MeasureResult`:
            rows of finished jobs with their predictions, the others ``pending``; else ``None``.
    """

    def __init__(self, message: str, *, pending: Sequence[str], result: Any = None):
        super().__init__(message)
        self.pending = list(pending)
        self.result = result


class PartitionFailedError(HumekitError):
    """Partitions of :func:`humekit.measure_distributed` failed on the cluster, even after Dask's retries.

    The other partitions' results are written; every answer stored is kept in the ledger, so the same call
    again sends only what the failed partitions still lack.

    Attributes:
        failed: each failed partition's number and why it failed.
        result: the :class:`~humekit.distributed.DistributedResult` of the partitions that finished.
    """

    def __init__(self, message: str, *, failed: Mapping[int, str], result: Any = None):
        super().__init__(message)
        self.failed = dict(failed)
        self.result = result


class MeasureInterrupted(KeyboardInterrupt):
    """Ctrl-C (or Kernel ▸ Interrupt) stopped :func:`humekit.measure`; nothing is lost and the same call resumes.

    Its message is one line: how many jobs are still queued or running at the endpoint, that
    nothing is lost, and that calling ``measure`` again the same way resumes. It is a
    ``KeyboardInterrupt`` and deliberately not a :class:`HumekitError`: code that stops on Ctrl-C
    still stops, and an ``except Exception`` retry loop cannot swallow it. In Jupyter it shows as
    that one line instead of a traceback, and ``humekit run`` prints it and exits 130.

    Attributes:
        running: the ids of the jobs still queued or running at the endpoint (or being submitted).
        endpoint: where they run.
        ledger: where the ledger that holds them is (:attr:`Ledger.location <humekit.Ledger>`: the SQLite
            file's path, or the PostgreSQL URL with its password masked).
    """

    def __init__(self, message: str, *, running: Sequence[str], endpoint: str, ledger: Any):
        super().__init__(message)
        self.running = list(running)
        self.endpoint = endpoint
        self.ledger = ledger

    @staticmethod
    def describe(running: int, endpoint: str, ledger: Any, *, again: str) -> str:
        """The one line: ``again`` names what to run again (a call or a command)."""
        jobs = f"{running} job{'s' if running != 1 else ''} {'is' if running == 1 else 'are'}"
        return (f"Interrupted: {jobs} still queued or running at {endpoint}; nothing is lost (every job is in the "
                f"ledger {ledger}). Run {again} again to resume.")


class LedgerError(HumekitError):
    """The job ledger (a SQLite file or a PostgreSQL database) cannot be opened, reached, read or written, or
    ``ledger=`` names something humekit cannot keep a ledger in (e.g. a ``mysql://`` URL)."""


class MediaDecodeError(HumekitError):
    """A media file cannot be converted for sending: undecodable, empty, or without the stream it needs.

    Attributes:
        path: the file, as given.
        reason: what is wrong, in a few words (``"undecodable"``, ``"empty"``, ``"no audio stream"``,
            ``"no video stream"``, ``"no image"``).
    """

    def __init__(self, message: str, *, path: str, reason: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


class DownloadError(HumekitError):
    """A URL that humekit could not download (v1 takes uploads only, so humekit fetches URL rows itself).

    Attributes:
        url: the URL, as given.
        status: the HTTP status the server answered with, when it answered (``None``: no answer).
        reason: what went wrong, in a word: ``"status"`` (a 4xx, or a 5xx/429 after the retries),
            ``"too_large"`` (over the download limit), ``"connection"`` (no complete answer after the
            retries), ``"unsupported"`` (not an http(s) URL httpx can fetch), ``"disk"`` (the download
            folder cannot be written) or ``"interrupted"`` (stopped by an interrupt).
    """

    def __init__(self, message: str, *, url: str, reason: str, status: int | None = None):
        super().__init__(message)
        self.url = url
        self.reason = reason
        self.status = status


class ChatAudioError(HumekitError):
    """An EVI chat's audio reconstruction ended in ERROR or CANCELLED."""

    def __init__(self, message: str, *, chat_id: str, status: str):
        super().__init__(message)
        self.chat_id = chat_id
        self.status = status


class EVISunsetError(HumekitError):
    """Hume ended EVI on 2026-11-13 and deleted its account data: a live EVI call cannot succeed."""


class WebhookVerificationError(HumekitError, ValueError):
    """A webhook request failed verification and must not be trusted."""


class MissingHeaderError(WebhookVerificationError):
    """A required webhook header (signature or timestamp) is absent."""


class InvalidSignatureError(WebhookVerificationError):
    """The webhook signature does not match the body, timestamp and key."""


class TimestampOutsideToleranceError(WebhookVerificationError):
    """The webhook timestamp is too old (a replay?) or too far in the future."""


class StaleTimestampError(TimestampOutsideToleranceError):
    """The webhook timestamp is older than the tolerance: a delayed delivery or a replay."""


class FutureTimestampError(TimestampOutsideToleranceError):
    """The webhook timestamp is further ahead than the tolerance: a sender or receiver clock is off."""


class MalformedPayloadError(WebhookVerificationError):
    """The webhook body or timestamp cannot be parsed."""
