"""Where the tests find the real Hume samples: ``../shared/samples`` beside the repository."""

from pathlib import Path

SAMPLES = Path(__file__).resolve().parents[2] / "shared" / "samples"
