"""Tests for humekit's typed public API: a user's mypy sees real signatures (py.typed), and wrong calls are flagged."""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import textwrap
import venv
from pathlib import Path

import pytest

import humekit

pytest.importorskip("mypy", reason="mypy is not installed (pip install -e '.[test]')")

GOOD = """
    import pandas as pd
    import humekit
    from humekit.webhooks.receiver import CallbackReceiver, WebhookReceiver
    from humekit.webhooks.signing import construct_event
    from humekit.webhooks.events import Event

    table = pd.DataFrame({"id": ["a"], "path": ["a.wav"]})
    receiver: CallbackReceiver = WebhookReceiver()
    result: humekit.MeasureResult = humekit.measure(
        table, id_col="id", source_col="path", models=["prosody"], client=humekit.Client(api_key="k"),
        callback=receiver, ledger="ledger.sqlite", timeout=60.0)
    again = humekit.retry_failed(result, timeout=120.0)
    counts: dict[str, int] = again.counts()
    frame: pd.DataFrame = humekit.to_frame({"results": {}})
    tables = humekit.read_predictions("downloads/")
    event: Event = construct_event(b"{}", {}, secret="s")
"""

BAD = """
    import pandas as pd
    import humekit

    table = pd.DataFrame({"id": ["a"]})
    humekit.measure(table, id_col=1, source_col="path", models=["prosody"])
    humekit.measure(table, id_col="id", source_col="path", models=["prosody"], callback=42)
"""


@pytest.fixture(scope="module")
def user_env(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """An environment where humekit is an *installed* package, as a user's mypy sees it: a bare venv whose
    site-packages points (.pth) at humekit and at this venv's libraries (pandas, pandas-stubs...), so only
    ``py.typed`` makes humekit's annotations visible, and errors inside humekit are not the user's."""
    root = tmp_path_factory.mktemp("user-env")
    venv.create(root / "venv", with_pip=False)
    python = root / "venv" / ("Scripts" if sys.platform == "win32" else "bin") / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                          check=True, capture_output=True, text=True).stdout.strip()
    packages = root / "packages"
    packages.mkdir()
    shutil.copytree(Path(humekit.__file__).parent, packages / "humekit",
                    ignore=shutil.ignore_patterns("__pycache__"))
    Path(site, "user.pth").write_text(f"{packages}\n{sysconfig.get_path('purelib')}\n")
    return python, root / "cache"  # the cache is shared by the tests: pandas and humekit are analysed once


def _mypy(tmp_path: Path, user_env: tuple[Path, Path], code: str) -> tuple[str, int]:
    python, cache = user_env
    (tmp_path / "snippet.py").write_text(textwrap.dedent(code))
    done = subprocess.run([sys.executable, "-m", "mypy", "snippet.py", "--python-executable", str(python),
                           "--cache-dir", str(cache), "--python-version", "3.11", "--config-file", "",
                           "--show-error-codes", "--no-error-summary"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=240)
    return done.stdout + done.stderr, done.returncode


def test_a_users_snippet_type_checks(tmp_path, user_env):
    """Typical calls of measure (with a receiver), retry_failed, to_frame, read_predictions and Client pass mypy."""
    out, status = _mypy(tmp_path, user_env, GOOD)
    assert status == 0, out


def test_wrong_calls_are_flagged(tmp_path, user_env):
    """An int id_col and callback=42 are each reported, on their own line (a misspelt retry_failed option is
    refused at run time, naming the options: its overrides are measure's MeasureOptions fields)."""
    out, status = _mypy(tmp_path, user_env, BAD)
    assert status == 1, out
    assert 'snippet.py:6: error: Argument "id_col" to "measure" has incompatible type "int"' in out, out
    assert 'snippet.py:7: error: Argument "callback" to "measure" has incompatible type "int"' in out, out


def test_every_public_name_has_a_type(tmp_path, user_env):
    """No name in humekit.__all__ reaches a user's mypy as Any."""
    code = "import humekit\n" + "".join(f"reveal_type(humekit.{name})\n" for name in humekit.__all__)
    out, status = _mypy(tmp_path, user_env, code)
    revealed = [line for line in out.splitlines() if "Revealed type is" in line]
    assert status == 0 and len(revealed) == len(humekit.__all__), out
    assert not [line for line in revealed if line.endswith('Revealed type is "Any"')], out
