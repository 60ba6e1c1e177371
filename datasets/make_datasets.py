"""Regenerate humekit's small committed dataset: spoken sentences, face drawings, texts, v1 media and the tables.

Run from the repository root (needs espeak-ng and sox on PATH; only to *regenerate*, never in CI)::

    apt-get install -y espeak-ng sox
    .venv/bin/python datasets/make_datasets.py            # rewrites datasets/ in place
    .venv/bin/python datasets/make_datasets.py --check    # regenerates into a temp dir and compares checksums
    .venv/bin/python datasets/make_datasets.py --v1       # only media/ and recordings-v1.csv (PyAV, no espeak-ng)

Everything here is made by this script, so it is the project's own work, dedicated to the public
domain (CC0 1.0); see datasets/README.md. For large synthetic tables (hundreds to tens of thousands
of rows) use :func:`humekit.testing.study.make_recordings` instead, or ``--large N --out DIR`` below.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
SAMPLE_RATE = 16_000

# (speaker, espeak voice, condition, words per minute, pitch 0-99, amplitude 0-200, word gap (10 ms), sentence)
# "calm" takes are slow, low and soft; "excited" takes are fast, high and loud: the two groups compared in
# notebooks/04-analysis.ipynb. Each speaker records one sentence in each condition.
SPEECH = [
    ("s1", "en-us", "calm", 130, 35, 90, 2, "I think we should take a moment and look at this again."),
    ("s1", "en-us", "excited", 185, 75, 150, 0, "We did it! I can't believe the results came out this well!"),
    ("s2", "en-us+f3", "calm", 135, 40, 90, 2, "The garden is quiet in the early morning, before anyone wakes."),
    ("s2", "en-us+f3", "excited", 190, 85, 150, 0, "Wait, you're telling me the train leaves in five minutes?"),
    ("s3", "en-gb", "calm", 125, 30, 85, 3, "Let me explain it slowly, one step at a time."),
    ("s3", "en-gb", "excited", 180, 70, 160, 0, "That is absolutely the best news I have heard all year!"),
    ("s4", "en-gb+f2", "calm", 140, 45, 95, 2, "Thank you for waiting. Everything is ready now."),
    ("s4", "en-gb+f2", "excited", 195, 90, 160, 0, "Oh no, I left my keys on the bus again!"),
    ("s5", "en-gb-scotland", "calm", 130, 35, 90, 2, "We can talk about it tomorrow, there is no hurry."),
    ("s5", "en-gb-scotland", "excited", 185, 80, 150, 0, "Quick, come and look, the whole sky is on fire!"),
    ("s6", "en-029+m3", "calm", 135, 30, 85, 3, "The report is finished and I am happy with it."),
    ("s6", "en-029+m3", "excited", 190, 75, 155, 0, "Are you serious? They cancelled the whole concert?"),
]

# Face drawings (humekit.testing.synthetic.make_image): (speaker, condition, seed). Cartoon faces, not photos.
IMAGES = [("f1", "calm", 11), ("f1", "excited", 12), ("f2", "calm", 21), ("f2", "excited", 22)]

# Short texts, written for this dataset: (speaker, condition, text).
TEXTS = [
    ("t1", "calm", "The meeting went fine. We agreed on a plan and everyone went home early."),
    ("t1", "excited", "I got the job!!! I start on Monday and I still can't stop smiling."),
    ("t2", "calm", "Rain again today. I made tea, read for a while and watched the street."),
    ("t2", "excited", "No way, the package finally arrived, and it's even better than the pictures!"),
]

COLUMNS = ["id", "path", "kind", "speaker", "condition", "text", "voice", "speed_wpm", "pitch", "amplitude"]

# Media in the formats researchers bring to Hume's v1 API, encoded with PyAV by humekit.testing.media (speech-like
# bursts over a faint noise floor, and a drawn face moving in the video): (id, path, maker, options).
V1_MEDIA = [
    ("m1-mp3", "media/m1/interview.mp3", "audio", {"format": "mp3", "duration": 12.0, "seed": 41}),
    ("m2-m4a", "media/m2/voice-memo.m4a", "audio", {"format": "m4a", "duration": 9.0, "seed": 42}),
    ("m3-mp4", "media/m3/video-call.mp4", "video", {"format": "mp4", "duration": 6.0, "seed": 43}),
]
# Rows of recordings.csv that recordings-v1.csv measures too: two WAVs, a photo (faces) and a text (which v1
# cannot measure).
V1_REUSED = ["s1-calm", "s2-excited", "f1-calm", "t1-excited"]
# The long recording of notebooks/06-v1.ipynb (cut into windows): 25 minutes is about 75 MB as FLAC, too large to
# commit, so the notebook makes it at run time with humekit.testing.media.make_audio(path, **V1_LONG).
V1_LONG = {"format": "flac", "duration": 25 * 60.0, "seed": 44}


def tool_versions() -> dict[str, str]:
    """The versions of espeak-ng and sox on PATH (recorded in the README)."""
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    sox = subprocess.run(["sox", "--version"], capture_output=True, text=True, check=True).stdout
    return {"espeak-ng": espeak.split("text-to-speech:")[1].split("Data")[0].strip(),
            "sox": sox.split("SoX")[-1].strip()}


def speak(out: Path, *, voice: str, speed: int, pitch: int, amplitude: int, gap: int, text: str) -> None:
    """Render ``text`` with espeak-ng, then resample to 16 kHz mono 16-bit with sox, 3 dB quieter
    (headroom: no clipping), without dither (byte-reproducible)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-p", str(pitch), "-a", str(amplitude),
                        "-g", str(gap), "-w", str(raw), text], check=True)  # fmt: skip
        subprocess.run(["sox", "-D", str(raw), "-r", str(SAMPLE_RATE), "-c", "1", "-b", "16", str(out), "gain", "-3"],
                       check=True)


