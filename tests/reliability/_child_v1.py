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
import sys
import time
from pathlib import Path
from typing import Any


def main(spec: dict[str, Any]) -> int:
    import pandas as pd
    from _kills import KillSwitch
    from _v1_study import MODELS, backend

    import humekit
    import humekit.backends.v1.backend as backend_module
    import humekit.backends.v1.client as client_module
    import humekit.pipeline.ledger as ledger_module

    switch = KillSwitch(spec.get("kill"))
    original_call = client_module.V1Client._call

    def call(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        if method != "POST":
            return original_call(self, method, path, **kwargs)
        switch.hit("upload:before")
        switch.arm_timer("upload:inflight", "upload:before")
        answer = original_call(self, method, path, **kwargs)
        switch.hit("upload:after")
        return answer

    client_module.V1Client._call = call  # type: ignore[method-assign]

    original_context = backend_module.V1Backend.context

    def context(self: Any, unit: Any, run: Any) -> dict[str, Any]:
        found = original_context(self, unit, run)
        if found:
            switch.hit("context:after")
        return found

    backend_module.V1Backend.context = context  # type: ignore[method-assign]
    switch.ledger(ledger_module.Ledger, ("claim", "record_send", "record_answer"))

    table = pd.read_pickle(spec["table"])
    switch.start()
    started = time.perf_counter()
    result = humekit.measure(table, id_col="id", source_col="source", models=MODELS, api="v1",
                             backend=backend(spec["url"]), ledger=spec["ledger"], progress=False)
    out = Path(spec["out"])
    out.mkdir(parents=True, exist_ok=True)
    result.predictions.to_pickle(out / "predictions.pkl")
    result.status.to_pickle(out / "status.pkl")
    cost = result.cost
    print(json.dumps({"counts": result.counts(), "submitted": len(result.submitted), "reused": len(result.reused),
                      "seconds": time.perf_counter() - started, "calls": dict(switch.seen),
                      "cost": {"requests": cost.attrs["total_requests"],
                               "billed_seconds": cost.attrs["total_billed_seconds"],
                               "lost_answers": cost.attrs["total_lost_answers"],
                               "lost_billed": cost.attrs["total_lost_billed"]}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
