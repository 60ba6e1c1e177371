"""Media the emulator serves under ``/media/`` so URL jobs run offline.

Files come from memory (:meth:`MediaStore.put`) or from a folder given at start-up; either way
a job's ``urls`` can point at ``<emulator url>/media/<name>`` and be fetched without a network.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from urllib.parse import unquote

__all__ = ["MediaStore"]


class MediaStore:
    """Named blobs, plus an optional read-only folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root).resolve() if root is not None else None
        self._blobs: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def put(self, name: str, data: bytes) -> None:
        """Serve ``data`` at ``/media/<name>``."""
        name = name.lstrip("/")
        if not name or ".." in Path(name).parts:
            raise ValueError(f"media name {name!r} must be a relative path without '..'")
        with self._lock:
            self._blobs[name] = bytes(data)

    def get(self, name: str) -> bytes | None:
        """The bytes at ``/media/<name>``, or ``None``."""
        name = unquote(name)
        with self._lock:
            blob = self._blobs.get(name)
        if blob is not None or self.root is None:
            return blob
        path = (self.root / name).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            return None
        return path.read_bytes()

    def names(self) -> list[str]:
        """Names put in memory (not the folder's files)."""
        with self._lock:
            return sorted(self._blobs)