def build(root: Path) -> pd.DataFrame:
    """Write every file under ``root`` and return the recordings table (also written as recordings.csv)."""
    from humekit.testing.synthetic import make_image

    rows = []
    for speaker, voice, condition, speed, pitch, amplitude, gap, text in SPEECH:
        path = Path("audio") / speaker / f"{condition}.wav"  # same basenames in every speaker's folder, on purpose
        speak(root / path, voice=voice, speed=speed, pitch=pitch, amplitude=amplitude, gap=gap, text=text)
        rows.append({"id": f"{speaker}-{condition}", "path": path.as_posix(), "kind": "audio", "speaker": speaker,
                     "condition": condition, "text": text, "voice": voice, "speed_wpm": speed, "pitch": pitch,
                     "amplitude": amplitude})  # fmt: skip
    for speaker, condition, seed in IMAGES:
        path = Path("images") / speaker / f"{condition}.png"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        make_image(root / path, width=320, height=400, seed=seed)
        rows.append({"id": f"{speaker}-{condition}", "path": path.as_posix(), "kind": "image", "speaker": speaker,
                     "condition": condition})
    for speaker, condition, text in TEXTS:
        path = Path("texts") / speaker / f"{condition}.txt"
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text + "\n", encoding="utf-8")
        rows.append({"id": f"{speaker}-{condition}", "path": path.as_posix(), "kind": "text", "speaker": speaker,
                     "condition": condition, "text": text})
    table = pd.DataFrame(rows, columns=COLUMNS).astype({"speed_wpm": "Int64", "pitch": "Int64", "amplitude": "Int64"})
    table.to_csv(root / "recordings.csv", index=False)
    v1 = build_v1(root, table)
    write_checksums(root, [*table["path"], "recordings.csv", *v1["path"].iloc[:len(V1_MEDIA)], "recordings-v1.csv"])
    return table


def build_v1(root: Path, recordings: pd.DataFrame) -> pd.DataFrame:
    """Write ``media/`` (MP3, M4A, MP4) under ``root`` and return recordings-v1.csv (also written): id, path."""
    from humekit.testing.media import make_audio, make_video

    makers = {"audio": make_audio, "video": make_video}
    for _, path, maker, options in V1_MEDIA:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        makers[maker](root / path, **options)
    reused = recordings.set_index("id").loc[V1_REUSED, "path"]
    table = pd.DataFrame([*((id_, path) for id_, path, _, _ in V1_MEDIA), *reused.items()], columns=["id", "path"])
    table.to_csv(root / "recordings-v1.csv", index=False)
    return table


def write_checksums(root: Path, names: list[str]) -> None:
    """``checksums.sha256`` in ``sha256sum`` format, so ``sha256sum -c`` verifies the files."""
    lines = [f"{hashlib.sha256((root / n).read_bytes()).hexdigest()}  {n}" for n in sorted(names)]
    (root / "checksums.sha256").write_text("\n".join(lines) + "\n")


def check() -> int:
    """Regenerate into a temp dir and compare with the committed checksums; 0 when identical."""
    with tempfile.TemporaryDirectory() as tmp:
        build(Path(tmp))
        fresh = (Path(tmp) / "checksums.sha256").read_text()
    committed = (HERE / "checksums.sha256").read_text()
    if fresh == committed:
        print("datasets/: regenerated files are byte-identical to the committed ones")
        return 0
    print("datasets/: regenerated files differ (another espeak-ng/sox version?):")
    for old, new in zip(committed.splitlines(), fresh.splitlines(), strict=False):
        if old != new:
            print(f"  committed {old}\n  fresh     {new}")
    return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="regenerate into a temp dir and compare checksums")
    parser.add_argument("--v1", action="store_true", help="only rewrite media/ and recordings-v1.csv (needs no "
                        "espeak-ng or sox)")  # fmt: skip
    parser.add_argument("--large", type=int, metavar="N", help="instead: a synthetic study of N rows "
                        "(humekit.testing.study.make_recordings) written to --out")  # fmt: skip
    parser.add_argument("--out", type=Path, help="folder for --large (its table goes to OUT/recordings.csv)")
    parser.add_argument("--seed", type=int, default=0, help="seed for --large")
    args = parser.parse_args(argv)
    if args.large:
        from humekit.testing.study import make_recordings

        if args.out is None:
            parser.error("--large needs --out DIR")
        table = make_recordings(args.out, n=args.large, seed=args.seed, kinds=("audio", "image", "text"))
        table.to_csv(args.out / "recordings.csv", index=False)
        print(f"wrote a synthetic study of {len(table)} rows to {args.out}/recordings.csv")
        return 0
    if args.v1:
        shutil.rmtree(HERE / "media", ignore_errors=True)
        v1 = build_v1(HERE, pd.read_csv(HERE / "recordings.csv"))
        committed = [line.split("  ", 1)[1] for line in (HERE / "checksums.sha256").read_text().splitlines()]
        write_checksums(HERE, sorted({*committed, *v1["path"], "recordings-v1.csv"}))
        print(f"wrote {len(V1_MEDIA)} v1 media files and recordings-v1.csv ({len(v1)} rows) to {HERE}")
        return 0
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    if missing:
        print(f"needs {' and '.join(missing)} on PATH to regenerate (apt-get install -y espeak-ng sox)")
        return 2
    if args.check:
        return check()
    for sub in ("audio", "images", "texts", "media"):
        shutil.rmtree(HERE / sub, ignore_errors=True)
    table = build(HERE)
    print(f"wrote {len(table)} recordings to {HERE} with {tool_versions()}")
    print(table[["id", "path", "kind", "condition"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
