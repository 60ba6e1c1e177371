"""The columns humekit's outputs put beside the user's ID column, one definition each.

Every output of :func:`humekit.measure` (``status``, ``predictions``, ``descriptors``, ``wide()``)
and of ``humekit run`` (``status``, ``predictions`` and ``wide`` files) carries the user's ID
column under its own name next to these. An ID column with one of these names could not stay
intact beside them, so :func:`humekit.validate` refuses it before anything is sent, naming the fix.
"""

from __future__ import annotations

from humekit.predictions.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS

__all__ = ["DESCRIPTOR_COLUMNS", "OUTPUT_COLUMNS", "PREDICTION_COLUMNS", "STATUS_COLUMNS", "SUMMARY_COLUMNS"]

#: ``status``: one row per input row.
STATUS_COLUMNS = ("status", "job_id", "error", "note")
#: ``predictions``: the long table, after the ID (the source columns are replaced by the ID).
PREDICTION_COLUMNS = (
    "model", "group", "frame", "begin", "end", "text", "position_begin", "position_end", "emotion", "score",
    "file", "file_type", "prob", "box_x", "box_y", "box_w", "box_h", "confidence", "speaker_confidence",
)  # fmt: skip
#: ``descriptors``: face FACS and descriptions, burst descriptions, sentiment and toxicity.
DESCRIPTOR_COLUMNS = ("model", "group", "frame", "begin", "end", "text", "kind", "name", "score", "file")
#: ``humekit run``'s per-row summary (``wide.csv``) after the user's columns and ``status``; then one
#: column per emotion, as in ``wide()``.
SUMMARY_COLUMNS = ("model", "segments")

#: Every name an output column can have besides the ID (emotion names are ``wide`` columns).
OUTPUT_COLUMNS: frozenset[str] = frozenset(
    (*STATUS_COLUMNS, *PREDICTION_COLUMNS, *DESCRIPTOR_COLUMNS, *SUMMARY_COLUMNS, *EMOTIONS, *LANGUAGE_EMOTIONS)
)
