"""Child process for the v1 crash tests: run ``humekit.measure(..., api="v1")``, SIGKILLing itself at a chosen point.

Usage: ``python _child_v1.py '<json spec>'`` with keys ``url``, ``ledger``, ``table`` (a pickle), ``out`` (a
folder for the result's tables) and optional ``kill``.

``kill`` is ``{"point": ..., "n": N}``: the process kills itself with SIGKILL at the N-th occurrence of the
point, where a point is ``upload:before``/``upload:after`` (an HTTP upload, before it is sent / once its
answer is read), ``upload:inflight`` (a timer fires ``delay`` seconds after the N-th upload starts: with the
emulator's latency, while the server holds it), ``ledger.<method>:before``/``:after`` (``claim``,
``record_send``, ``record_answer``), ``txn.<method>`` (inside the N-th write transaction of that method,
before COMMIT), ``context:after`` (a frame batch has read the previous batch's ``face_state`` from the
ledger) or ``delay`` (a timer ``delay`` seconds after ``measure`` starts). On success it writes the
result's predictions, status and cost as pickles into ``out`` and prints one JSON line with the counts.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(spec: dict[str, Any]) -> int:
    import pandas as pd
    from _v1_study import MODELS, backend

    import humekit
    import humekit.backends.v1.backend as backend_module
    import humekit.backends.v1.client as client_module
    import humekit.pipeline.ledger as ledger_module

    kill = spec.get("kill") or {}
    point, target = kill.get("point"), int(kill.get("n", 1))
    seen: Counter[str] = Counter()
    lock = threading.Lock()
    current = threading.local()  # the ledger method this thread is running (to name its transaction)

    def hit(name: str) -> None:
        with lock:
            seen[name] += 1
            now = seen[name]
        if name == point and now == target:
            _die()

    original_call = client_module.V1Client._call

    def call(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        if method != "POST":
            return original_call(self, method, path, **kwargs)
        hit("upload:before")
        if point == "upload:inflight" and seen["upload:before"] == target:
            threading.Timer(float(kill.get("delay", 0.01)), _die).start()
        answer = original_call(self, method, path, **kwargs)
        hit("upload:after")
        return answer

    client_module.V1Client._call = call  # type: ignore[method-assign]

    original_context = backend_module.V1Backend.context

    def context(self: Any, unit: Any, run: Any) -> dict[str, Any]:
        found = original_context(self, unit, run)
        if found:
            hit("context:after")
        return found

    backend_module.V1Backend.context = context  # type: ignore[method-assign]

    for method_name in ("claim", "record_send", "record_answer"):
        original = getattr(ledger_module.Ledger, method_name)

        def wrapped(self: Any, *args: Any, _orig: Any = original, _nm: str = method_name, **kwargs: Any) -> Any:
            hit(f"ledger.{_nm}:before")
            current.name = _nm
            try:
                result = _orig(self, *args, **kwargs)
            finally:
                current.name = None
            hit(f"ledger.{_nm}:after")
            return result

        setattr(ledger_module.Ledger, method_name, wrapped)

    original_write = ledger_module.Ledger._write

    @contextmanager
    def write(self: Any) -> Any:
        with original_write(self) as db:
            yield db
            hit(f"txn.{getattr(current, 'name', None) or 'other'}")  # the body ran; COMMIT has not

    ledger_module.Ledger._write = write  # type: ignore[method-assign]

    table = pd.read_pickle(spec["table"])
    if point == "delay":
        threading.Timer(float(kill["delay"]), _die).start()
    started = time.perf_counter()
    result = humekit.measure(table, id_col="id", source_col="source", models=MODELS, api="v1",
                             backend=backend(spec["url"]), ledger=spec["ledger"], progress=False)
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    result.predictions.to_pickle(out / "predictions.pkl")
    result.status.to_pickle(out / "status.pkl")
    cost = result.cost
    print(json.dumps({"counts": result.counts(), "submitted": len(result.submitted), "reused": len(result.reused),
                      "seconds": time.perf_counter() - started, "calls": dict(seen),
                      "cost": {"requests": cost.attrs["total_requests"],
                               "billed_seconds": cost.attrs["total_billed_seconds"],
                               "lost_answers": cost.attrs["total_lost_answers"],
                               "lost_billed": cost.attrs["total_lost_billed"]}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
