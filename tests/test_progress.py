"""Tests for humekit.pipeline.progress: one display per measure that moves while it waits, in a terminal and in Jupyter."""

from __future__ import annotations

import dataclasses
import io
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import nbformat
import pandas as pd
import pytest
from nbclient import NotebookClient

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.limits import DEFAULT_V1_LIMITS
from humekit.clock import VirtualClock
from humekit.emulator import Emulator, Schedule
from humekit.emulator.v1 import V1Emulator
from humekit.pipeline.progress import Progress, display_mode, job_state
from humekit.testing.media import make_audio
from humekit.testing.synthetic import make_wav

FRAME = re.compile(r"(\d+)/(\d+) rows \[(\d\d):(\d\d)(?:, ([^\]]*))?\]")


def frames(text: str) -> list[tuple[int, int, str]]:
    """Each drawn line of a terminal display: (rows done, elapsed seconds, postfix)."""
    found = []
    for part in text.split("\r"):
        m = FRAME.search(part)
        if m:
            found.append((int(m[1]), int(m[3]) * 60 + int(m[4]), m[5] or ""))
    return found


def texts(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"t{i}" for i in range(n)], "text": [f"Sentence {i}. I feel fine." for i in range(n)]})


def test_300_row_display_advances_during_the_wait(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """While 300 rows wait on a slow schedule, elapsed time ticks and jobs move queued -> running -> done."""
    clock = VirtualClock(start=1_750_000_000.0)
    with Emulator(api_key="k", clock=clock, schedule=Schedule(queued=20, running=60)) as emu:
        result = humekit.measure(texts(300), id_col="id", source_col="text", models=["language"],
                                 client=emu.client(), ledger=tmp_path / "l.sqlite", progress=True)
    assert result.counts()["ok"] == 300
    drawn = frames(capsys.readouterr().err)
    waiting = [f for f in drawn if f[0] == 0 and "jobs:" in f[2]]
    assert len({elapsed for _, elapsed, _ in waiting}) >= 4  # the clock visibly moves before any row is done
    assert [elapsed for _, elapsed, _ in drawn] == sorted(elapsed for _, elapsed, _ in drawn)
    seen = " ".join(postfix for _, _, postfix in drawn)
    assert seen.index("3 queued") < seen.index("running") < seen.index("3 done")
    assert drawn[-1][:1] == (300,) and "3 jobs: 3 done" in drawn[-1][2]


def test_elapsed_time_ticks_with_no_event(tmp_path: Path) -> None:
    """The refresh thread redraws on its own: elapsed time moves though nothing is reported."""
    clock, out = VirtualClock(start=0.0), io.StringIO()
    progress = Progress(10, clock=clock, refresh=0.02, file=out)
    progress.jobs({"a": "IN_PROGRESS"})
    clock.advance(75)
    deadline = time.monotonic() + 5
    while "01:15" not in out.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)
    progress.close()
    assert "0/10 rows [01:15, 1 job: 1 running]" in out.getvalue()


