"""The columns humekit's outputs put beside the user's ID column, one definition each.

Every output of :func:`humekit.measure` (``status``, ``predictions``, ``descriptors``, ``wide()``)
and of ``humekit run`` (``status``, ``predictions`` and ``wide`` files) carries the user's ID
column under its own name next to these. An ID column with one of these names could not stay
intact beside them, so :func:`humekit.validate` refuses it before anything is sent, naming the fix.

Every per-row status table (a live result's and :func:`humekit.join_archived`'s) speaks one
vocabulary: a ``status`` column of :data:`STATUS_DTYPE` (:data:`ROW_STATUSES` says what each
status means) and an ``error`` column with the reason for any status but ``ok``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pandas as pd

from humekit.predictions.vocabulary import EMOTIONS, LANGUAGE_EMOTIONS

__all__ = [
    "ARCHIVED_STATUS_COLUMNS", "DESCRIPTOR_COLUMNS", "OUTPUT_COLUMNS", "PREDICTION_COLUMNS", "ROW_STATUSES",
    "STATUS_CATEGORIES", "STATUS_COLUMNS", "STATUS_DTYPE", "SUMMARY_COLUMNS",
]  # fmt: skip

#: What each row's ``status`` can be, and what it means, in every per-row status table: a live
#: result's (``measure(...).status``, ``humekit run``'s ``status`` file) and an archive join's
#: (``join_archived(...).status``). For any status but ``ok``, the ``error`` column says why in words.
ROW_STATUSES: Mapping[str, str] = MappingProxyType({
    "ok": "predictions came back for the row (or the archive holds them); a live result's note column may "
          "say that a model found nothing in it",
    "failed": "the row was sent (or looked up) and no predictions came back: Hume's error for it, a job the "
              "endpoint no longer knows, a refused request, or an archive that holds no predictions for it",
    "invalid": "the row cannot be measured (or matched) as it is, so it was never sent: a missing or "
               "unreadable file, an unsupported source, a model that cannot measure it, a raw text an archive "
               "cannot tie to a row, a file name two archived recordings share",
    "pending": "sent, not finished yet: run measure again with the same ledger to resume",
})
#: The categories of every ``status`` column, in this order (``ok`` first).
STATUS_CATEGORIES: tuple[str, ...] = tuple(ROW_STATUSES)
#: The dtype of every ``status`` column: a Categorical of :data:`STATUS_CATEGORIES` (so
#: ``value_counts()`` lists each status, even at 0).
STATUS_DTYPE = pd.CategoricalDtype(list(STATUS_CATEGORIES))

#: ``status``: one row per input row.
STATUS_COLUMNS = ("status", "job_id", "error", "note")
#: ``join_archived(...).status``: one row per table row, after the ID. ``status`` and ``error`` as in
#: :data:`STATUS_COLUMNS`; ``match`` is the finer detail (``matched``, ``missing``, ``ambiguous``,
#: ``unmatchable``); ``reason`` is the same text as ``error``, kept for this release.
ARCHIVED_STATUS_COLUMNS = ("status", "error", "match", "reason")
#: ``predictions``: the long table, after the ID (the source columns are replaced by the ID). ``api`` is the
#: API that measured the row (``v0`` or ``v1``): the vocabulary its ``model`` and ``emotion`` belong to.
PREDICTION_COLUMNS = (
    "api", "model", "group", "frame", "begin", "end", "text", "position_begin", "position_end", "emotion", "score",
    "file", "file_type", "prob", "box_x", "box_y", "box_w", "box_h", "confidence", "speaker_confidence",
)  # fmt: skip
#: ``descriptors``: face FACS and descriptions, burst descriptions, sentiment and toxicity.
DESCRIPTOR_COLUMNS = ("api", "model", "group", "frame", "begin", "end", "text", "kind", "name", "score", "file")
#: ``per_row()`` (``humekit run``'s ``per_row.csv``) after the user's columns and ``status``; then one
#: column per emotion, as in ``wide()``.
SUMMARY_COLUMNS = ("api", "model", "segments")

#: Every name an output column can have besides the ID (emotion names are ``wide`` columns).
OUTPUT_COLUMNS: frozenset[str] = frozenset(
    (*STATUS_COLUMNS, *PREDICTION_COLUMNS, *DESCRIPTOR_COLUMNS, *SUMMARY_COLUMNS, *EMOTIONS, *LANGUAGE_EMOTIONS)
)
