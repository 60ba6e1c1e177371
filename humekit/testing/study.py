"""Synthetic studies: recordings tables backed by real media files, with the awkward cases built in.

:func:`make_recordings` writes spoken-like WAVs (each of its own length), face images and texts
into a folder and returns the table a researcher would have: ``id``, ``source``, ``kind``,
``speaker``, ``condition`` and the true ``duration``. It mixes kinds and includes what breaks
naive pipelines: identical basenames in different folders, the same URL in several rows, IDs
with spaces and unicode, and a shuffled row order. Notebooks, tests and benchmarks use it.
"""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import pandas as pd

from humekit.testing.synthetic import make_image, make_wav

__all__ = ["make_recordings"]

_SENTENCES = (
    "I honestly did not expect that to work so well.",
    "Could you say that again, a little slower?",
    "We missed the last train and had to walk home in the rain.",
    "That is the best news I have heard all year!",
    "I am not sure how I feel about this.",
    "Thank you, that means a lot to me.",
    "Why does this always happen on a Monday?",
    "Let me think about it and get back to you tomorrow.",
)


def make_recordings(
    folder: str | os.PathLike[str],
    *,
    n: int = 100,
    seed: int = 0,
    kinds: tuple[str, ...] = ("audio", "image", "text", "url"),
    media_url: str | None = None,
    sample_rate: int = 8000,
) -> pd.DataFrame:
    """Write a synthetic study into ``folder`` and return its recordings table.

    Args:
        folder: where the media go (``<folder>/sessions/<session>/take<k>.wav`` and so on, so
            basenames repeat across sessions; URL media under ``<folder>/media/``).
        n: number of rows.
        seed: makes the study reproducible.
        kinds: which kinds of rows to mix (``audio`` and ``image`` files, ``text``, ``url``).
        media_url: base URL that serves ``<folder>/media`` (e.g. ``emulator.url + "/media"``);
            required when ``kinds`` contains ``"url"``.
        sample_rate: of the WAVs (low rates keep big studies small on disk).

    Returns:
        Columns ``id``, ``source``, ``kind``, ``speaker``, ``condition``, ``duration`` (true
        seconds of audio; NaN otherwise), in shuffled order.
    """
    if "url" in kinds and media_url is None:
        raise ValueError("kinds includes 'url': pass media_url= (the URL serving <folder>/media)")
    rng = random.Random(seed)
    root = Path(folder)
    (root / "media").mkdir(parents=True, exist_ok=True)
    shared_urls: list[str] = []
    rows = []
    for i in range(n):
        kind = kinds[i % len(kinds)]
        session = f"s{i // 8:03d}"
        row: dict[str, Any] = {"id": _row_id(i), "kind": kind, "speaker": f"spk{i % 7}", "condition": ("calm", "stress")[i % 2],
               "duration": float("nan")}
        if kind == "audio":
            duration = round(0.6 + (i * 0.37) % 4.0, 2)
            path = root / "sessions" / session / f"take{i % 3 + 1}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            make_wav(path, segments=_segments(duration, rng), duration=duration, sample_rate=sample_rate, seed=i)
            row |= {"source": str(path), "duration": duration}
        elif kind == "image":
            path = root / "sessions" / session / "face.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            make_image(path, width=240 + (i % 5) * 32, height=300, seed=i)
            row["source"] = str(path)
        elif kind == "text":
            row["source"] = f"{_SENTENCES[i % len(_SENTENCES)]} (take {i})"
        else:
            if shared_urls and rng.random() < 0.25:
                row["source"] = rng.choice(shared_urls)  # the same URL in several rows
            else:
                duration = round(0.8 + (i * 0.29) % 3.0, 2)
                name = f"clip-{i:05d}.wav"
                make_wav(root / "media" / name, segments=_segments(duration, rng), duration=duration,
                         sample_rate=sample_rate, seed=i)
                assert media_url is not None  # refused above when kinds include "url"
                row |= {"source": f"{media_url.rstrip('/')}/{name}", "duration": duration}
                shared_urls.append(row["source"])
        rows.append(row)
    table = pd.DataFrame(rows, columns=["id", "source", "kind", "speaker", "condition", "duration"])
    _fill_shared_durations(table)
    return table.sample(frac=1.0, random_state=seed).reset_index(drop=True)


def _row_id(i: int) -> str:
    # Awkward but legal IDs: spaces, unicode and punctuation must survive the round trip.
    return (f"rec-{i:05d}", f"rec {i:05d}", f"zoë/{i:05d}", f"R{i:05d}#")[i % 4]


def _segments(duration: float, rng: random.Random) -> list[tuple[float, float]]:
    segments = []
    t = 0.1 + rng.random() * 0.2
    while t < duration - 0.3:
        end = min(duration - 0.05, t + 0.3 + rng.random() * 1.2)
        segments.append((round(t, 3), round(end, 3)))
        t = end + 0.25 + rng.random() * 0.5
    return segments or [(0.05, max(0.1, duration - 0.05))]


def _fill_shared_durations(table: pd.DataFrame) -> None:
    known = table.dropna(subset=["duration"]).drop_duplicates("source").set_index("source")["duration"]
    missing = table["duration"].isna() & table["source"].isin(known.index)
    if missing.any():  # an empty selection would set a str-typed empty Series into a float column
        table.loc[missing, "duration"] = table.loc[missing, "source"].map(known).astype("float64")
