"""What the ledger already holds for each (row, model), so that only the missing pairs are sent.

A job answers for some rows with some models. The ledger records, for every input of a job, the
row it answers for (its ID token and its content: file md5, URL or text hash) and the request the
job was made with (endpoint, models and their options, transcription). A (row, model) pair is
*covered* by a live job (claimed, submitted or finished, and not superseded) of the same backend,
endpoint and transcription, whose input has the row's ID, kind and content, and whose models
include that model with the same options. Measuring with ``prosody`` and later with ``prosody``
and ``face`` therefore sends only ``face``; dropping a model sends nothing; and jobs recorded
before planning was per model (one job for all the models of a call) are read the same way.

A URL row is also covered by a ``file`` unit whose input has the URL as its content: v1 uploads the
file humekit downloaded for it (:mod:`humekit.backends.v1.url_rows`), so a rerun downloads nothing.

When several live jobs cover a pair, the one recorded first answers for it, so reruns agree. Units that
each send a *part* of one input (the windows of a long recording) answer for it together: the pair is
covered by every live part recorded with the first one's fingerprint, once one of those parts has been
sent. A synchronous backend claims every unit of a call before it sends any, so parts none of which was
sent may be what a crash left while claiming (the first windows of a recording, the rest never claimed):
they answer for nothing, and the pair is missing (planned again: into the same units when the same models
are missing, whose claims are then taken over and the rest claimed; else into units of their own, which
answer for it once sent), so a row is never answered by some of its parts only.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import RowInput

__all__ = ["ANSWERED_BY", "Assignment", "Coverage", "canonical", "cover"]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One live job that answers for one row, and the requested models it answers for."""

    index: int
    r"""The row's position in the table."""
    fingerprint: str
    r"""The row's fingerprint in that job (its ID, content and the job's configuration)."""
    job_key: str
    models: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Coverage:
    """For every row: the jobs that answer for it and the requested models none answers for yet."""

    assignments: tuple[Assignment, ...]
    missing: Mapping[int, tuple[str, ...]]
    r"""Row position -> the requested models no live job covers (rows fully covered are absent)."""
    rows: Mapping[str, RowInput]
    r"""Fingerprint -> the row, for every live input of this table's rows (with that fingerprint)."""

    @property
    def job_keys(self) -> list[str]:
        """The jobs that answer for some row, in the order of the assignments."""
        return list(dict.fromkeys(a.job_key for a in self.assignments))


def cover(
    rows: Sequence[RowInput],
    ledger: Ledger,
    *,
    backend: str,
    endpoint: str,
    models: Mapping[str, Any],
    transcription: Any,
) -> Coverage:
    """Find, for each row and requested model, the live job in ``ledger`` that answers for it."""
    by_token = {row.token: row for row in rows}
    found = ledger.live_inputs(list(by_token))
    jobs = ledger.jobs(set(found["job_key"])) if len(found) else None
    provides: dict[str, tuple[str, ...]] = {}  # job key -> the requested models it answers with
    kinds: dict[str, str] = {}
    parts: set[str] = set()  # the units that send a part of their input
    if jobs is not None:
        requests = ledger.requests(jobs["job_key"])
        wanted = {name: canonical(options) for name, options in models.items()}
        for job_key, job_backend, kind in zip(jobs["job_key"], jobs["backend"], jobs["kind"], strict=True):
            request = requests.get(job_key, {})
            if (job_backend != backend or canonical(request.get("endpoint")) != canonical(endpoint)
                    or canonical(request.get("transcription")) != canonical(transcription)):
                continue
            made = request.get("models") or {}
            provides[job_key] = tuple(m for m in models if m in made and canonical(made[m]) == wanted[m])
            if request.get("part"):
                parts.add(job_key)
            kinds[job_key] = kind
    sent = _sent(ledger, jobs, parts)
    # row position -> model -> fingerprint -> the jobs recorded with it, in the order recorded
    candidates: dict[int, dict[str, dict[str, list[str]]]] = {}
    matched: dict[str, RowInput] = {}
    columns = (found[c].tolist() for c in ("job_key", "fingerprint", "id_token", "content"))
    for job_key, fingerprint, token, content in zip(*columns, strict=True):  # in the order recorded
        row = by_token.get(token)
        if (job_key not in provides or row is None or row.content != content
                or kinds[job_key] not in ANSWERED_BY.get(row.kind, (row.kind,))):
            continue
        matched[fingerprint] = row if row.fingerprint == fingerprint else replace(row, fingerprint=fingerprint)
        for model in provides[job_key]:
            candidates.setdefault(row.index, {}).setdefault(model, {}).setdefault(fingerprint, []).append(job_key)
    assignments = []
    missing: dict[int, tuple[str, ...]] = {}
    for row in rows:
        grouped: dict[tuple[str, str], list[str]] = {}
        for model, by_fingerprint in candidates.get(row.index, {}).items():
            answering = _answering(by_fingerprint, parts, sent)
            for fingerprint, job_key in answering:
                grouped.setdefault((fingerprint, job_key), []).append(model)
        assignments += [Assignment(row.index, fingerprint, job_key, tuple(names))
                        for (fingerprint, job_key), names in grouped.items()]
        answered = {model for names in grouped.values() for model in names}
        absent = tuple(m for m in models if m not in answered)
        if absent:
            missing[row.index] = absent
    return Coverage(assignments=tuple(assignments), missing=missing, rows=matched)


#: The kinds of unit that can answer a row of each kind: a URL row also a ``file`` unit, which uploads the
#: file a backend downloaded for it (v1's) and records the URL as its input's content.
ANSWERED_BY: Mapping[str, tuple[str, ...]] = {"url": ("url", "file")}


def _answering(by_fingerprint: Mapping[str, list[str]], parts: set[str], sent: set[str]) -> list[tuple[str, str]]:
    """The (fingerprint, job) pairs that answer one (row, model): the first job recorded, or, when it sends a
    part of the input, every part recorded with its fingerprint, unless none of those was sent (then the
    next fingerprint's jobs are tried; none left: the pair is missing)."""
    for fingerprint, keys in by_fingerprint.items():
        if keys[0] not in parts:
            return [(fingerprint, keys[0])]
        together = [(fingerprint, key) for key in keys if key in parts]
        if any(key in sent for _, key in together):
            return together
    return []


def _sent(ledger: Ledger, jobs: Any, parts: set[str]) -> set[str]:
    """The part units a request went out for: answered, failed or refused, or with a send recorded."""
    if not parts or jobs is None:
        return set()
    states = dict(zip(jobs["job_key"], jobs["state"], strict=True))
    return {key for key in parts if states.get(key) != "submitting"} | set(ledger.sends(parts))


def canonical(value: Any) -> str:
    """One spelling for equal JSON values (the ledger stores requests as JSON)."""
    return json.dumps(value, sort_keys=True, default=str)
