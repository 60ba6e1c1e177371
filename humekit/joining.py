"""Join predictions back to table rows by ID, through the ledger's input→row mapping, never by order.

A job's predictions name each input by its URL, its upload filename or its 1-based text index;
the ledger maps that key to the fingerprints of the rows that sent it, and the fingerprints to
the table's IDs. An input shared by several rows (a duplicate URL, identical files) is answered
once and copied to each of them. Every input row gets a status: ``ok``, ``failed`` (with Hume's
message), ``invalid`` (never sent, with the reason) or ``pending``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from humekit.columns import DESCRIPTOR_COLUMNS, PREDICTION_COLUMNS, STATUS_COLUMNS
from humekit.coverage import Coverage
from humekit.ledger import Ledger
from humekit.predictions import to_tables

__all__ = ["JOINED_COLUMNS", "Joined", "STATUS_COLUMNS", "join_results"]

#: Prediction columns kept after the ID (the source columns are replaced by the ID).
JOINED_COLUMNS = PREDICTION_COLUMNS


@dataclass(frozen=True, slots=True)
class Joined:
    """The joined outputs."""

    status: pd.DataFrame
    predictions: pd.DataFrame
    descriptors: pd.DataFrame
    job_ids: tuple[str, ...] = ()
    r"""The jobs whose answers were used, in the order of the rows."""
    failed: tuple[str, ...] = ()
    r"""The fingerprints of the (row, job) answers that failed (what a retry resends)."""


def join_results(
    checked: pd.DataFrame,
    *,
    id_col: str,
    coverage: Coverage,
    ledger: Ledger,
    rejected: Mapping[Any, str] | None = None,
    unplannable: Mapping[Any, str] | None = None,
) -> Joined:
    """Build the status of every row and the predictions of every row that has them.

    A row answered by several jobs (its models measured by different calls) gets the predictions of
    each for the models it answers for; it is ``ok`` when all are, else ``failed`` or ``pending``.
    """
    rejected = rejected or {}
    unplannable = unplannable or {}
    keys = coverage.job_keys
    jobs = ledger.jobs(keys).set_index("job_key") if keys else None
    mapping = _mapping(ledger, coverage, checked)
    scores, descriptors, errors = _job_outputs(ledger, jobs, mapping)

    n = len(checked)
    states = ["pending"] * n
    job_ids: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for position, problem in enumerate(checked["source_problem"]):
        if isinstance(problem, str):
            states[position], reasons[position] = "invalid", problem
    for position, reason in unplannable.items():
        states[position], reasons[position] = "invalid", reason
    failed: list[str] = []
    used: list[str] = []
    if jobs is not None:
        failed, used = _apply_job_states(states, job_ids, reasons, mapping, jobs, errors)
    for position, reason in rejected.items():
        states[position], reasons[position] = "failed", reason
    for position in range(n):
        if states[position] == "pending" and reasons[position] is None:
            reasons[position] = "not finished yet: run measure again with the same ledger to resume"
    status = pd.DataFrame(
        {
            id_col: checked[id_col].to_numpy(),
            "status": pd.Categorical(states, categories=["ok", "failed", "invalid", "pending"]),
            "job_id": pd.Series(job_ids, dtype="object").to_numpy(),
            "error": pd.Series(reasons, dtype="object").to_numpy(),
        },
        index=checked.index,
    )
    return Joined(status=status, predictions=_finish(scores, id_col, JOINED_COLUMNS),
                  descriptors=_finish(descriptors, id_col, DESCRIPTOR_COLUMNS), job_ids=tuple(used),
                  failed=tuple(failed))


def _mapping(ledger: Ledger, coverage: Coverage, checked: pd.DataFrame) -> pd.DataFrame:
    """One row per (job, input, table row) that answers: the models it answers for beside it."""
    columns = ["job_key", "input_key", "fingerprint", "row_index", "row_id", "models"]
    if not coverage.assignments:
        return pd.DataFrame(columns=columns)
    wanted = {(a.job_key, a.fingerprint): a for a in coverage.assignments}
    recorded = ledger.inputs(coverage.job_keys)
    recorded = recorded[recorded["superseded"] == 0]
    pairs = list(zip(recorded["job_key"], recorded["fingerprint"], strict=True))
    recorded = recorded[[pair in wanted for pair in pairs]]
    mapping = recorded[["job_key", "input_key", "fingerprint"]].copy()
    found = [wanted[pair] for pair in zip(mapping["job_key"], mapping["fingerprint"], strict=True)]
    mapping["row_index"] = [a.index for a in found]
    mapping["row_id"] = [coverage.rows[a.fingerprint].row_id for a in found]
    mapping["models"] = [a.models for a in found]
    return mapping.sort_values("row_index", kind="stable").reset_index(drop=True)


def _job_outputs(ledger: Ledger, jobs: pd.DataFrame | None, mapping: pd.DataFrame
                 ) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[tuple[str, str], str]]:
    scores: list[pd.DataFrame] = []
    descriptors: list[pd.DataFrame] = []
    errors: dict[tuple[str, str], str] = {}
    if jobs is None:
        return scores, descriptors, errors
    for job_key, job in jobs.iterrows():
        if job["status"] != "COMPLETED" or not job["job_id"]:
            continue
        body = ledger.predictions(job["job_id"])
        if body is None:
            continue
        tables = to_tables(body)
        kind = job["kind"]
        for _, error in tables.errors.iterrows():
            errors[(str(job_key), _key(kind, error["source"], error["file"]))] = str(error["message"])
        keys = mapping[mapping["job_key"] == job_key][["input_key", "row_index", "row_id", "models"]]
        scores.append(_attach(tables.scores, kind, keys))
        descriptors.append(_attach(tables.descriptors, kind, keys))
    return scores, descriptors, errors


def _key(kind: str, source: Any, file: Any) -> str:
    return str(file) if kind == "text" else str(source)


def _attach(frame: pd.DataFrame, kind: str, keys: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` for each table row whose input they answer (copied for shared inputs)."""
    by = (frame["file"] if kind == "text" else frame["source"]).astype("string")
    targets_of = keys.groupby("input_key").indices
    model_of = frame["model"].astype("string").to_numpy() if "model" in frame.columns else None
    present = set(model_of) if model_of is not None else set()
    models = keys["models"].tolist()
    blocks: list[np.ndarray] = []  # positions in frame, one block per (input, table row)
    targets: list[int] = []  # the keys row each block belongs to
    for input_key, where in by.groupby(by, sort=False, observed=True).indices.items():
        for target in targets_of.get(str(input_key), ()):
            if model_of is not None and not present <= set(models[target]):
                where = where[np.isin(model_of[where], list(models[target]))]  # the models this row takes from the job
            blocks.append(where)
            targets.append(target)
    if not blocks:
        return frame.iloc[0:0].assign(row_index=pd.Series(dtype="object"), row_id=pd.Series(dtype="object"))
    out = frame.iloc[np.concatenate(blocks)].reset_index(drop=True)
    sizes = [len(block) for block in blocks]
    out["row_index"] = np.repeat(keys["row_index"].to_numpy()[targets], sizes)
    out["row_id"] = np.repeat(keys["row_id"].to_numpy()[targets], sizes)
    return out


