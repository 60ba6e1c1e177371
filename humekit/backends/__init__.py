"""Backends: how the pipeline's units of work reach an API.

``base`` is the seam (the contract every backend keeps); ``sync`` keeps it for synchronous APIs (one
request per unit, the answer in the response); ``v0`` is Hume's batch API (jobs, polling, callbacks).
"""
