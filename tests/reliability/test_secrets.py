"""Secrets: a canary API key used for real runs, errors, DEBUG logs, reprs, ledgers, exports and the CLI is never shown."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import traceback
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import humekit
from humekit.backends.v0.backend import BatchBackend
from humekit.config import Secret
from humekit.emulator import Emulator, Faults, Schedule
from humekit.predictions.export import to_csv, to_parquet
from humekit.webhooks.receiver import WebhookReceiver
from humekit.testing.synthetic import make_wav

from ._support import record

CANARY = "sk-HUMEKIT-CANARY-7f3a9c"
NEEDLES = (CANARY, CANARY.lower(), CANARY.encode().hex(), "HUMEKIT-CANARY")
ROOT = Path(__file__).resolve().parents[2]


class Capture(logging.Handler):
    """Keeps every record, fully formatted (message, arguments and traceback)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record) + " " + repr(record.__dict__))


@pytest.fixture
def debug_logs() -> Iterator[Capture]:
    """DEBUG logging on humekit, httpx and httpcore, every record captured."""
    capture = Capture()
    loggers = [logging.getLogger(n) for n in ("humekit", "httpx", "httpcore", "hpack", "uvicorn")]
    saved = [(lg, lg.level) for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
        lg.addHandler(capture)
    yield capture
    for lg, level in saved:
        lg.setLevel(level)
        lg.removeHandler(capture)


def leaks(text: str | bytes) -> list[str]:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "replace")
    return [n for n in NEEDLES if n.encode() in data]


def table(folder: Path, media_url: str) -> pd.DataFrame:
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    rows = [{"id": f"t{i}", "source": f"A sentence number {i} to measure."} for i in range(6)]
    for i in range(4):
        make_wav(folder / "audio" / f"w{i}.wav", duration=1.0 + i, sample_rate=8000)
        rows.append({"id": f"w{i}", "source": str(folder / "audio" / f"w{i}.wav")})
    rows += [{"id": "u0", "source": media_url}]
    return pd.DataFrame(rows)


