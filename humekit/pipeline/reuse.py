"""Identical inputs answered once: a row whose input a live unit already sends is recorded as answered by it.

Within one plan, identical inputs (the same file bytes, URL or text) are packed once and answer for every row
that holds them (:func:`humekit.pipeline.planning.distinct_inputs`). This is the same rule across plans: the
chunks of ``measure(out=...)``, and calls made later with the same ledger. Before a row is packed, the ledger is
asked for a live unit (claimed or sent; not failed, refused or abandoned) that sends an identical input with
exactly the same request: backend, endpoint, transcription, and the same models with the same options. The row is
then recorded as one more row that unit answers (:meth:`~humekit.pipeline.ledger.Ledger.attach`) instead of being
sent again; its answer is joined by ID like any other.

Not reused: a unit that sends only part of its input (a window of a long recording, a batch of a video's
frames: which parts a row needs is the backend's to plan), and anything while retrying (``retry_failed`` asks
for new answers).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from humekit.pipeline.coverage import canonical
from humekit.pipeline.ledger import Ledger, LedgerInput
from humekit.pipeline.planning import RowInput

__all__ = ["reuse_identical"]


def reuse_identical(rows: Sequence[RowInput], *, ledger: Ledger, models: Mapping[str, Any], backend: str,
                    endpoint: str, transcription: Any, record: bool = True) -> dict[int, str]:
    """Of ``rows`` (fingerprinted for a request of these ``models``), those a live unit making the same request
    already answers with an identical input: row position -> that unit's key. With ``record``, each is recorded
    as answered by it (a dry run records nothing)."""
    if not rows:
        return {}
    found = ledger.identical_inputs(list({row.content for row in rows}))
    if found.empty:
        return {}
    keys = list(dict.fromkeys(found["job_key"]))
    jobs = ledger.jobs(keys).set_index("job_key")
    requests = ledger.requests(keys)
    wanted = (canonical(endpoint), canonical(transcription), canonical(dict(models)))
    usable: dict[tuple[str, str], tuple[str, str]] = {}  # (kind, content) -> the first unit sending it, its input
    for job_key, input_key, content in zip(found["job_key"], found["input_key"], found["content"], strict=True):
        if job_key not in jobs.index:
            continue
        unit, request = jobs.loc[job_key], requests.get(job_key, {})
        if (unit["backend"] != backend or unit["state"] not in ("submitting", "submitted") or unit["status"] == "FAILED"
                or request.get("part")):
            continue
        made = request.get("models") or {}
        if (canonical(request.get("endpoint")), canonical(request.get("transcription")),
                canonical({name: made[name] for name in sorted(made)})) != wanted:
            continue
        usable.setdefault((str(unit["kind"]), content), (job_key, input_key))
    chosen: dict[str, list[tuple[RowInput, str]]] = {}
    for row in rows:
        match = usable.get((row.kind, row.content))
        if match is not None:
            chosen.setdefault(match[0], []).append((row, match[1]))
    reused: dict[int, str] = {}
    for job_key, members in chosen.items():
        if not record:
            reused.update({row.index: job_key for row, _ in members})
            continue
        attached = ledger.attach(job_key, [LedgerInput(input_key, row.fingerprint, row.token, row.content, row.md5)
                                           for row, input_key in members])
        reused.update({row.index: job_key for row, _ in members if row.fingerprint in attached})
    return reused
