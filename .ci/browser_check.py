"""Browser check: notebooks/01-quickstart.ipynb run in JupyterLab in headless Chromium, as a researcher would.

Run by ``make browser-check`` (and by ``.ci/run``). It:

1. installs Debian's ``chromium`` when it is missing (``apt-get``; no other browser download works here);
2. starts JupyterLab through ``make lab`` on loopback, on a copy of the notebook under
   ``out/browser-check/`` (so that JupyterLab's autosave never touches the repository's notebook);
3. opens the notebook in headless Chromium (driven by Playwright with Debian's executable), runs
   every cell (``notebook:run-all-cells``) and watches the page;
4. fails if any cell shows an error or stderr output, if the ``MeasureResult`` summary or a plot
   is missing, or if measure's progress widget never renders; it saves screenshots in
   ``out/browser-check/`` (the widget while it waits, then the whole notebook) for a person to look at.
   The widget must also move while it waits (its text changes: elapsed time, job states).
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "out" / "browser-check"
NOTEBOOK = "01-quickstart.ipynb"
TIMEOUT = 240  # seconds for the whole notebook to run


def chromium() -> str:
    """Debian's chromium, installed with apt-get when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0:
        sys.exit("browser check: chromium is not installed; run: sudo apt-get update && sudo apt-get install -y chromium")
    print("browser check: installing Debian's chromium (apt-get)", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True, env=env)
    found = shutil.which("chromium")
    if not found:
        sys.exit("browser check: apt-get installed chromium but it is not on PATH")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lab_settings(folder: Path) -> Path:
    """JupyterLab user settings for the check: every cell in the page (no windowing), no news pop-up."""
    for name, settings in (("notebook-extension/tracker", '{"windowingMode": "none"}'),
                           ("apputils-extension/notification", '{"fetchNews": "false", "checkForUpdates": false}')):
        path = folder / "@jupyterlab" / f"{name}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(settings)
    return folder