def _apply_job_states(states: list[str], job_ids: list[str | None], reasons: list[str | None],
                      mapping: pd.DataFrame, jobs: pd.DataFrame, errors: Mapping[tuple[str, str], str]
                      ) -> tuple[list[str], list[str]]:
    """Each row's state from the jobs that answer for it (failed over pending over ok); returns the
    fingerprints that failed and the job ids used."""
    outcomes: dict[int, list[tuple[str, str | None, str | None, tuple[str, ...]]]] = {}
    failed: list[str] = []
    for job_key, input_key, fingerprint, position, models in zip(
            mapping["job_key"], mapping["input_key"], mapping["fingerprint"], mapping["row_index"],
            mapping["models"], strict=True):
        job = jobs.loc[job_key]
        job_id = job["job_id"] if isinstance(job["job_id"], str) else None
        if job["state"] == "rejected":
            state, reason = "failed", job["message"]
        elif job_id is None:
            state, reason = "pending", "submission was interrupted: run measure again with the same ledger to finish it"
        elif job["status"] == "FAILED":
            state, reason = "failed", f"job {job_id} FAILED: {job['message']}"
        elif job["status"] == "COMPLETED":
            message = errors.get((str(job_key), str(input_key)))
            state, reason = ("failed", message) if message else ("ok", None)
        else:
            state, reason = "pending", None
        if state == "failed":
            failed.append(fingerprint)
        outcomes.setdefault(position, []).append((state, reason, job_id, models))
    used: list[str] = []
    for position, answers in outcomes.items():
        ids = [job_id for _, _, job_id, _ in answers if job_id is not None]
        used += ids
        job_ids[position] = ", ".join(dict.fromkeys(ids)) or None
        for state in ("failed", "pending", "ok"):
            chosen = [(reason, models) for s, reason, _, models in answers if s == state]
            if chosen:
                break
        states[position] = state
        said = [(reason, models) for reason, models in chosen if reason]
        if len(answers) > 1:  # say which models each reason is about
            reasons[position] = "; ".join(f"{', '.join(models)}: {reason}" for reason, models in said) or None
        else:
            reasons[position] = said[0][0] if said else None
    return failed, list(dict.fromkeys(used))


def _finish(frames: list[pd.DataFrame], id_col: str, keep: Sequence[str]) -> pd.DataFrame:
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame({id_col: pd.Series(dtype="object"), **{c: pd.Series(dtype="object") for c in keep}})
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.sort_values(["row_index", "model", "begin"], kind="stable", ignore_index=True)
    out = frame[["row_id", *[c for c in keep if c in frame.columns]]].rename(columns={"row_id": id_col})
    for column in ("model", "emotion", "kind", "name"):
        if column in out.columns and not isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("category")
    return out
