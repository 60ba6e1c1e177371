"""Prediction tables: Hume's predictions JSON decoded, archives read, joined back to a table, exported.

``humekit.predictions`` was one module before this package; its public names are still importable from
here (``from humekit.predictions import to_frame``), and live in :mod:`humekit.predictions.decoding`.
"""

from humekit.predictions.decoding import (DESCRIPTOR_COLUMNS, ERROR_COLUMNS, METADATA_COLUMNS, SCORE_COLUMNS,
                                          PredictionTables, tables_and_files, to_frame, to_tables)

__all__ = ["DESCRIPTOR_COLUMNS", "ERROR_COLUMNS", "METADATA_COLUMNS", "SCORE_COLUMNS", "PredictionTables",
           "tables_and_files", "to_frame", "to_tables"]