def start_lab(root: Path, port: int, token: str) -> subprocess.Popen[bytes]:
    """``make lab`` on ``root``, loopback only, without opening a browser of its own."""
    args = (f"--no-browser --ServerApp.port={port} --IdentityProvider.token={token} --LabApp.expose_app_in_browser=True"
            f" --LabApp.user_settings_dir={lab_settings(OUT / 'lab-settings')} --LabApp.workspaces_dir={OUT / 'ws'}")
    log = (OUT / "jupyterlab.log").open("wb")
    lab = subprocess.Popen(["make", "--no-print-directory", "-C", str(REPO), "lab", f"LAB_ROOT={root}",
                            f"LAB_ARGS={args}"], stdout=log,
                           stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if lab.poll() is not None:
            sys.exit(f"browser check: make lab exited with {lab.returncode}; see {OUT / 'jupyterlab.log'}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status?token={token}", timeout=2)
            return lab
        except OSError:
            time.sleep(0.5)
    stop(lab)
    sys.exit(f"browser check: JupyterLab did not answer on 127.0.0.1:{port} within 120 s; see {OUT / 'jupyterlab.log'}")


def stop(lab: subprocess.Popen[bytes]) -> None:
    """Stop ``make lab`` and the JupyterLab it started (its own process group)."""
    if lab.poll() is None:
        os.killpg(lab.pid, signal.SIGTERM)
        try:
            lab.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(lab.pid, signal.SIGKILL)


# What the page shows, read in the browser: every output of every code cell.
OUTPUTS_JS = """() => [...document.querySelectorAll('.jp-Notebook .jp-CodeCell')].map((cell, index) => ({
    index,
    prompt: (cell.querySelector('.jp-InputPrompt') || {}).textContent || '',
    errors: cell.querySelectorAll('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]').length,
    text: [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => o.innerText).join('\\n'),
    images: cell.querySelectorAll('.jp-OutputArea-output img').length,
}))"""


def check(executable: str, url: str) -> list[str]:
    """Run the notebook in the browser; the problems found (none: it passed)."""
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True,
                                    args=["--no-sandbox", "--disable-dev-shm-usage"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url)
        page.wait_for_selector(".jp-Notebook .jp-CodeCell", timeout=90_000)
        page.wait_for_function("() => window.jupyterapp && document.querySelector('.jp-Notebook')", timeout=60_000)
        page.wait_for_function("() => [...document.querySelectorAll('.jp-Toolbar-kernelStatus, "
                               ".jp-Notebook-ExecutionIndicator')].length > 0", timeout=60_000)
        time.sleep(2)  # the kernel connects
        # the stored outputs must not pass for new ones: clear them, then run every cell
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:clear-all-cell-outputs')")
        page.wait_for_function("() => document.querySelectorAll('.jp-OutputArea-output').length === 0", timeout=30_000)
        page.evaluate("() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); }")  # not awaited
        widget_texts: list[str] = []  # what the first progress widget said, each time it was looked at
        watched, watching = None, True
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if watched is None:
                watched = page.query_selector(".jp-CodeCell:has(.jp-OutputArea-output .widget-hprogress)")
            if watched is not None and watching:
                try:
                    if watched.query_selector(".widget-hprogress") is None:
                        watching = False  # measure finished: the widget became its final line
                    else:
                        text = watched.query_selector(".jp-OutputArea-output").inner_text()
                        widget_texts.append(text)
                        if len(set(widget_texts)) > 1 and "100%" not in text:  # the latest state mid-wait
                            watched.screenshot(path=str(OUT / "1-progress-widget.png"))
                except Exception:  # noqa: BLE001 - replaced by its final line between two looks
                    watching = False
            cells = page.evaluate(OUTPUTS_JS)
            if cells and all(c["prompt"].strip() not in ("[ ]:", "[*]:", "") for c in cells):
                break
            time.sleep(0.1)
        else:
            problems.append(f"the notebook did not finish within {TIMEOUT} s")
        time.sleep(1)
        page.screenshot(path=str(OUT / "2-notebook.png"), full_page=True)
        cells = page.evaluate(OUTPUTS_JS)
        for cell in cells:
            if cell["errors"]:
                problems.append(f"code cell {cell['index'] + 1} shows an error or stderr output: {cell['text'][:300]!r}")
        texts = "\n".join(c["text"] for c in cells)
        summary = page.query_selector(".jp-OutputArea-output:has-text('humekit.measure')")
        if summary is None or "rows" not in texts:
            problems.append("the MeasureResult summary (humekit.measure: N rows ...) is missing")
        else:
            summary.scroll_into_view_if_needed()
            summary.screenshot(path=str(OUT / "3-summary.png"))
        plots = page.query_selector_all(".jp-OutputArea-output img")
        if not plots:
            problems.append("no plot was drawn")
        else:
            plots[0].scroll_into_view_if_needed()
            plots[0].screenshot(path=str(OUT / "4-plot.png"))
        if not widget_texts:
            problems.append("measure's progress widget never rendered")
        elif len(set(widget_texts)) < 2:
            problems.append(f"measure's progress widget never moved while it waited: {widget_texts[0]!r}")
        if "measure: 100%" not in texts:
            problems.append("measure's progress display did not end with its final line (measure: 100% ...)")
        browser.close()
    return problems


def main() -> int:
    shutil.rmtree(OUT, ignore_errors=True)  # no screenshot, workspace or autosaved copy from an earlier check
    OUT.mkdir(parents=True, exist_ok=True)
    root = OUT / "notebooks"
    root.mkdir(exist_ok=True)
    shutil.copy(REPO / "notebooks" / NOTEBOOK, root / NOTEBOOK)  # a copy: autosave never edits the repository
    executable = chromium()
    port, token = free_port(), secrets.token_hex(16)
    lab = start_lab(root, port, token)
    try:
        problems = check(executable, f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}")
    finally:
        stop(lab)
    for problem in problems:
        print(f"browser check: FAIL: {problem}")
    shots = ", ".join(sorted(p.name for p in OUT.glob("*.png")))
    print(f"browser check: {'FAILED' if problems else 'passed'}: {NOTEBOOK} in JupyterLab in headless Chromium; "
          f"screenshots in {OUT.relative_to(REPO)}/ ({shots})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
