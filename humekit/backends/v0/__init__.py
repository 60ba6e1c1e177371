"""Hume's v0 batch API (sunset 2026-06-14; any compatible base URL): jobs, polling, callbacks."""
