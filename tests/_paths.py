"""Where the tests find Hume payloads: Hume's SDK examples in the repo, the real samples outside it.

The real samples (other people's transcripts and media, committed publicly by third parties) stay
outside the repository: ``$HUMEKIT_SAMPLES``, or ``../shared/samples`` beside the repository. Tests
that need them carry ``@pytest.mark.samples``: on a clone without them they skip with one line, and
under ``CI=true`` they fail (see ``conftest.py``). Hume's own SDK example payloads (MIT) are in
``tests/data/hume_sdk`` (provenance and licence in its README), so the wire shapes are always checked.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLES = Path(os.environ["HUMEKIT_SAMPLES"]) if os.environ.get("HUMEKIT_SAMPLES") else REPO.parent / "shared" / "samples"
SDK_EXAMPLES = REPO / "tests" / "data" / "hume_sdk"


def samples_missing() -> str | None:
    """Why the real samples are unavailable (``None`` when they are there)."""
    if SAMPLES.is_dir() and any(SAMPLES.glob("real_*")):
        return None
    where = f"HUMEKIT_SAMPLES={SAMPLES}" if os.environ.get("HUMEKIT_SAMPLES") else f"{SAMPLES} (../shared/samples)"
    return (f"the real Hume samples are not at {where}; set HUMEKIT_SAMPLES to their folder to run the tests "
            "that need them")


def require_samples() -> Path:
    """The real samples' folder; or skip (one summary line for all such tests), or fail under ``CI=true``."""
    missing = samples_missing()
    if missing is not None:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"CI=true: {missing}")
        pytest.skip(missing)
    return SAMPLES


def payload(name: str) -> Path:
    """A Hume payload by file name: Hume's SDK example in the repo if it is one, else the real sample."""
    inside = SDK_EXAMPLES / name
    return inside if inside.exists() else SAMPLES / name


def sample_param(name: str, *values: object) -> object:
    """``pytest.param(values or the payload's path)`` with id ``name``, marked ``samples`` unless the repo holds it."""
    marks = () if (SDK_EXAMPLES / name).exists() else (pytest.mark.samples,)
    return pytest.param(*(values or (payload(name),)), marks=marks, id=name)
