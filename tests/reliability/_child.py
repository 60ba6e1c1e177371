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
import sys
import time
from typing import Any


def main(spec: dict[str, Any]) -> int:
    import pandas as pd
    from _kills import KillSwitch

    import humekit.backends.v0.client as client_module
    import humekit.pipeline.ledger as ledger_module
    from humekit import Client, measure
    from humekit.backends.v0.backend import BatchBackend
    from humekit.backends.v0.limits import DEFAULT_LIMITS

    switch = KillSwitch(spec.get("kill"))

    def classify(method: str, path: str) -> str:
        if method == "POST":
            return "post"
        if path.endswith("/predictions"):
            return "fetch"
        return "list" if path.rstrip("/").endswith("/v0/batch/jobs") else "poll"

    original_send = client_module.Client._send

    def send(self: Any, method: str, path: str, **kwargs: Any) -> Any:
        kind = classify(method, path)
        switch.hit(f"{kind}:before")
        if kind == "post":
            switch.arm_timer("post:inflight", "post:before")
        response = original_send(self, method, path, **kwargs)
        switch.hit(f"{kind}:after")
        return response

    client_module.Client._send = send  # type: ignore[method-assign]
    switch.ledger(ledger_module.Ledger, ("claim", "record_submitted", "record_status", "store_predictions",
                                         "take_over"))

    table = pd.read_pickle(spec["table"])
    limits = dataclasses.replace(DEFAULT_LIMITS, **spec.get("limits", {}))
    go = spec.get("go")
    if go:
        deadline = time.monotonic() + 60
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.005)
    switch.start()
    started = time.perf_counter()
    with Client(api_key=spec["key"], base_url=spec["url"]) as client:
        # the emulator lists a job the moment it exists: half a second covers a POST still in its hands
        backend = BatchBackend(client, settle=0.5)
        result = measure(table, id_col="id", source_col="source", models=spec["models"], backend=backend,
                         ledger=spec["ledger"], limits=limits, progress=False, kind=spec.get("kind", "auto"))
    print(json.dumps({"counts": result.counts(), "submitted": len(result.submitted), "reused": len(result.reused),
                      "seconds": time.perf_counter() - started, "calls": dict(switch.seen)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(json.loads(sys.argv[1])))
