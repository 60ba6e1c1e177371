"""What the ledger records and returns: a unit's inputs, a claim on a unit, a payload's key and a claim's owner."""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["STALE_CLAIM_S", "Claim", "LedgerInput", "owner_gone", "owner_token", "payload_key"]


@dataclass(frozen=True, slots=True)
class LedgerInput:
    """One input of a job and one row it answers for (an input may answer for several rows)."""

    input_key: str
    fingerprint: str
    id_token: str
    content: str
    md5: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What the ledger knows about a job key after trying to claim it."""

    job_key: str
    state: str
    job_id: str | None
    owner: str | None
    claimed_ms: int
    ours: bool
    r"""Whether this call created the claim (so this process must submit the job)."""


def payload_key(request: Mapping[str, Any]) -> str:
    """What identifies a payload the API may refuse: the endpoint, the models and transcription, the
    kind and the content of every input in order (file md5s, URLs, text digests). It leaves out the
    job key (a retry's keys are new), upload names and paths, which do not change what is sent for a limit.
    A unit that sends only a ``part`` of its input (a window) is told apart by that part."""
    contents = (request.get("urls") or request.get("text_sha256")
                or [f.get("md5sum") for f in request.get("files") or []])
    kind = "url" if "urls" in request else "text" if "text_sha256" in request else "file"
    canonical = {"endpoint": request.get("endpoint"), "models": request.get("models"),
                 "transcription": request.get("transcription"), "kind": kind, "contents": list(contents)}
    if request.get("part"):  # only when there is one: the keys of payloads refused before stay the same
        canonical["part"] = request["part"]
    return hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()


def owner_token() -> str:
    """Who holds a claim: host and process, so a dead owner's claim can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}"


#: How long a claim of another machine's process stays its own with no sign of life (its last send or
#: claim): longer than any one upload and its retries take, so only a dead process's claim is taken.
STALE_CLAIM_S = 30 * 60.0


def owner_gone(owner: str | None, *, idle_s: float, stale_after_s: float = STALE_CLAIM_S) -> bool:
    """Whether a claim's owner can no longer be sending it: this very process (an earlier call's claim,
    e.g. one a Ctrl-C left), a process of this machine that has exited, or a process anywhere that has
    shown no sign of life for ``stale_after_s`` (``idle_s``: seconds since its claim or last send)."""
    if owner is None or owner == owner_token() or idle_s > stale_after_s:
        return True
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or os.name == "nt":
        return False  # another machine's process (or Windows, where signal 0 is Ctrl-C), active lately: alive
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False  # alive, another user's
    return False
