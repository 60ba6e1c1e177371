"""Hume's documented batch limits, in one overridable object read by the planner and the emulator.

Each number carries its source (``../shared/reference/hume-batch-api.md`` §3, "API limits" of
https://dev.hume.ai/docs/expression-measurement/rest). Override any of them with
``dataclasses.replace(DEFAULT_LIMITS, max_files_per_job=10)`` or ``Limits(...)``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from humekit.pipeline.input_limits import GB, InputLimits

__all__ = ["DEFAULT_LIMITS", "LIMIT_SOURCES", "Limits"]


@dataclass(frozen=True, slots=True)
class Limits(InputLimits):
    """Per-job and per-file limits of the batch API (the per-file ones are :class:`InputLimits`')."""

    max_urls_per_job: int = 100
    r"""URLs per request (DOCS-REST "API limits")."""
    max_texts_per_job: int = 100
    r"""Raw text strings per request (DOCS-REST)."""
    max_files_per_job: int = 100
    r"""Local files per request (DOCS-REST; FERN ``file`` docs)."""
    max_url_file_bytes: int = 1 * GB
    r"""Size of each file fetched from a URL (DOCS-REST)."""
    max_queued_jobs: int = 500
    r"""Jobs queued at once per account (DOCS-REST)."""
    max_request_bytes: int | None = None
    r"""humekit's own cap on one request's body (not Hume's): ``None`` means no cap."""

    def __repr__(self) -> str:
        changed = [
            f"{f.name}={getattr(self, f.name)!r}"
            for f in fields(self)
            if getattr(self, f.name) != f.default
        ]
        return f"Limits({', '.join(changed)})"


#: Where each default comes from, for reports and notebooks.
LIMIT_SOURCES: dict[str, str] = {
    "max_urls_per_job": "Hume docs, Expression Measurement REST, 'API limits': 100 URLs per request",
    "max_texts_per_job": "Hume docs, 'API limits': 100 raw text strings per request",
    "max_files_per_job": "Hume docs, 'API limits': 100 local files per request",
    "max_upload_bytes": "Hume docs, 'API limits': 100 MB per local upload",
    "max_url_file_bytes": "Hume docs, 'API limits': 1 GB per file fetched from a URL",
    "max_media_seconds": "Hume docs, 'API limits': 3 hours of audio or video per file",
    "max_text_bytes": "Hume docs, 'API limits': 255 MB per text string",
    "max_queued_jobs": "Hume docs, 'API limits': 500 jobs queued at once",
    "max_request_bytes": "humekit setting (not a Hume limit); None = no cap",
}

DEFAULT_LIMITS = Limits()
