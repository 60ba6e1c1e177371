"""URL rows under v1: measured as the files humekit downloads for them (:mod:`~humekit.backends.v1.downloads`).

v1 takes uploads only. At pack time (before anything is sent to Hume, so a dry run downloads too: it must,
to count the windows it prices) each distinct URL is downloaded, checked exactly as a local file is at
validation (:func:`~humekit.pipeline.sources.check_source`: empty, not media, mislabelled, too long, no
requested model measures it) and becomes a ``file`` input: its download's path, size and md5, and the URL
as its content. Its rows keep their fingerprints (their ID and the URL), so their units' keys are the same
on every run, and the ledger records the URL for each row: a rerun finds every answered URL row covered
and downloads nothing (see :mod:`humekit.pipeline.coverage`).

A URL that cannot be downloaded, or whose file cannot be measured, makes its rows ``invalid`` (they were
never sent) with a reason that names the URL, the HTTP status or cause, and what to do; the other rows go
on. A download that is not audio, video or an image (an error or sign-in page served with 200) is deleted,
so the next run fetches it again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from humekit.backends.v1.downloads import Downloads
from humekit.errors import DownloadError
from humekit.pipeline.input_limits import InputLimits
from humekit.pipeline.ledger import Ledger
from humekit.pipeline.planning import PlannedInput, RowInput, file_md5
from humekit.pipeline.sources import check_source, media_category

__all__ = ["downloaded_inputs", "downloaded_rows"]

_MEASURABLE = ("audio", "video", "image")


def downloaded_inputs(items: Sequence[PlannedInput], downloads: Downloads, *, models: Sequence[str],
                      limits: InputLimits, concurrency: int) -> tuple[list[PlannedInput], dict[Any, str]]:
    """The URL inputs as file inputs of their downloads, and why each row of the others cannot be measured
    (row position -> reason); ``concurrency`` downloads at once."""
    found = downloads.fetch_all([item.value for item in items], concurrency=concurrency)
    files: list[PlannedInput] = []
    unplannable: dict[Any, str] = {}
    for item in items:
        path = found[item.value]
        reason = str(path) if isinstance(path, DownloadError) else _problem(item.value, path, models, limits)
        if reason is None:
            assert isinstance(path, Path)
            files.append(PlannedInput("file", str(path), item.content, path.stat().st_size, item.rows,
                                      filename=path.name, md5=file_md5(path)))
        else:
            unplannable.update((row.index, reason) for row in item.rows)
    return files, unplannable


def downloaded_rows(unit_keys: Sequence[str], rows: Mapping[str, RowInput], ledger: Ledger, downloads: Downloads, *,
                    concurrency: int) -> tuple[list[str], dict[str, RowInput]]:
    """To resume: the units to send again, and ``rows`` with each URL row that a claimed, unanswered unit
    holds seen as its download (fetched again if it was deleted from the folder).

    A unit whose URL cannot be fetched again is left out: it stays claimed (its rows ``pending``) and the
    next run tries again.
    """
    urls = {fingerprint: row for fingerprint, row in rows.items() if row.kind == "url"}
    if not urls or not unit_keys:
        return list(unit_keys), dict(rows)
    jobs = ledger.jobs(unit_keys)
    stale = jobs.loc[jobs["state"] == "submitting", "job_key"].tolist()
    recorded = ledger.inputs(stale) if stale else None
    if recorded is None or recorded.empty:
        return list(unit_keys), dict(rows)
    held = recorded[(recorded["superseded"] == 0) & recorded["fingerprint"].isin(list(urls))]
    found = downloads.fetch_all([urls[f].value for f in held["fingerprint"]], concurrency=concurrency)
    resolved, lost = dict(rows), set()
    for job_key, fingerprint in zip(held["job_key"], held["fingerprint"], strict=True):
        path = found[urls[fingerprint].value]
        if isinstance(path, DownloadError):
            lost.add(job_key)
        else:
            resolved[fingerprint] = replace(urls[fingerprint], value=str(path), size=path.stat().st_size,
                                            md5=file_md5(path))
    return [key for key in unit_keys if key not in lost], resolved


def _problem(url: str, path: Path, models: Sequence[str], limits: InputLimits) -> str | None:
    """Why the file downloaded from ``url`` cannot be measured (``None``: it can), as a local file would be told."""
    checked = check_source(str(path), kind="file", base=path.parent, limits=limits, models=frozenset(models),
                           api="v1")
    if media_category("file", checked.media_type) not in _MEASURABLE:
        size = path.stat().st_size
        path.unlink(missing_ok=True)
        served = (f"{checked.media_type or 'content humekit does not recognise as media'} ({size:,} bytes; an error "
                  "or sign-in page?)" if size else "an empty body")
        return (f"{url} did not serve audio, video or an image: it served {served}. The download was deleted, so the "
                "next run fetches it again; open the URL in a browser to check it, or give the file's local path")
    if checked.problem is not None:
        return f"the file downloaded from {url} ({path}) cannot be measured: {checked.problem}"
    return None