def test_upload_bytes_are_shown(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Uploading files shows the bytes sent against the total, up to all of them."""
    paths = []
    for i in range(3):
        path = tmp_path / f"a{i}.wav"
        path.write_bytes(make_wav(duration=30.0, seed=i))
        paths.append(str(path))
    total = sum(Path(p).stat().st_size for p in paths)
    with Emulator(api_key="k", clock=VirtualClock(start=1e9), schedule=Schedule(queued=1, running=1)) as emu:
        humekit.measure(pd.DataFrame({"id": [1, 2, 3], "path": paths}), id_col="id", source_col="path",
                        models=["prosody"], client=emu.client(), ledger=tmp_path / "l.sqlite", progress=True)
    err = capsys.readouterr().err
    assert f"uploading {total / 1e6:.1f}/{total / 1e6:.1f} MB" in err
    assert "uploading 0.0/" in err


def test_under_v1_every_row_counts_and_the_bar_ends_at_100(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Invalid rows are done from the start, a recording's windows count as one row, a rerun
    shows every row done: the bar counts each of the table's rows once and ends at 100%."""
    long = make_audio(tmp_path / "long.wav", duration=50, sample_rate=8000, seed=1)  # three windows of <= 20 s
    short = make_audio(tmp_path / "short.wav", duration=12, sample_rate=8000, seed=2)
    table = pd.DataFrame({"id": ["long", "short", "text", "missing"],
                          "src": [str(long), str(short), "a raw text", str(tmp_path / "missing.wav")]})
    emu = V1Emulator()
    backend = V1Backend(V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport()),
                        limits=dataclasses.replace(DEFAULT_V1_LIMITS, window_target_ms=20_000))
    counts = []
    for _ in range(2):  # a run, then a rerun that sends nothing
        result = humekit.measure(table, id_col="id", source_col="src", models=["audio"], backend=backend,
                                 ledger=tmp_path / "l.sqlite", progress=True, errors="mark")
        counts.append([(int(m[1]), int(m[2])) for m in map(FRAME.search, capsys.readouterr().err.split("\r")) if m])
    assert result.counts() == {"ok": 2, "failed": 0, "invalid": 2, "pending": 0}
    assert sum(r.method == "POST" for r in emu.requests) == 4  # three windows and the short recording, once
    first, rerun = counts
    assert {total for _, total in first + rerun} == {4}  # every row of the table, from the first frame
    done = [n for n, _ in first]
    assert done == sorted(done) and list(dict.fromkeys(done)) == [0, 2, 3, 4]  # text and missing file, then one per recording
    assert [n for n, _ in rerun][-1] == 4 and set(n for n, _ in rerun) <= {0, 4}  # all done before anything is sent


def test_a_dry_run_shows_what_is_left_to_send_and_says_nothing_was_sent(tmp_path: Path,
                                                                        capsys: pytest.CaptureFixture[str]) -> None:
    """A dry run's bar counts the invalid row done, the others still to do, and names the dry run."""
    table = pd.DataFrame({"id": ["short", "text"], "src": [str(make_audio(tmp_path / "s.wav", duration=11)), "a text"]})
    emu = V1Emulator()
    humekit.measure(table, id_col="id", source_col="src", models=["audio"], ledger=tmp_path / "l.sqlite",
                    client=V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport()),
                    progress=True, errors="mark", dry_run=True)
    last = capsys.readouterr().err.split("\r")[-1]
    assert "1/2 rows" in last and "dry run: nothing sent" in last
    assert emu.requests == []


def test_job_states() -> None:
    """Hume's statuses map to the four display states."""
    assert [job_state(s) for s in ("QUEUED", "IN_PROGRESS", "COMPLETED", "FAILED", None)] == [
        "queued", "running", "done", "failed", "queued"]


def test_outside_jupyter_is_terminal() -> None:
    """A plain Python process draws in the terminal."""
    assert display_mode() == "terminal"


def test_disabled_draws_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    """progress=False shows nothing at all."""
    with Progress(5, enabled=False) as progress:
        progress.jobs({"a": "QUEUED"})
        progress.add_rows(5)
    assert capsys.readouterr() == ("", "")


