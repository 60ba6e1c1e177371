"""``humekit emulator --api v1`` and ``python -m humekit.emulator --api v1``; no abbreviated flags anywhere."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import httpx
import pytest
from _v1 import RUNS, post_audio, speech

cli = importlib.import_module("humekit.cli.main")  # humekit.cli.main the attribute is the function


@pytest.fixture
def served_args(monkeypatch: pytest.MonkeyPatch) -> list:
    """Capture the parsed arguments instead of serving."""
    seen: list = []
    monkeypatch.setattr(cli, "_serve_emulator", lambda args, parser: seen.append(args) or 0)
    return seen


def test_api_is_not_read_as_api_key(served_args):
    """``--api v1`` selects the v1 emulator and leaves --api-key unset (argparse abbreviations are off)."""
    assert cli.main(["emulator", "--api", "v1"]) == 0
    assert served_args[0].api == "v1" and served_args[0].api_key is None


@pytest.mark.parametrize("argv, says", [
    (["emulator", "--api-k", "secret"], "unrecognized arguments: --api-k"),
    (["emulator", "--lat", "1"], "unrecognized arguments: --lat"),
    (["run", "t.csv", "--id", "id", "--source-col", "p", "--models", "prosody", "--out", "o"], "required: --id-col"),
    (["demo", "--q"], "unrecognized arguments: --q"),
])  # fmt: skip
def test_abbreviated_flags_are_refused_in_every_command(argv, says, capsys):
    """A prefix of a flag is an error in every humekit command, never a guess."""
    with pytest.raises(SystemExit) as exit_:
        cli.main(argv)
    assert exit_.value.code == 2 and says in capsys.readouterr().err


def test_unknown_api_is_refused(capsys):
    """``--api v3`` names the choices."""
    with pytest.raises(SystemExit):
        cli.main(["emulator", "--api", "v3"])
    assert "invalid choice: 'v3'" in capsys.readouterr().err


@pytest.mark.parametrize("argv, flag", [
    (["--api", "v1", "--queued", "3"], "--queued"),
    (["--api", "v1", "--media-dir", "x"], "--media-dir"),
    (["--server-busy-rate", "0.1"], "--server-busy-rate"),
])  # fmt: skip
def test_flags_of_the_other_emulator_are_refused(argv, flag, capsys):
    """A v0-only flag with --api v1 (or a v1-only flag with v0) exits 2 naming the flag and the fix."""
    assert cli.main(["emulator", *argv]) == 2
    err = capsys.readouterr().err
    assert flag in err and "--api" in err


def test_a_fault_rate_out_of_range_is_a_clear_error(capsys):
    """Rates summing over 1 are refused with a message, not a traceback."""
    assert cli.main(["emulator", "--api", "v1", "--drop-rate", "0.7", "--malformed-rate", "0.7", "--port", "0"]) == 2
    assert "humekit emulator: error:" in capsys.readouterr().err


def test_python_m_humekit_emulator_serves_v1():
    """``python -m humekit.emulator --api v1 --port 0`` serves the v1 API and prints its URL and key."""
    process = subprocess.Popen([sys.executable, "-m", "humekit.emulator", "--api", "v1", "--port", "0",
                                "--api-key", "cli-key"], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        assert "v1 Expression Measurement API" in banner and "SYNTHETIC" in banner
        url = re.search(r"http://127\.0\.0\.1:\d+", banner)
        assert url is not None
        with httpx.Client(base_url=url.group(0), headers={"X-Hume-Api-Key": "cli-key"}) as client:
            assert post_audio(client, speech(3.0)).status_code == 200
            assert len(client.get(RUNS).json()["runs"]) == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
