"""humekit: measure expressions in many recordings with Hume's batch API, DataFrame in, DataFrame out.

The main entry points::

    import humekit
    result = humekit.measure(table, id_col="id", source_col="path", models=["prosody"])
    result.status        # one row per input row: ok / failed / invalid / pending, with the reason
    result.predictions   # long table keyed by your ID column
    humekit.read_predictions("downloads/")   # archived predictions JSON and artifact ZIPs
    humekit.join_archived(table, tables, id_col="id", source_col="path")  # ...back to your rows
    humekit.read_chat_events("exports/")     # EVI chat events saved before EVI's sunset (2026-11-13)

Offline, against the bundled emulator of Hume's (sunset) v0 batch API, whose scores are synthetic::

    from humekit.emulator import Emulator
    with Emulator() as emu:
        result = humekit.measure(table, ..., client=emu.client())
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version

from humekit._internal import moved as _moved
from humekit.backends.v0.client import Client
from humekit.errors import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ChatAudioError,
    ChatEventsFormatError,
    ConfigurationError,
    DownloadError,
    DuplicateIdError,
    EVISunsetError,
    FutureTimestampError,
    HumekitError,
    InvalidRowsError,
    InvalidSignatureError,
    LedgerError,
    LimitExceededError,
    MalformedPayloadError,
    MeasureInterrupted,
    MediaDecodeError,
    MissingAPIKeyError,
    MissingColumnError,
    MissingHeaderError,
    NotFoundError,
    PartitionFailedError,
    PayloadRefusedError,
    PredictionsFormatError,
    RateLimitError,
    ScoresTableError,
    ServerError,
    StaleTimestampError,
    TableError,
    TimestampOutsideToleranceError,
    UnknownModelError,
    WaitTimeoutError,
    WebhookVerificationError,
)
from humekit.backends.v0.limits import DEFAULT_LIMITS, Limits
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.measure import MeasureOptions, MeasureResult, measure, retry_failed
from humekit.pipeline.validation import validate
from humekit.predictions.archives import read_predictions
from humekit.predictions.parquet_dataset import read_dask, write_dataset
from humekit.predictions.decoding import PredictionTables, to_frame, to_tables
from humekit.predictions.rejoin import ArchivedJoin, join_archived
from humekit.webhooks.evi import read_chat_events

_moved.install()  # the modules' old paths (humekit.measure, humekit.ledger, ...) keep working this release

try:
    __version__ = _version("humekit")
except _PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "ArchivedJoin",
    "AuthenticationError",
    "BadRequestError",
    "ChatAudioError",
    "ChatEventsFormatError",
    "Client",
    "ConfigurationError",
    "DEFAULT_LIMITS",
    "DistributedResult",
    "DownloadError",
    "DuplicateIdError",
    "EVISunsetError",
    "FutureTimestampError",
    "HumekitError",
    "InvalidRowsError",
    "InvalidSignatureError",
    "join_archived",
    "Ledger",
    "LedgerError",
    "LimitExceededError",
    "Limits",
    "MalformedPayloadError",
    "measure",
    "measure_distributed",
    "MeasureInterrupted",
    "MeasureOptions",
    "MeasureResult",
    "MediaDecodeError",
    "MissingAPIKeyError",
    "MissingColumnError",
    "MissingHeaderError",
    "NotFoundError",
    "PartitionFailedError",
    "PayloadRefusedError",
    "PredictionsFormatError",
    "PredictionTables",
    "RateLimitError",
    "read_chat_events",
    "read_dask",
    "read_predictions",
    "retry_failed",
    "ScoresTableError",
    "ServerError",
    "StaleTimestampError",
    "TableError",
    "TimestampOutsideToleranceError",
    "to_frame",
    "to_tables",
    "UnknownModelError",
    "validate",
    "WaitTimeoutError",
    "WebhookVerificationError",
    "write_dataset",
]

#: Names exported lazily (``humekit.measure_distributed``): their modules import Dask, which ``import humekit``
#: must not.
_LAZY = {"measure_distributed": "humekit.distributed", "DistributedResult": "humekit.distributed"}

for _name in __all__:
    if _name in _LAZY:
        continue
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("humekit."):
        try:
            _obj.__module__ = "humekit"  # reprs and docs read humekit.Client, not humekit.backends.v0.client.Client
        except (AttributeError, TypeError):
            pass


def __getattr__(name: str) -> object:
    """``humekit.measure_distributed`` and ``DistributedResult``, imported on first use (they need Dask);
    ``humekit.JobFailedError``: deprecated (never raised; a failed job is a ``failed`` row), kept one release."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    if name == "JobFailedError":
        import warnings

        from humekit.errors import JobFailedError

        warnings.warn("humekit.JobFailedError is deprecated and never raised: a failed job is a row with "
                      "status 'failed' and Hume's message in 'error'; it will be removed in the next release",
                      DeprecationWarning, stacklevel=2)
        return JobFailedError
    raise AttributeError(f"module 'humekit' has no attribute {name!r}")