def test_import_prints_nothing() -> None:
    """`import humekit` writes nothing to stdout or stderr, warnings included."""
    proc = subprocess.run([sys.executable, "-W", "always", "-c", "import humekit, humekit.pipeline.progress"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert (proc.stdout, proc.stderr) == ("", "")


def _run_in_kernel(tmp_path: Path, *first_lines: str) -> list[dict[str, Any]]:
    """Run measure with progress=True in a real Jupyter kernel; the measure cell's outputs."""
    code = "\n".join([
        *first_lines,
        "import pandas as pd, humekit",
        "from humekit.clock import VirtualClock",
        "from humekit.emulator import Emulator, Schedule",
        "emu = Emulator(api_key='k', clock=VirtualClock(start=1e9), schedule=Schedule(queued=5, running=5))",
        "table = pd.DataFrame({'id': range(4), 'text': ['Hello there.'] * 4})",
    ])
    measure = (f"result = humekit.measure(table, id_col='id', source_col='text', models=['language'], "
               f"client=emu.client(), ledger={str(tmp_path / 'l.sqlite')!r}, progress=True)")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_code_cell(measure)])
    NotebookClient(notebook, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    return notebook.cells[1].outputs


@pytest.mark.parametrize("first", ["", "import sys; sys.modules['ipywidgets'] = None  # as if not installed"])
def test_in_jupyter_one_display_ends_as_readable_text(tmp_path: Path, first: str) -> None:
    """In a kernel, with or without ipywidgets: one display, no stderr or warning, the final line as text/plain."""
    outputs = _run_in_kernel(tmp_path, first)
    assert [o["output_type"] for o in outputs] == ["display_data"], outputs
    assert set(outputs[0]["data"]) == {"text/plain"}  # no widget left to say "model not found" when reopened
    assert re.search(r"measure: 100%\|█+\| 4/4 rows \[00:1\d, 1 job: 1 done\]", outputs[0]["data"]["text/plain"])


def test_widget_mode_draws_a_widget(monkeypatch: pytest.MonkeyPatch) -> None:
    """With ipywidgets in a kernel the display is a progress widget, replaced by its final line on close."""
    pytest.importorskip("ipywidgets")
    shown: list[Any] = []

    class Handle:
        def update(self, obj: Any, raw: bool = False) -> None:
            shown.append(obj)

    def display(obj: Any, raw: bool = False, display_id: bool = False) -> Handle:
        shown.append(obj)
        return Handle()

    import IPython.display

    monkeypatch.setattr(IPython.display, "display", display)
    progress = Progress(3, mode="widget", refresh=None, clock=VirtualClock(start=0.0))
    progress.jobs({"j": "COMPLETED"})
    progress.add_rows(3)
    widget = shown[0]
    assert type(widget).__name__ == "TqdmHBox" and widget.children[1].value == 3 and widget.children[1].max == 3
    progress.close()
    assert shown[-1] == {"text/plain": "measure: 100%|██████████| 3/3 rows [00:00, 1 job: 1 done]"}
    models = [widget, *widget.children, *(w.layout for w in widget.children), widget.layout]
    assert all(model.comm is None for model in models)  # closed: no widget state left to save in the notebook


def test_stored_notebooks_end_progress_as_text() -> None:
    """The notebooks use progress=True, hide no tqdm warning, and store each display's final line as
    text/plain with no widget state (readable when reopened without a kernel)."""
    finals = []
    for path in sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        assert "widgets" not in notebook.metadata, path.name
        sources = "\n".join(cell.source for cell in notebook.cells)
        assert "progress=False" not in sources and "IProgress" not in sources, path.name
        for cell in notebook.cells:
            for output in cell.get("outputs", []):
                text = output.get("data", {}).get("text/plain", "")
                if "rows [" in text:
                    assert set(output["data"]) == {"text/plain"}, path.name
                    finals.append(text)
    assert len(finals) >= 5 and all(FRAME.search(text) for text in finals)


def _unit(key: str, *tokens: str) -> Any:
    """A unit carrying the rows with these ID tokens (one input each)."""
    from humekit.pipeline.planning import PlannedInput, PlannedRow, Unit

    return Unit(key=key, kind="text", inputs=tuple(PlannedInput("text", t, t, 1, (PlannedRow(0, t, t),))
                                                   for t in tokens))


def test_chunks_add_up_and_rows_of_several_units_are_done_with_their_last() -> None:
    """expect(more=True) twice: the bar counts both chunks; a row two units carry is done when both are reported."""
    display = Progress(6, enabled=False)
    first, second = _unit("u1", "a", "b"), _unit("u2", "b")
    display.expect([first, second], skipped=1, total=2, done=0, more=True)  # chunk 1: a, b (b in two units), 1 invalid
    display.expect([_unit("u3", "c", "d")], skipped=0, total=3, done=1, more=True)  # chunk 2: c, d to send, 1 done
    assert (display._skipped, display._total, display._done) == (1, 5, 1)
    display.unit_done(first)
    assert display._done == 2  # a; b waits for u2
    display.unit_done(second)
    display.unit_done(_unit("u3", "c", "d"))
    assert display._done == 5 and display._waiting == {} and display._alone == {}


def test_the_halves_of_a_refused_unit_count_their_rows() -> None:
    """A unit refused and split is never reported; each half it became counts its own rows once."""
    display = Progress(3, enabled=False)
    display.expect([_unit("whole", "a", "b", "c")], skipped=0, total=3, done=0)
    display.unit_done(_unit("half-1", "a"))
    display.unit_done(_unit("half-2", "b", "c"))
    assert display._done == 3
