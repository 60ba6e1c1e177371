"""Tests for humekit.pipeline.ledger.digests: a remembered md5 is reused only while the file is unchanged."""

from __future__ import annotations

import os

from humekit.pipeline.ledger import Ledger


def test_known_md5s_only_while_the_file_is_unchanged(tmp_path, ledger_location):
    """A remembered digest is returned while size and mtime match, and dropped once the file changes."""
    ledger = Ledger(ledger_location)
    path = tmp_path / "a.wav"
    path.write_bytes(b"abc")
    ledger.remember_md5s({str(path): "900150983cd24fb0d6963f7d28e17f72"})
    assert ledger.known_md5s([str(path), str(tmp_path / "missing.wav")]) == {
        str(path): "900150983cd24fb0d6963f7d28e17f72"
    }
    path.write_bytes(b"abcd")
    os.utime(path, ns=(1, 1))
    assert ledger.known_md5s([str(path)]) == {}


def test_known_md5s_forget_a_file_replaced_by_a_copy_that_kept_its_timestamps(tmp_path, ledger_location):
    """A file replaced in place by a same-size copy with the old atime/mtime (os.utime) is not reused."""
    ledger = Ledger(ledger_location)
    path, other = tmp_path / "a.wav", tmp_path / "b.wav"
    path.write_bytes(b"abc")
    other.write_bytes(b"xyz")
    ledger.remember_md5s({str(path): "900150983cd24fb0d6963f7d28e17f72"})
    before = os.stat(path)
    os.replace(other, path)  # same size, new content
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    assert ledger.known_md5s([str(path)]) == {}
