"""Which API and endpoint ``humekit run`` talks to: v1 or v0, Hume's endpoint or an embedded emulator."""

from __future__ import annotations

from contextlib import ExitStack
from typing import TYPE_CHECKING, Any

from humekit.errors import ConfigurationError

if TYPE_CHECKING:
    from humekit.cli.run import RunOptions

__all__ = ["DOWNLOADS", "EMULATOR_JOBS", "backend_for"]

#: Where ``--emulator`` keeps the embedded v0 emulator's jobs between runs (in the output folder).
EMULATOR_JOBS = "emulator-jobs.json"
#: Where v1 keeps the files it downloads for URL rows between runs (in the output folder, beside the ledger).
DOWNLOADS = "downloads"


def backend_for(options: RunOptions, stack: ExitStack) -> tuple[Any, str]:
    """The backend ``humekit run`` sends through (the API of ``--api``, at ``--base-url`` or an embedded
    emulator with ``--emulator``), and how the report names where it is."""
    from humekit.config import resolve_api

    if resolve_api(options.api) == "v1":
        return _v1_backend(options, stack)
    return _v0_backend(options, stack)


def _v1_backend(options: RunOptions, stack: ExitStack) -> tuple[Any, str]:
    from humekit.backends.v1.backend import V1Backend
    from humekit.backends.v1.client import V1Client
    from humekit.config import resolve_api_key
    from humekit.errors import MissingAPIKeyError

    if not options.emulator:
        try:
            resolve_api_key()
        except MissingAPIKeyError:
            raise ConfigurationError("HUME_API_KEY is not set: set it to your key for Hume's v1 Expression "
                                     "Measurement API, or pass --emulator to run against the embedded v1 emulator "
                                     "(synthetic scores).") from None
        client = V1Client(base_url=options.base_url)
        return V1Backend(client, download_dir=options.out / DOWNLOADS, max_download_bytes=_download_cap(options)), \
            client.base_url
    from humekit.emulator.v1 import V1Emulator

    emu = stack.enter_context(V1Emulator())
    # a new port each run, the same (deterministic) answers: one endpoint for the ledger
    backend = V1Backend(V1Client(api_key=emu.api_key, base_url=emu.url), endpoint="humekit-embedded-v1-emulator",
                        download_dir=options.out / DOWNLOADS, max_download_bytes=_download_cap(options))
    return backend, f"the embedded v1 emulator at {emu.url}"


def _download_cap(options: RunOptions) -> int:
    """``--max-download-mb`` in bytes (a positive number of MB)."""
    if not options.max_download_mb > 0:
        raise ConfigurationError(f"--max-download-mb {options.max_download_mb:g}: give the largest download in MB, "
                                 "a positive number such as 1000")
    return int(options.max_download_mb * 1_000_000)


def _v0_backend(options: RunOptions, stack: ExitStack) -> tuple[Any, str]:
    from humekit.backends.v0.backend import BatchBackend
    from humekit.backends.v0.client import Client
    from humekit.config import resolve_api_key
    from humekit.errors import MissingAPIKeyError

    if not options.emulator:
        try:
            resolve_api_key()
        except MissingAPIKeyError:  # (a key that is set but malformed keeps its own message, naming its source)
            raise ConfigurationError(
                "HUME_API_KEY is not set: set it (and HUME_BASE_URL, or --base-url, for a compatible endpoint; "
                "Hume's own v0 batch API was sunset on 2026-06-14), or pass --emulator to run against the "
                "embedded emulator (synthetic scores)."
            ) from None
        client = Client(base_url=options.base_url)
        return BatchBackend(client), client.base_url
    from humekit.emulator import Emulator, Schedule

    options.out.mkdir(parents=True, exist_ok=True)
    # Its jobs are kept in the out folder, so a run interrupted or timed out resumes when run again.
    emu = stack.enter_context(Emulator(schedule=Schedule(queued=0.2, running=0.6),
                                       jobs_file=options.out / EMULATOR_JOBS))
    # a new port each run, the same (deterministic) results: one endpoint for the ledger
    backend = BatchBackend(Client(api_key=emu.api_key, base_url=emu.url), endpoint="humekit-embedded-emulator")
    return backend, f"the embedded emulator at {emu.url}"
