"""One progress display per :func:`humekit.measure` call: rows and jobs, job states, upload bytes, time that ticks.

The display is a tqdm bar counting rows whose jobs have finished, with the jobs' states
(``queued``, ``running``, ``done``, ``failed``) and, while files are uploaded, the bytes sent. Every row
of the table counts: a row no request will measure (invalid, or one the API cannot take) is done from
the start, as is a row the ledger answered before, and a row sent in several units (the windows of a
long recording) is done once all of them are (:meth:`Progress.expect`, :meth:`Progress.unit_done`), so
the bar ends at 100% when the call does. A
background thread redraws it every ``refresh`` seconds, so the elapsed time moves while the API
works even when no job changes. Elapsed time comes from the pipeline's clock (a
:class:`~humekit.clock.VirtualClock` in tests and notebooks that use one).

Where it draws:

- in a terminal (or any stream): one line on stderr, redrawn in place;
- in Jupyter with ipywidgets: a live widget; when it closes, the widget is replaced by the final
  line as ``text/plain``, so a notebook saved and reopened still shows a readable final state
  (JupyterLab shows "Error displaying widget: model not found" for a widget whose kernel is gone);
- in Jupyter without ipywidgets: the same line as one ``text/plain`` display updated in place
  (no stderr, no "IProgress not found" warning).
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from tqdm.std import tqdm as _std_tqdm

from humekit.clock import Clock, SystemClock

if TYPE_CHECKING:
    from humekit.pipeline.planning import Unit

__all__ = ["CountingReader", "Progress", "STATES", "display_mode", "job_state", "upload_listener"]

#: The states a job is shown in, in display order.
STATES = ("queued", "running", "done", "failed")
_STATE_OF = {"QUEUED": "queued", "IN_PROGRESS": "running", "COMPLETED": "done", "FAILED": "failed"}

#: Called with the number of bytes read for an upload (set while :meth:`Progress.uploading` is active).
upload_listener: contextvars.ContextVar[Callable[[int], None] | None] = contextvars.ContextVar(
    "humekit_upload_listener", default=None)


def job_state(status: str | None) -> str:
    """The display state of a Hume job status (``QUEUED`` -> ``queued``, ``COMPLETED`` -> ``done``...)."""
    return _STATE_OF.get(str(status or "").upper(), "queued")


def display_mode() -> str:
    """Where a display would draw: ``"widget"`` (Jupyter + ipywidgets), ``"notebook"`` (Jupyter, no
    ipywidgets) or ``"terminal"``."""
    shell = sys.modules.get("IPython")
    ip = shell.get_ipython() if shell is not None and hasattr(shell, "get_ipython") else None
    if ip is None or not hasattr(ip, "kernel"):
        return "terminal"
    try:
        import ipywidgets  # noqa: F401
    except ImportError:
        return "notebook"
    return "widget"


class Progress:
    """The display of one ``measure`` call.

    Args:
        total: rows to measure (:meth:`expect` and :meth:`rows` change it).
        enabled: draw anything at all (``False``: every method is a no-op).
        clock: where elapsed time comes from (default: the wall clock).
        refresh: seconds between redraws by the background thread (``None``: no thread).
        file: draw the terminal line here instead of stderr (forces the terminal mode).
        mode: ``"terminal"``, ``"notebook"`` or ``"widget"`` (default: :func:`display_mode`).
    """

    def __init__(self, total: int = 0, *, enabled: bool = True, clock: Clock | None = None, refresh: float | None = 1.0,
                 file: TextIO | None = None, mode: str | None = None, desc: str = "measure"):
        self.enabled = enabled
        self._clock = clock or SystemClock()
        self._lock = threading.RLock()
        self._states: dict[str, str] = {}
        self._skipped = 0  # rows no request measures: in the total and done from the start
        self._total, self._done = total, 0  # the rows measured (or waited for)
        self._waiting: dict[str, int] = {}  # row (ID token) that several units carry -> those not finished yet
        self._alone: dict[str, int] = {}  # unit key -> the rows only it carries, until it is reported
        self._table = total  # the rows of the table: the bar's total while chunks are still being planned
        self._chunks = False  # whether :meth:`expect` has been told of chunks of the table
        self._upload: tuple[int, int] | None = None
        self._stage = "submitting"
        self._closed = False
        self._drawn_at = 0.0
        self._handle: Any = None
        self._bar: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.mode = "terminal" if file is not None else (mode or display_mode())
        if not enabled:
            return
        self._bar = self._make_bar(file, desc, total)
        self._bar._time = self._clock.time  # elapsed time from the pipeline's clock (tqdm reads self._time())
        self._bar.start_t = self._bar.last_print_t = self._clock.time()
        self._draw()
        if refresh:
            self._thread = threading.Thread(target=self._tick, args=(refresh,), name="humekit-progress", daemon=True)
            self._thread.start()

    def _make_bar(self, file: TextIO | None, desc: str, total: int) -> Any:
        options = dict(total=total, unit="row", desc=desc, leave=True, dynamic_ncols=False, mininterval=0,
                       bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} rows [{elapsed}{postfix}]")
        if self.mode == "widget":
            from tqdm.notebook import tqdm as notebook_tqdm

            bar = notebook_tqdm(display=False, **options)
            from IPython.display import display

            self._handle = display(bar.container, display_id=True)
            return bar
        if self.mode == "notebook":
            from IPython.display import display

            bar = _std_tqdm(file=io.StringIO(), ascii=False, **options)  # drawn into the display below, not stderr
            self._handle = display({"text/plain": str(bar)}, raw=True, display_id=True)
            return bar
        return _std_tqdm(file=file if file is not None else sys.stderr, **options)

    # ------------------------------------------------------------------ what the pipeline reports
    @property
    def states(self) -> dict[str, str]:
        """Each job's display state (``queued``, ``running``, ``done``, ``failed``)."""
        with self._lock:
            return dict(self._states)

    def stage(self, name: str) -> None:
        """The pipeline's current step (``submitting``, ``waiting``, ``fetching``)."""
        with self._lock:
            self._stage = name
        self._draw()

    def rows(self, total: int, done: int = 0) -> None:
        """``total`` rows to measure, ``done`` of them already finished (besides the rows skipped)."""
        with self._lock:
            self._total, self._done, self._table = total, min(done, total), 0
            self._waiting.clear()  # the rows are counted by what is waited for now, not by units
            self._alone.clear()
        self._count()

    def add_rows(self, done: int) -> None:
        """``done`` more rows finished."""
        with self._lock:
            self._done = min(self._done + done, self._total)
        self._count()

    def expect(self, units: Sequence[Unit], *, skipped: int, total: int, done: int, more: bool = False) -> None:
        """What the call will do: ``skipped`` rows no request measures (invalid, or that the API cannot take)
        are counted in the total and done from the start, whatever :meth:`rows` says later; of the ``total``
        rows measured, ``done`` finished before (the ledger holds their answers), and a row the ``units``
        carry is done once every unit carrying it is reported (:meth:`unit_done`). With ``more``, these are
        one more chunk of the table's rows, added to what earlier calls said (``measure(out=...)``)."""
        carrying: dict[str, int] = {}  # row (ID token) -> the units carrying it
        for unit in units:
            for row in unit.rows:
                carrying[row.id_token] = carrying.get(row.id_token, 0) + 1
        # a row one unit carries is counted with its unit, so only rows several units carry are held one by one
        waiting = {token: count for token, count in carrying.items() if count > 1}
        alone = {unit.key: sum(1 for row in unit.rows if carrying[row.id_token] == 1) for unit in units}
        with self._lock:
            if more:
                if not self._chunks:  # the first chunk: the counts start from it (the total stays the table's)
                    self._total = self._done = self._skipped = 0
                    self._chunks = True
                self._waiting.update(waiting)
                self._alone.update(alone)
                self._skipped += skipped
                self._total += total
                self._done = min(self._done + done, self._total)
            else:
                self._waiting, self._alone, self._skipped, self._table = waiting, alone, skipped, 0
                self._total, self._done = total, min(done, total)
        self._count()

    def unit_done(self, unit: Unit) -> None:
        """A unit finished (answered or failed): its rows are done when it was the last of theirs (the halves
        of a unit split after a refusal carry its rows, each row in one of them)."""
        with self._lock:
            announced = unit.key in self._alone
            done = self._alone.pop(unit.key, 0)
            for row in unit.rows:
                left = self._waiting.get(row.id_token)
                if left is not None:
                    if left == 1:
                        del self._waiting[row.id_token]
                        done += 1
                    else:
                        self._waiting[row.id_token] = left - 1
                elif not announced:
                    done += 1  # a unit not in the plan (the half of a refused one): its rows are done now
            self._done = min(self._done + done, self._total)
        self._count()

    def finish(self) -> None:
        """Every row is done: every unit reached a final state (answered, failed or refused)."""
        with self._lock:
            self._waiting.clear()
            self._alone.clear()
            self._done = self._total
        self._count()

    def _count(self) -> None:
        """Show the counts: the rows skipped on top of the rows measured."""
        if not self.enabled:
            return
        with self._lock:
            total = max(self._skipped + self._total, self._table)
            self._bar.total, self._bar.n = total, self._skipped + self._done
            if self.mode == "widget":
                meter = self._bar.container.children[1]
                meter.max, meter.bar_style = max(total, 1), ""
        self._draw()

    def jobs(self, states: Mapping[str, str | None]) -> None:
        """Set the status of some jobs (Hume's ``QUEUED``/``IN_PROGRESS``/``COMPLETED``/``FAILED``)."""
        with self._lock:
            self._states.update({job_id: job_state(status) for job_id, status in states.items()})
        self._draw()

    @contextlib.contextmanager
    def uploading(self, total_bytes: int) -> Iterator[None]:
        """While active, bytes read for uploads (see ``upload_listener``) count toward ``total_bytes``."""
        if not self.enabled or total_bytes <= 0:
            yield
            return
        with self._lock:
            self._upload = (0, total_bytes)
        self._draw()

        def sent(n: int) -> None:
            with self._lock:
                if self._upload is not None:
                    self._upload = (min(self._upload[0] + n, self._upload[1]), self._upload[1])
                    complete = self._upload[0] == self._upload[1]
            self._draw(throttle=not complete)

        token = upload_listener.set(sent)
        try:
            yield
        finally:
            upload_listener.reset(token)
            with self._lock:
                self._upload = None
            self._draw()

    # ------------------------------------------------------------------ drawing
    def summary(self) -> str:
        """The postfix: job counts by state, and upload bytes while uploading."""
        with self._lock:
            counts = Counter(self._states.values())
            parts = []
            if self._states:
                parts.append(f"{len(self._states)} job{'s' if len(self._states) != 1 else ''}: "
                             + ", ".join(f"{counts[s]} {s}" for s in STATES if counts[s]))
            elif self._stage:
                parts.append(self._stage)
            if self._upload is not None:
                sent, total = self._upload
                parts.append(f"uploading {_mb(sent)}/{_mb(total)} MB")
            return "; ".join(parts)

    def line(self) -> str:
        """The display as one line of text."""
        if not self.enabled:
            return ""
        with self._lock:
            return str(self._bar)

    def _draw(self, *, throttle: bool = False) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._closed:
                return
            now = time.monotonic()
            if throttle and now - self._drawn_at < 0.2:  # real time: redraws cost the same whatever the clock
                return
            self._drawn_at = now
            self._bar.set_postfix_str(self.summary(), refresh=False)
            if self.mode == "notebook":
                self._handle.update({"text/plain": str(self._bar)}, raw=True)
            else:
                self._bar.refresh()

    def _tick(self, every: float) -> None:
        while not self._stop.wait(every):
            try:
                self._draw()
            except Exception:  # noqa: BLE001 - a display that cannot draw must never break a measurement
                return

    def close(self) -> None:
        """Stop the redraws and leave the final state (as text in Jupyter)."""
        if not self.enabled or self._closed:
            return
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._draw()
        with self._lock:
            self._closed = True
            final = str(self._bar)
            if self.mode == "widget":
                self._bar.close()
                _close_widget(self._bar.container)  # its models are gone: the display shows the final line
                self._handle.update({"text/plain": final}, raw=True)
            elif self.mode == "notebook":
                self._handle.update({"text/plain": final}, raw=True)
            else:
                self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _close_widget(widget: Any) -> None:
    """Close a widget, its children and their layout and style models (nothing left in the kernel)."""
    for child in getattr(widget, "children", ()):
        _close_widget(child)
    for part in (getattr(widget, "layout", None), getattr(widget, "style", None)):
        if part is not None:
            part.close()
    widget.close()


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f}"


class CountingReader:
    """A binary file whose reads are reported to ``upload_listener`` (httpx reads uploads in chunks)."""

    def __init__(self, raw: Any, listener: Callable[[int], None]):
        self._raw = raw
        self._listener = listener

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        if data:
            self._listener(len(data))
        return data

    def __getattr__(self, name: str) -> Any:  # fileno, seek, tell, close, name: as the file has them
        return getattr(self._raw, name)

    def __enter__(self) -> CountingReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._raw.close()
