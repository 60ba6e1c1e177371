"""Files' md5 digests kept in the ledger, reused only while the file's size, mtime, ctime and inode are unchanged."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

from humekit.pipeline.ledger.store import LedgerStore

__all__ = ["DigestsMixin"]


def _stamp(path: str) -> tuple[int, int, int, int] | None:
    """What must be unchanged for a remembered digest to be reused: size, mtime, ctime and inode.

    mtime alone is not enough: a copy that keeps its timestamps (``cp -p``, ``os.utime``, a sync
    tool) restores it, but the change time (set by the kernel on every write, rename or chmod,
    and not settable by users) and the inode of a replaced file do change.
    """
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_size, info.st_mtime_ns, info.st_ctime_ns, info.st_ino


class DigestsMixin(LedgerStore):
    """The md5 cache of the files a ledger's units upload (table ``file_digests``)."""

    def known_md5s(self, paths: Iterable[str]) -> dict[str, str]:
        """The md5 of each file hashed before whose size, mtime, ctime and inode are all unchanged
        (any difference, such as a file replaced in place by a copy that kept its timestamps,
        means it is read and hashed again)."""
        stamps = {path: stamp for path in dict.fromkeys(paths) if (stamp := _stamp(path)) is not None}
        found = self._select_in("SELECT path, size, mtime_ns, ctime_ns, inode, md5 FROM file_digests"
                                " WHERE path IN ({marks})", stamps)
        return {path: md5 for path, *stamp, md5 in found.itertuples(index=False, name=None)
                if stamps.get(path) == tuple(int(v) for v in stamp)}

    def remember_md5s(self, digests: Mapping[str, str]) -> None:
        """Keep files' md5 digests with their stamp (size, mtime, ctime, inode)."""
        rows = [(path, *stamp, md5) for path, md5 in sorted(digests.items()) if (stamp := _stamp(path)) is not None]
        if not rows:
            return
        with self._write() as db:  # sorted by path: two processes writing the same paths lock them in one order
            db.executemany("INSERT INTO file_digests (path, size, mtime_ns, ctime_ns, inode, md5)"
                           " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (path) DO UPDATE SET size=excluded.size, mtime_ns=excluded.mtime_ns,"
                           " ctime_ns=excluded.ctime_ns, inode=excluded.inode, md5=excluded.md5", rows)
