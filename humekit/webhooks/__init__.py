"""Webhooks: signing and verifying them, their event types, the receiver that stores them, EVI's exports.

``humekit.webhooks`` was one module (the signing functions) before this package; those names are still
importable from here (``from humekit.webhooks import verify``), and live in :mod:`humekit.webhooks.signing`.
"""

from humekit.webhooks.signing import (DEFAULT_TOLERANCE, SIGNATURE_HEADER, TIMESTAMP_HEADER, compute_signature,
                                      construct_event, get_header, sign, verify)

__all__ = ["DEFAULT_TOLERANCE", "SIGNATURE_HEADER", "TIMESTAMP_HEADER", "compute_signature", "construct_event",
           "get_header", "sign", "verify"]
