"""``humekit demo`` / ``make demo``: a small batch, end to end, against the embedded emulator.

It makes a few real media files (spoken-like WAVs of different lengths, an image, short texts),
starts the emulator on loopback, submits the jobs over HTTP, waits with backoff, fetches the
predictions and prints what happened at each step. The scores are synthetic.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from humekit.client import Client
from humekit.emulator import Emulator, Schedule
from humekit.jobs import Upload
from humekit.synthetic import make_image, make_wav

__all__ = ["run_demo"]


def run_demo(*, quiet: bool = False) -> int:
    """Run the demo; returns a process exit code."""
    say = (lambda *a: None) if quiet else print
    with tempfile.TemporaryDirectory() as tmp, Emulator(schedule=Schedule(queued=0.5, running=1.0)) as emu:
        folder = Path(tmp)
        say(f"1. Emulator of Hume's v0 batch API serving at {emu.url} (scores are SYNTHETIC).")
        make_wav(folder / "greeting.wav", segments=[(0.2, 1.1), (1.4, 2.2)], duration=2.5, seed=1)
        make_wav(folder / "story.wav", segments=[(0.3, 2.0), (2.5, 4.4), (5.0, 6.1)], duration=6.5, seed=2)
        make_image(folder / "portrait.png", width=320, height=240, seed=3)
        client = Client(api_key=emu.api_key, base_url=emu.url)
        uploads = [Upload.from_path(folder / name) for name in ("greeting.wav", "story.wav", "portrait.png")]
        audio_job = client.start_job(files=uploads, models={"prosody": {}, "face": {}})
        say(f"2. Submitted 3 files as multipart job {audio_job}.")
        text_job = client.start_job(
            text=["I can't believe we won!", "That was a long, tiring day."], models={"language": {"sentiment": {}}}
        )
        say(f"   Submitted 2 texts as JSON job {text_job}.")
        for job_id in (audio_job, text_job):
            delay, polls = 1.0, 0
            while True:
                details = client.get_job(job_id)
                polls += 1
                if details.terminal:
                    break
                time.sleep(delay)
                delay = min(delay * 2, 8.0)
            say(f"3. Job {job_id}: {details.status} after {polls} status polls, "
                f"{details.num_predictions} predictions, {details.num_errors} errors.")
            for source in client.get_predictions(job_id):
                name = source["source"].get("filename") or source["source"]["type"]
                for prediction in source.get("results", {}).get("predictions", []):
                    for model, output in prediction["models"].items():
                        segments = sum(len(g["predictions"]) for g in output["grouped_predictions"])
                        say(f"   {name:14} file={prediction['file']!s:14} {model:9} {segments:3} segments")
        posts = sum(r.method == "POST" for r in emu.requests)
        gets = sum(r.method == "GET" for r in emu.requests)
        print(f"demo: completed 2 jobs against the emulator ({posts} POSTs, {gets} GETs); scores are synthetic.")
    return 0
