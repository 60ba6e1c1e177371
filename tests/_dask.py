"""Helpers for the Dask tests: a small LocalCluster of worker processes (and SIGKILLing one), and a v1 emulator that
watches its uploads."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.emulator.multipart import boundary_of, parse_form
from humekit.emulator.v1 import V1Emulator, V1Faults
from humekit.emulator.wire import EmuRequest, EmuResponse
from humekit.testing.media import make_audio

#: The key the emulators accept and the workers read from their own HUME_API_KEY (never from the graph).
KEY = "humekit-dask-test-key"
#: For clusters whose workers are SIGKILLed: a dead worker's leases come back after 4 s (30 s by default), so the
#: survivors are not held up long; and a LocalCluster waits 180 s (15 s by default) for a killed worker's nanny to
#: start its replacement before it closes that nanny for good (on a loaded machine a restart can take over 15 s).
KILL_CONFIG = {"distributed.scheduler.locks.lease-timeout": "4s",
               "distributed.scheduler.locks.lease-validation-interval": "1s",
               "distributed.deploy.lost-worker-timeout": "180s"}


@contextmanager
def local_cluster(*, workers: int = 2) -> Iterator[Any]:
    """A LocalCluster of ``workers`` processes (1 thread each, the dashboard on a free port) whose environment holds :data:`KEY`,
    and a Client on it; both closed after."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env={"HUME_API_KEY": KEY, "OMP_NUM_THREADS": "1"}) as cluster, Client(cluster) as client:
        yield client


@contextmanager
def killable_cluster() -> Iterator[Any]:
    """:func:`local_cluster` set up for killing its workers (:data:`KILL_CONFIG`, kept set while it runs)."""
    import dask
    import distributed  # noqa: F401 - registers its config defaults first, so leaving the override keeps them

    with dask.config.set(KILL_CONFIG), local_cluster() as client:
        yield client


def kill_worker(client: Any, address: str) -> int:
    """SIGKILL the worker process at ``address`` (its nanny starts a new one) once it can write nothing more;
    returns its pid."""
    pid = client.run(os.getpid, workers=[address])[address]
    os.kill(pid, signal.SIGKILL)
    _wait_dead(pid)
    return pid


def _wait_dead(pid: int, timeout: float = 20.0) -> None:
    """Until the process is gone (or a zombie its nanny has not reaped yet): it can write nothing more."""
    import psutil

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return
        except psutil.NoSuchProcess:
            return
        time.sleep(0.01)
    raise AssertionError(f"worker process {pid} still alive {timeout} s after SIGKILL")


class WatchedEmulator(V1Emulator):
    """The v1 emulator, counting its uploads in flight at once (the most ever seen) and the media bytes of each
    upload (a digest of its ``file`` parts: the same window sent twice has the same digest); ``on_upload(n)`` is
    called as the n-th upload arrives, before it is answered."""

    def __init__(self, *, latency: float, on_upload: Callable[[int], None] | None = None):
        super().__init__(api_key=KEY, faults=V1Faults(latency=latency))
        self.on_upload = on_upload
        self.in_flight = 0
        self.most_in_flight = 0
        self.uploads = 0
        self.media: Counter[str] = Counter()
        self._watch = threading.Lock()

    def handle(self, request: EmuRequest) -> EmuResponse:
        if request.method != "POST":
            return super().handle(request)
        boundary = boundary_of(request.headers.get("content-type"))
        parts = parse_form(request.body, boundary) if boundary else []
        digest = hashlib.sha256(b"".join(p.data for p in parts if p.name == "file")).hexdigest()
        with self._watch:
            self.uploads += 1
            number = self.uploads
            self.media[digest] += 1
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            if self.on_upload is not None:
                self.on_upload(number)
            return super().handle(request)
        finally:
            with self._watch:
                self.in_flight -= 1

    @property
    def duplicate_sends(self) -> int:
        """Uploads of media bytes uploaded before (each extra upload of the same window counts once)."""
        return sum(n - 1 for n in self.media.values())


def recordings(folder: Path, n: int, *, seconds: float = 2.0) -> pd.DataFrame:
    """``n`` short WAVs of speech-like sound from start to end (each its own bytes, one v1 request apiece, every one
    scored) under IDs ``r000``..."""
    folder.mkdir(parents=True, exist_ok=True)
    speech = [(0.2, seconds - 0.2)]
    paths = [make_audio(folder / f"rec-{i:03d}.wav", duration=seconds, segments=speech, seed=500 + i) for i in range(n)]
    return pd.DataFrame({"id": [f"r{i:03d}" for i in range(n)], "path": [str(p) for p in paths]})
