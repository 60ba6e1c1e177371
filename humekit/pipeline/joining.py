"""Join answers back to table rows by ID, through the ledger's input→row mapping, never by order.

The backend decodes each unit's stored answer into tables whose rows name the input they answer
for (``input_key``: for v0, the URL, the upload filename or the 1-based text index); the ledger maps
that key to the fingerprints of the rows that sent it, and the fingerprints to the table's IDs. An
input shared by several rows (a duplicate URL, identical files) is answered once and copied to each
of them. Every input row gets a status: ``ok``, ``failed`` (with the API's message), ``invalid``
(never sent, with the reason) or ``pending``.

An ``ok`` row that some requested model found nothing in gets a ``note`` saying why, read from
what the predictions hold: a file Hume answered for with no segment for that model is silent
audio ("prosody: no speech found"), an image or video without a face ("face: no face found"), a
text without entities ("ner: no named entity found"), a video without sound ("prosody: the
video has no audio track"); models that cannot apply to the file's type are named only when
no model that applies was asked for ("face: does not apply to audio"). A row sent in several units
with the same models (the windows of a long recording, the frame batches of a video) gets one note
from all of them: "audio: no speech found" only when no window found any speech.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from humekit.backends.base import COMPLETED, FAILED, Decoded
from humekit.pipeline.columns import DESCRIPTOR_COLUMNS, PREDICTION_COLUMNS, STATUS_COLUMNS, STATUS_DTYPE
from humekit.pipeline.coverage import Coverage
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.sources import API_MODELS_FOR_KIND
from humekit.predictions._schema import MODEL_ORDER
from humekit.predictions._tables import api_column

__all__ = ["JOINED_COLUMNS", "Joined", "STATUS_COLUMNS", "join_results", "no_predictions_note", "notes"]

class Decoder(Protocol):
    """How a unit's stored answer becomes tables keyed by input: the backend's ``decode``."""

    def __call__(self, kind: str, answer: bytes, *, request: Mapping[str, Any]) -> Decoded: ...

_FOUND_NOTHING = {"face": "no face found", "facemesh": "no face found", "prosody": "no speech found",
                  "audio": "no speech found",
                  "burst": "no vocal burst found", "language": "no speech transcribed",
                  "ner": "no named entity found"}  # fmt: skip

#: What one answer says about one input: the ``(file, file kind)`` it covers and the ``(file, model)`` pairs
#: that found something (:attr:`humekit.backends.base.Decoded.answered`).
Answered = tuple[list[tuple[str, str | None]], set[tuple[str, str]]]

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
    decode: Decoder,
    rejected: Mapping[Any, str] | None = None,
    unplannable: Mapping[Any, str] | None = None,
    api: str = "v0",
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
    scores, descriptors, errors, found = _unit_outputs(ledger, jobs, mapping, decode)

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
    notes: list[str | None] = [None] * n
    if jobs is not None:
        failed, used = _apply_job_states(states, job_ids, reasons, mapping, jobs, errors)
        notes = _row_notes(states, mapping, found, api=api)
    for position, reason in rejected.items():
        states[position], reasons[position] = "failed", reason
    for position in range(n):
        if states[position] == "pending" and reasons[position] is None:
            reasons[position] = "not finished yet: run measure again with the same ledger to resume"
    status = pd.DataFrame(
        {
            id_col: checked[id_col].to_numpy(),
            "status": pd.Categorical(states, dtype=STATUS_DTYPE),
            "job_id": pd.Series(job_ids, dtype="object").to_numpy(),
            "error": pd.Series(reasons, dtype="object").to_numpy(),
            "note": pd.Series([note if states[i] == "ok" else None for i, note in enumerate(notes)],
                              dtype="object").to_numpy(),
        },
        index=checked.index,
    )
    return Joined(status=status, predictions=_finish(scores, id_col, JOINED_COLUMNS, api=api),
                  descriptors=_finish(descriptors, id_col, DESCRIPTOR_COLUMNS, api=api), job_ids=tuple(used),
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


def _unit_outputs(ledger: Ledger, jobs: pd.DataFrame | None, mapping: pd.DataFrame, decode: Decoder
                  ) -> tuple[list[pd.DataFrame], list[pd.DataFrame], dict[tuple[str, str], str],
                             dict[tuple[str, str], Answered]]:
    """Scores, descriptors and per-input errors of the answered units, and per (unit, input) what a
    ``note`` is made from: the files the answer covers and the (file, model) pairs with a segment."""
    scores: list[pd.DataFrame] = []
    descriptors: list[pd.DataFrame] = []
    errors: dict[tuple[str, str], str] = {}
    found: dict[tuple[str, str], Answered] = {}
    if jobs is None:
        return scores, descriptors, errors, found
    requests = ledger.requests([str(k) for k in jobs.index[jobs["status"] == COMPLETED]])
    rows_of = mapping.groupby("job_key", sort=False).indices if len(mapping) else {}  # one pass, not one per job
    columns = mapping[["input_key", "row_index", "row_id", "models"]]
    for job_key, kind, status in zip(jobs.index, jobs["kind"], jobs["status"], strict=True):
        if status != COMPLETED:
            continue
        body = ledger.answer(str(job_key))
        if body is None:
            continue
        decoded = decode(str(kind), body, request=requests.get(str(job_key), {}))
        errors.update(((str(job_key), input_key), message) for input_key, message in decoded.errors.items())
        found.update(((str(job_key), input_key), answered) for input_key, answered in decoded.answered.items())
        keys = columns.iloc[rows_of.get(job_key, [])].reset_index(drop=True)
        scores.append(_attach(decoded.scores, keys))
        descriptors.append(_attach(decoded.descriptors, keys))
    return scores, descriptors, errors, found


def _row_notes(states: Sequence[str], mapping: pd.DataFrame, found: Mapping[tuple[str, str], Answered], *,
               api: str) -> list[str | None]:
    """Each ok row's note, read from every unit that answers for it with the same models together: the
    windows of one recording (or the frame batches of one video) are one answer, so a model found nothing
    in a row only when it found nothing in any of them."""
    merged: dict[int, dict[tuple[str, ...], Answered]] = {}
    for job_key, input_key, position, models in zip(mapping["job_key"], mapping["input_key"], mapping["row_index"],
                                                    mapping["models"], strict=True):
        answered = found.get((str(job_key), str(input_key)))
        if answered is None or states[position] != "ok":
            continue
        files, scored = merged.setdefault(position, {}).setdefault(tuple(models), ([], set()))
        files += [file for file in answered[0] if file not in files]
        scored |= answered[1]
    out: list[str | None] = [None] * len(states)
    for position, groups in merged.items():  # only the models each group of units takes
        said = [note for models, (files, scored) in groups.items()
                if (note := no_predictions_note(files, scored, models, api=api))]
        out[position] = "; ".join(dict.fromkeys(said)) or None
    return out


def notes(decoded: Decoded, requested: Sequence[str]) -> dict[str, str]:
    """Per input key of one answer, why a requested model has no segment (only inputs that lack some)."""
    said = {key: no_predictions_note(predictions, scored, requested)
            for key, (predictions, scored) in decoded.answered.items()}
    return {key: note for key, note in said.items() if note}


def _applies(model: str, kind: str | None, api: str) -> bool:
    """Whether ``model`` can find anything in a file of this kind (any, when the kind is not stated)."""
    if kind is None:
        return True
    if kind == "video_no_audio":
        return model in ("face", "facemesh")
    table = API_MODELS_FOR_KIND[api]
    return model in table.get(kind, table["video"])


def no_predictions_note(predictions: Sequence[tuple[str, Any]], scored: set[tuple[str, str]],
                        requested: Sequence[str], *, api: str = "v0") -> str | None:
    """Why some requested models found nothing in one input, or ``None`` if each found something.

    Args:
        predictions: ``(file, file_type)`` of each file Hume answered for in the input (an
            archive has several); ``file_type`` as Hume states it (``audio``, ``video``,
            ``video_no_audio``, ``image``, ``text``) or ``None``.
        scored: the ``(file, model)`` pairs that have at least one segment.
        requested: the models the job asked for.
    """
    if not predictions:
        return "no predictions returned for this input"
    parts, elsewhere = [], []
    for model in sorted(requested, key=lambda m: MODEL_ORDER.index(m) if m in MODEL_ORDER else len(MODEL_ORDER)):
        empty = [(file, kind) for file, kind in predictions if (file, model) not in scored]
        if not empty:
            continue
        applies = [(file, kind) for file, kind in empty if _applies(model, kind, api)]
        if applies:
            reason = _FOUND_NOTHING.get(model, "nothing found")
            if model == "language" and all(kind == "text" for _, kind in applies):
                reason = "no text found"
            if len(predictions) > 1:
                reason += f" in {len(applies)} of {len(predictions)} files"
            parts.append(f"{model}: {reason}")
        elif all(kind == "video_no_audio" for _, kind in empty):  # a video, but nothing to hear
            parts.append(f"{model}: the video has no audio track")
        else:
            elsewhere.append(f"{model}: does not apply to {' or '.join(sorted({str(kind) for _, kind in empty}))}")
    if not parts and not scored:  # nothing at all, and no model that applies was asked for: say that
        parts = elsewhere
    return "; ".join(parts) or None


def _attach(frame: pd.DataFrame, keys: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``frame`` for each table row whose input they answer (copied for shared inputs)."""
    by = frame["input_key"]
    targets_of = keys.groupby("input_key").indices
    model_of = frame["model"].astype("string").to_numpy() if "model" in frame.columns else None
    present = set(model_of) if model_of is not None else set()
    models = keys["models"].tolist()
    blocks: list[np.ndarray] = []  # positions in frame, one block per (input, table row)
    targets: list[int] = []  # the keys row each block belongs to
    for input_key, found in by.groupby(by, sort=False, observed=True).indices.items():
        where: np.ndarray = np.asarray(found)  # already an array of positions (no copy); typed as one
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
    records = {key: dict(zip(jobs.columns, values, strict=True))  # one record per job, not a .loc per row
               for key, values in zip(jobs.index, jobs.itertuples(index=False, name=None), strict=True)}
    for job_key, input_key, fingerprint, position, models in zip(
            mapping["job_key"], mapping["input_key"], mapping["fingerprint"], mapping["row_index"],
            mapping["models"], strict=True):
        job = records[job_key]
        job_id = job["job_id"] if isinstance(job["job_id"], str) else None
        if job["state"] == "rejected":
            state, reason = "failed", job["message"]
        elif job["state"] == "submitting":
            state, reason = "pending", "submission was interrupted: run measure again with the same ledger to finish it"
        elif job["status"] == FAILED:
            state, reason = "failed", f"job {job_id} FAILED: {job['message']}" if job_id else str(job["message"])
        elif job["status"] == COMPLETED:
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


def _finish(frames: list[pd.DataFrame], id_col: str, keep: Sequence[str], *, api: str) -> pd.DataFrame:
    """One table of the rows' answers, in the rows' order, with the ID and ``api`` (the backend's, on every row)."""
    frames = [f for f in frames if len(f)]
    if not frames:
        empty = {c: pd.Series(dtype="object") for c in keep}
        return pd.DataFrame({id_col: pd.Series(dtype="object"), **empty, "api": pd.Series(api_column(api, 0))})
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    frame = frame.sort_values(["row_index", "model", "begin"], kind="stable", ignore_index=True)
    frame["api"] = api_column(api, len(frame))
    out = frame[["row_id", *[c for c in keep if c in frame.columns]]].rename(columns={"row_id": id_col})
    for column in ("model", "emotion", "kind", "name"):
        if column in out.columns and not isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype("category")
    return out
