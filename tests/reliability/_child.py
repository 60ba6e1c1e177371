"""Child process for the crash and concurrency tests: run ``humekit.measure``, SIGKILLing itself at a chosen point.

Usage: ``python _child.py '<json spec>'`` with keys ``url``, ``key``, ``ledger``, ``table`` (a pickle),
``models``, ``limits`` (overrides of DEFAULT_LIMITS), optional ``kill`` and ``go`` (a file to wait for).

``kill`` is ``{"point": ..., "n": N}``: the process kills itself with SIGKILL at the N-th occurrence of
the point, where a point is ``<call>:before``/``<call>:after`` for HTTP calls (``post``, ``list``,
``poll``, ``fetch``) and ledger methods (``ledger.claim``, ``ledger.record_submitted``…),
``post:inflight`` (a timer fires ``delay`` seconds after the N-th POST starts, while it is on the
wire), ``txn.<ledger method>`` (inside the N-th write transaction of that method, before COMMIT) or ``delay`` (a timer
``delay`` seconds after ``measure`` starts). It prints one JSON line with the counts on success.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(spec: dict[str, Any]) -> int:
    import pandas as pd

    import humekit.backends.v0.client as client_module
    import humekit.pipeline.ledger as ledger_module
    from humekit import Client, measure
    from humekit.backends.v0.backend import BatchBackend
    from humekit.backends.v0.limits import DEFAULT_LIMITS

    kill = spec.get("kill") or {}
    point, target = kill.get("point"), int(kill.get("n", 1))
    seen: Counter[str] = Counter()
    current: list[str] = []  # the ledger method running now (to name its transaction)

    def hit(name: str) -> None:
        seen[name] += 1
        if name == point and seen[name] == target:
            _die()

    def classify(method: str, path: str) -> str:
        if method == "POST":
            return "post"
        if path.endswith("/predictions"):
            return "fetch"
        return "list" if path.rstrip("/").endswith("/v0/batch/jobs") else "poll"

    original_send = client_module.Client._send

    def send(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        kind = classify(method, path)
        hit(f"{kind}:before")
        if kind == "post" and point == "post:inflight" and seen["post:before"] == target:
            threading.Timer(float(kill.get("delay", 0.01)), _die).start()
        response = original_send(self, method, path, **kwargs)
        hit(f"{kind}:after")
        return response

    client_module.Client._send = send  # type: ignore[method-assign]

    for method_name in ("claim", "record_submitted", "record_status", "store_predictions", "take_over"):
        original = getattr(ledger_module.Ledger, method_name)

        def wrapped(self: Any, *args: Any, _orig: Any = original, _nm: str = method_name, **kwargs: Any) -> Any:
            hit(f"ledger.{_nm}:before")
            current.append(_nm)
            try:
                result = _orig(self, *args, **kwargs)
            finally:
                current.pop()
            hit(f"ledger.{_nm}:after")
            return result

        setattr(ledger_module.Ledger, method_name, wrapped)

    original_write = ledger_module.Ledger._write

    @contextmanager
    def write(self: Any) -> Any:
        with original_write(self) as db:
            yield db
            hit(f"txn.{current[-1] if current else 'other'}")  # the body ran; COMMIT has not

    ledger_module.Ledger._write = write  # type: ignore[method-assign]

    table = pd.read_pickle(spec["table"])
    limits = dataclasses.replace(DEFAULT_LIMITS, **spec.get("limits", {}))
    go = spec.get("go")
    if go:
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.005)
    if point == "delay":
        threading.Timer(float(kill["delay"]), _die).start()
    started = time.perf_counter()
    with Client(api_key=spec["key"], base_url=spec["url"]) as client:
        # the emulator lists a job the moment it exists: half a second covers a POST still in its hands
        backend = BatchBackend(client, settle=0.5)
        result = measure(table, id_col="id", source_col="source", models=spec["models"], backend=backend,
                         ledger=spec["ledger"], limits=limits, progress=False, kind=spec.get("kind", "auto"))
    print(json.dumps({"counts": result.counts(), "submitted": len(result.submitted), "reused": len(result.reused),
                      "seconds": time.perf_counter() - started, "calls": dict(seen)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