def test_canary_key_never_appears(tmp_path: Path, debug_logs: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    """The canary key is in no log record, error, repr, ledger byte, export, CLI output or notebook output."""
    surfaces: dict[str, Any] = {}
    faults = Faults(server_error_rate=0.1, rate_limit_rate=0.05, retry_after=0.05, drop_rate=0.05,
                    lost_response_rate=0.3, file_error_rate=0.2, seed=3)
    with Emulator(api_key=CANARY, schedule=Schedule(queued=0.1, running=0.2), faults=faults,
                  media_dir=tmp_path / "media", webhook_signing_key=CANARY) as emu, \
            WebhookReceiver(secret=CANARY, ledger=tmp_path / "hooks.sqlite", callback_token="tok") as receiver:
        url = emu.add_media("clip.wav", make_wav(duration=2.0, sample_rate=8000))
        frame = table(tmp_path, url)
        receiver.start()

        # 1. The demo path with the key as an argument, under injected faults (retries, reconciles, logs).
        client = humekit.Client(api_key=CANARY, base_url=emu.url, wait_initial=0.01, wait_max=0.05)
        backend = BatchBackend(client, settle=0.2)  # the emulator lists a job as soon as it exists
        for attempt in range(5):  # a run that gives up after its retries is resumed (bounded)
            try:
                result = humekit.measure(frame, id_col="id", source_col="source",
                                         models={"prosody": {}, "language": {}}, backend=backend,
                                         ledger=tmp_path / "ledger.sqlite", progress=False, wait_initial=1,
                                         callback=receiver, callback_fallback=1.0)
                break
            except humekit.APIError as exc:
                surfaces[f"gave-up-{attempt}"] = "".join(traceback.format_exception(exc))
        else:
            pytest.fail("the run kept giving up")
        assert set(result.status["status"].astype(str)) <= {"ok", "failed"}
        # 2. The same with the key from the environment (HUME_API_KEY), a second ledger.
        monkeypatch.setenv("HUME_API_KEY", CANARY)
        env_client = humekit.Client(base_url=emu.url, wait_initial=0.01, wait_max=0.05)
        env_result = humekit.measure(frame, id_col="id", source_col="source", models=["language"],
                                     backend=BatchBackend(env_client, settle=0.2),
                                     ledger=tmp_path / "env-ledger.sqlite", progress=False)
        monkeypatch.delenv("HUME_API_KEY")

        # 3. A 401 both ways: our canary sent to a server expecting another key, and a wrong key sent to ours.
        errors: list[BaseException] = []
        with Emulator(api_key="some-other-key") as other:
            for key, base in ((CANARY, other.url), ("sk-wrong", emu.url)):
                try:
                    humekit.measure(frame, id_col="id", source_col="source", models=["language"],
                                    client=humekit.Client(api_key=key, base_url=base, max_retries=0),
                                    ledger=tmp_path / f"bad-{len(errors)}.sqlite", progress=False)
                except humekit.AuthenticationError as exc:
                    errors.append(exc)
        assert len(errors) == 2
        for n, exc in enumerate(errors):
            surfaces[f"error-{n}"] = "".join(traceback.format_exception(exc)) + repr(exc) + repr(vars(exc))

        # 4. Every public repr, and the pipeline's own objects.
        objects: list[Any] = [client, result, env_result, result.ledger, BatchBackend(client), receiver, emu,
                              Secret(CANARY), result.options, humekit.DEFAULT_LIMITS, emu.requests[:50], emu.jobs[:3]]
        objects += [getattr(humekit, name) for name in humekit.__all__]
        surfaces["reprs"] = "\n".join(repr(o) + " " + str(o) for o in objects)
        surfaces["repr-html"] = result._repr_html_()
        surfaces["frames"] = "\n".join(f.to_string() for f in (result.status, result.jobs, result.predictions.head(200),
                                                                receiver.events()))
        surfaces["client-vars"] = repr(vars(client)) + repr(client._http.headers)

        # 5. Files: both ledgers (with their WAL), the receiver's, exports.
        result.ledger.close()
        env_result.ledger.close()
        out = tmp_path / "exports"
        out.mkdir()
        for job_id in result.jobs["job_id"].dropna():  # Hume's predictions JSON, exported with humekit.predictions.export
            body = humekit.Ledger(tmp_path / "ledger.sqlite").predictions(job_id)
            if body is not None:
                tables = humekit.to_tables(body)
                to_parquet(tables, out / f"{job_id}-parquet")
                to_csv(tables, out / f"{job_id}-csv")
        # humekit.predictions.export's schema is that of to_tables (an ID column is not in it): the joined tables via pandas
        result.predictions.to_parquet(out / "predictions.parquet")
        result.predictions.to_csv(out / "predictions.csv")
        result.status.to_parquet(out / "status.parquet")
        result.wide().to_csv(out / "wide.csv")

        # 6. The CLI: `humekit run` against the served emulator with the key in the environment, then a wrong one.
        cli = run_cli(tmp_path, frame, emu.url)
        surfaces.update(cli)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    files += sorted((ROOT / "notebooks").glob("*.ipynb"))
    for path in files:
        surfaces[f"file:{path.name}"] = path.read_bytes()
    surfaces["logs"] = "\n".join(debug_logs.lines)
    assert len(debug_logs.lines) > 50  # DEBUG really was on

    found = {name: leaks(value) for name, value in surfaces.items() if leaks(value)}
    assert found == {}, found
    record("secrets", surfaces=len(surfaces), files=len(files), log_records=len(debug_logs.lines),
           public_objects=len(humekit.__all__), errors_checked=len(errors), cli_runs=len(cli) // 2,
           requests=len(emu.requests), leaks=0)


def run_cli(tmp_path: Path, frame: pd.DataFrame, base_url: str) -> dict[str, str]:
    """`humekit run` (key from HUME_API_KEY, then a wrong key, then --emulator); outputs are returned to scan."""
    probe = subprocess.run([sys.executable, "-m", "humekit.cli", "run", "--help"], capture_output=True, text=True,
                           timeout=60)
    if probe.returncode != 0:
        return {}
    csv = tmp_path / "cli-table.csv"
    frame.to_csv(csv, index=False)
    env = {**os.environ, "HUME_API_KEY": CANARY, "PYTHONUNBUFFERED": "1"}
    outputs = {}
    for name, extra, key in (("cli-key", ["--base-url", base_url], CANARY),
                             ("cli-wrong-key", ["--base-url", base_url], "sk-wrong"),
                             ("cli-emulator", ["--emulator"], CANARY)):
        done = subprocess.run([sys.executable, "-m", "humekit.cli", "run", "--api", "v0", str(csv), "--id-col", "id",
                               "--source-col", "source", "--models", "language", "--out", str(tmp_path / name),
                               "--no-progress", "--timeout", "120", *extra],
                              env={**env, "HUME_API_KEY": key}, capture_output=True, text=True, timeout=180,
                              cwd=tmp_path)
        assert done.returncode in (0, 1, 2), done.stderr[-2000:]
        outputs[f"{name}-stdout"], outputs[f"{name}-stderr"] = done.stdout, done.stderr
    return outputs


STRAY = {"newline": CANARY + "\n", "crlf": CANARY + "\r\n", "spaces": "  " + CANARY + "  ", "tab": "\t" + CANARY}
INSIDE = "sk-HUMEKIT CANARY-7f3a9c"  # a space inside: refused wherever it comes from


def test_a_key_with_stray_whitespace_never_appears(tmp_path: Path, debug_logs: Capture,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Keys with a trailing newline, CRLF, surrounding spaces or a tab, from the argument, the environment, .env and
    the CLI, under faults: they work, and the key shows in no error, log record, file or CLI output."""
    from humekit.config import _dotenv

    surfaces: dict[str, Any] = {}
    runs = refused = 0
    faults = Faults(server_error_rate=0.1, rate_limit_rate=0.05, retry_after=0.05, drop_rate=0.05, seed=5)
    frame = pd.DataFrame({"id": ["a", "b"], "source": ["One calm sentence.", "Another, louder sentence!"]})
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    with Emulator(api_key=CANARY, schedule=Schedule(queued=0.05, running=0.1), faults=faults) as emu:
        for name, raw in [*STRAY.items(), ("inside", INSIDE)]:
            for source in ("argument", "environment", "dotenv"):
                _dotenv.cache_clear()
                (work / ".env").unlink(missing_ok=True)
                if source == "environment":
                    monkeypatch.setenv("HUME_API_KEY", raw)
                elif source == "dotenv":
                    (work / ".env").write_bytes(b'HUME_API_KEY="' + raw.encode() + b'"\r\n')
                try:
                    client = humekit.Client(api_key=raw if source == "argument" else None, base_url=emu.url,
                                            wait_initial=0.01, wait_max=0.05)
                    result = humekit.measure(frame, id_col="id", source_col="source", models=["language"],
                                             backend=BatchBackend(client, settle=0.2),
                                             ledger=tmp_path / f"{name}-{source}.sqlite", progress=False)
                    assert name != "inside", "a key with a space inside was accepted"
                    assert set(result.status["status"].astype(str)) <= {"ok", "failed"}
                    surfaces[f"{name}-{source}"] = repr(result) + repr(client) + result.status.to_string()
                    result.ledger.close()
                    runs += 1
                except humekit.ConfigurationError as exc:
                    assert name == "inside", exc
                    surfaces[f"{name}-{source}-error"] = "".join(traceback.format_exception(exc))
                    refused += 1
                monkeypatch.delenv("HUME_API_KEY", raising=False)
        (work / ".env").unlink(missing_ok=True)
        _dotenv.cache_clear()
        csv = tmp_path / "table.csv"
        frame.to_csv(csv, index=False)
        cli_ok = cli_refused = 0
        for name, raw in [*STRAY.items(), ("inside", INSIDE)]:
            done = subprocess.run([sys.executable, "-m", "humekit.cli", "run", "--api", "v0", str(csv), "--id-col", "id",
                                   "--source-col", "source", "--models", "language", "--out", str(tmp_path / name),
                                   "--no-progress", "--timeout", "120", "--base-url", emu.url],
                                  env={**os.environ, "HUME_API_KEY": raw}, capture_output=True, text=True,
                                  timeout=180, cwd=tmp_path)
            assert done.returncode == (2 if name == "inside" else 0), done.stderr[-2000:]
            surfaces[f"cli-{name}"] = done.stdout + done.stderr
            cli_ok, cli_refused = cli_ok + (done.returncode == 0), cli_refused + (done.returncode == 2)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    for path in files:
        surfaces[f"file:{path.relative_to(tmp_path)}"] = path.read_bytes()
    surfaces["logs"] = "\n".join(debug_logs.lines)
    found = {name: leaks(value) for name, value in surfaces.items() if leaks(value)}
    assert found == {}, found
    assert runs == 12 and refused == 3
    record("secrets-whitespace", variants=sorted(STRAY), sources=["argument", "environment", ".env", "CLI"],
           runs=runs, refused=refused, cli_ok=cli_ok, cli_refused=cli_refused, surfaces=len(surfaces), leaks=0)
