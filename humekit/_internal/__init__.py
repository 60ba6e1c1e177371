"""Helpers shared across layers (not public API): SQLite connections, backoff, the old import paths."""
