"""Identical inputs answered once: a row whose input live units already send is recorded as answered by them.

Within one plan, identical inputs (the same file bytes, URL or text) are packed once and answer for every row
that holds them (:func:`humekit.pipeline.planning.distinct_inputs`). This is the same rule across plans: the
chunks of ``measure(out=...)``, and calls made later with the same ledger. Before a row is packed, the ledger is
asked for the units recorded for an earlier row holding an identical input with exactly the same request:
backend, endpoint, transcription, and the same models with the same options. The row is then recorded as one
more row those units answer (:meth:`~humekit.pipeline.ledger.Ledger.attach`, all of them or none) instead of
being sent again; its answer is joined by ID like any other.

An earlier row's units are used only when they answer it whole: a live unit (claimed or sent; not failed,
refused or abandoned) sending the input, or, when it is sent in parts (the windows of a recording, the frame
batches of a video), every part live and at least one sent, which means every part was claimed (a plan's units
are all claimed before any is sent). Never while retrying: ``retry_failed`` asks for new answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from humekit.pipeline.coverage import ANSWERED_BY, canonical
from humekit.pipeline.ledger import Ledger, LedgerInput
from humekit.pipeline.planning import RowInput

__all__ = ["reuse_identical"]

_LIVE = ("submitting", "submitted")


def reuse_identical(rows: Sequence[RowInput], *, ledger: Ledger, models: Mapping[str, Any], backend: str,
                    endpoint: str, transcription: Any, record: bool = True) -> dict[int, str]:
    """Of ``rows`` (fingerprinted for a request of these ``models``), those that the units of an earlier row
    holding an identical input answer with the same request: row position -> one of those units' keys. With
    ``record``, each is recorded as answered by them (a dry run records nothing)."""
    if not rows:
        return {}
    found = ledger.identical_inputs(list({row.content for row in rows}))
    if found.empty:
        return {}
    keys = list(dict.fromkeys(found["job_key"]))
    jobs = ledger.jobs(keys).set_index("job_key")
    requests = ledger.requests(keys)
    sends = ledger.sends(keys)
    wanted = (canonical(endpoint), canonical(transcription), canonical(dict(models)))

    def same_request(job_key: str) -> bool:
        request = requests.get(job_key, {})
        return (jobs.at[job_key, "backend"] == backend
                and (canonical(request.get("endpoint")), canonical(request.get("transcription")),
                     canonical(request.get("models") or {})) == wanted)

    # (content, the earlier row's fingerprint) -> its units and the input each sends, in the order recorded
    earlier: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for job_key, input_key, content, fingerprint in zip(found["job_key"], found["input_key"], found["content"],
                                                        found["fingerprint"], strict=True):
        if job_key in jobs.index and same_request(job_key):
            earlier.setdefault((content, fingerprint), []).append((job_key, input_key))
    usable: dict[tuple[str, str], list[tuple[str, str]]] = {}  # (kind, content) -> the units answering it whole
    for (content, _), units in earlier.items():
        live = [(key, input_key) for key, input_key in units
                if jobs.at[key, "state"] in _LIVE and jobs.at[key, "status"] != "FAILED"]
        parts = [key for key, _ in units if requests.get(key, {}).get("part")]
        if parts:  # sent in parts: all of them live, and one sent (so all were claimed), or none
            if len(live) < len(units) or not any(jobs.at[key, "state"] == "submitted" or key in sends
                                                 for key in parts):
                continue
            answering = live
        elif live:
            answering = live[:1]  # a whole input: the first live unit sending it answers it
        else:
            continue
        for kind in {str(jobs.at[key, "kind"]) for key, _ in answering}:
            usable.setdefault((kind, content), answering)
    reused: dict[int, str] = {}
    for row in rows:
        candidates = [usable[key] for kind in ANSWERED_BY.get(row.kind, (row.kind,))
                      if (key := (kind, row.content)) in usable]
        if not candidates:
            continue
        whole = candidates[0]
        if record:
            attached = ledger.attach({key: [LedgerInput(input_key, row.fingerprint, row.token, row.content, row.md5)]
                                      for key, input_key in whole})
            if row.fingerprint not in attached:
                continue
        reused[row.index] = whole[0][0]
    return reused
