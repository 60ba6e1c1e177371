"""Shared fixtures: a clean environment, emulators (in-process and served), a webhook receiver, sample paths."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _paths import SAMPLES, require_samples, samples_missing
from _postgres import PostgresServer, postgres_missing, start_postgres
from _receiving import KEY

from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Schedule
from humekit.webhooks.receiver import WebhookReceiver


@pytest.fixture(autouse=True)
def clean_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test can reach a real Hume endpoint through the developer's environment."""
    for name in ("HUME_API_KEY", "HUME_BASE_URL", "HUME_WEBHOOK_SIGNING_KEY", "HUME_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)


def pytest_report_header(config: pytest.Config) -> list[str]:
    missing, postgres = samples_missing(), postgres_missing()
    return [f"humekit samples: {SAMPLES}" if missing is None else f"humekit samples: {missing}",
            "humekit PostgreSQL: a throwaway server for the ledger tests" if postgres is None
            else f"humekit PostgreSQL: {postgres}"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> pytest.TestReport:
    """Skips for missing samples (or a missing PostgreSQL) share one location, so ``-ra`` folds them into one
    summary line."""
    report = yield
    if report.skipped and isinstance(report.longrepr, tuple):
        for missing, helper in ((samples_missing(), "_paths.py"), (postgres_missing(), "_postgres.py")):
            if missing is not None and report.longrepr[2].endswith(missing):
                report.longrepr = (str(Path(__file__).with_name(helper)), None, report.longrepr[2])
    return report


@pytest.fixture(autouse=True)
def _needs_samples(request: pytest.FixtureRequest) -> None:
    """Tests marked ``samples`` need the real Hume samples."""
    if request.node.get_closest_marker("samples") is not None:
        require_samples()


@pytest.fixture
def samples() -> Path:
    """The real Hume samples kept outside the repository (HUMEKIT_SAMPLES or ../shared/samples)."""
    return require_samples()


@pytest.fixture(scope="session")
def dask_client() -> Iterator[Any]:
    """A LocalCluster of 2 worker processes (1 thread each) whose HUME_API_KEY is ``_dask.KEY``, and a Client."""
    from _dask import local_cluster

    with local_cluster() as client:
        yield client


@pytest.fixture
def clock() -> VirtualClock:
    """A virtual clock starting at a fixed instant."""
    return VirtualClock(start=1_750_000_000.0)


@pytest.fixture
def emulator(clock: VirtualClock) -> Iterator[Emulator]:
    """An in-process emulator on a virtual clock: jobs finish when the clock is advanced 3 s."""
    emu = Emulator(api_key="test-key", clock=clock, schedule=Schedule(queued=1.0, running=2.0))
    yield emu
    emu.stop()


@pytest.fixture
def served_emulator() -> Iterator[Emulator]:
    """An emulator serving real HTTP on loopback, on the real clock with a short schedule."""
    with Emulator(api_key="test-key", schedule=Schedule(queued=0.2, running=0.3)) as emu:
        yield emu


@pytest.fixture
def ledger(tmp_path: Path) -> Path:
    """A fresh path for a webhook receiver's SQLite store (the `receiver` fixture's)."""
    return tmp_path / "webhooks.sqlite"


@pytest.fixture
def receiver(ledger: Path) -> Iterator[WebhookReceiver]:
    """A running receiver with an HMAC secret and a callback token."""
    with WebhookReceiver(secret=KEY, ledger=ledger, callback_token="run-token", max_body_bytes=10_000) as rx:
        rx.start()
        yield rx


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server for the session (tests/_postgres.py): skips with one line without the
    binaries, fails under CI=true."""
    server = start_postgres()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def ledger_locations(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Fresh ledger locations on each engine, one per call: SQLite files, or new schemas on the throwaway
    PostgreSQL server."""
    if request.param == "postgresql":
        return request.getfixturevalue("postgres_server").create_schema
    names = itertools.count(1)
    return lambda: str(tmp_path / f"ledger-{next(names)}.sqlite")


@pytest.fixture
def ledger_location(ledger_locations: Callable[[], str]) -> str:
    """A fresh ledger's location on each engine (``ledger_locations``)."""
    return ledger_locations()
