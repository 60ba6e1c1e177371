"""A synchronous in-memory API for the seam's tests: one request per input, answered at once, faults injectable.

It is not Hume and imports no v0 code: it proves the pipeline (validate, plan, ledger, resume, retry,
join) works through :class:`humekit.backends.sync.SyncBackend` alone. Its scores are synthetic: a
digest of the input, so a test can recompute what each row must get.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from humekit.backends.base import Decoded
from humekit.backends.sync import SyncBackend
from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, PREDICTION_COLUMNS
from humekit.errors import APIConnectionError, BadRequestError, LimitExceededError
from humekit.pipeline.planning import Unit

EMOTIONS = ("Calmness", "Joy")


def expected_score(text: str, emotion: str) -> float:
    """The score the memory API gives ``text`` for ``emotion``."""
    return int(hashlib.sha256(f"{emotion}|{text}".encode()).hexdigest()[:6], 16) / 0xFFFFFF


@dataclass
class MemoryServer:
    """What the API saw (``sent``: every request's inputs, in order) and the faults it injects."""

    sent: list[tuple[str, ...]] = field(default_factory=list)
    too_large: set[str] = field(default_factory=set)
    r"""Inputs refused for a limit (413), whatever is around them."""
    broken: set[str] = field(default_factory=set)
    r"""Inputs refused with a 400 that is not about a limit."""
    drop_after: int | None = None
    r"""After this many answers every request loses its connection."""
    kill_after: int | None = None
    r"""After this many answers the process SIGKILLs itself while sending the next request."""
    latency: float = 0.0
    r"""Seconds each answer takes (outside the lock: requests in flight overlap)."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, texts: tuple[str, ...], keys: tuple[str, ...]) -> bytes:
        with self.lock:
            answered = len(self.sent)
            if self.kill_after is not None and answered >= self.kill_after:
                os.kill(os.getpid(), signal.SIGKILL)
            if self.drop_after is not None and answered >= self.drop_after:
                raise APIConnectionError("the memory API dropped the connection")
            self.sent.append(texts)
        time.sleep(self.latency)
        if any(t in self.too_large for t in texts):
            raise LimitExceededError("413: the input is over the memory API's limit", limit="bytes", status_code=413)
        if any(t in self.broken for t in texts):
            raise BadRequestError("400: the memory API could not read the input", status_code=400)
        return json.dumps({"answers": [{"input": key, "scores": {e: expected_score(t, e) for e in EMOTIONS}}
                                       for t, key in zip(texts, keys, strict=True)]}).encode()


class MemoryBackend(SyncBackend):
    """The memory API as a humekit backend (``language`` on raw texts only)."""

    name = "memory"

    def __init__(self, server: MemoryServer, *, concurrency: int = 3) -> None:
        super().__init__("memory://test", concurrency=concurrency, attempts=1)
        self.server = server

    def send(self, unit: Unit, *, models: Mapping[str, Any], transcription: Any) -> bytes:
        texts = tuple(item.value for item in unit.inputs)
        return self.server.answer(texts, tuple(unit.input_key(i) for i in range(len(unit.inputs))))

    def decode(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded:
        rows = [{"input_key": a["input"], "model": "language", "emotion": emotion, "score": score}
                for a in json.loads(answer)["answers"] for emotion, score in a["scores"].items()]
        scores = pd.DataFrame(rows).reindex(columns=["input_key", *PREDICTION_COLUMNS])
        answered = {a["input"]: ([("", "text")], {("", "language")}) for a in json.loads(answer)["answers"]}
        descriptors = pd.DataFrame(columns=["input_key", *DESCRIPTOR_COLUMNS])
        return Decoded(scores=scores, descriptors=descriptors, errors={}, answered=answered)
