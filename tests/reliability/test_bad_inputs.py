"""Bad input corpus: malformed tables and files each raise a HumekitError naming the row or column and the fix,
before a single request reaches the API."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import humekit
from humekit import DEFAULT_LIMITS
from humekit.emulator import Emulator
from humekit.testing.synthetic import make_image, make_wav

from ._support import record

GOOD = "A perfectly good sentence to measure."
BAD_ID = "bad-row"


@dataclass(frozen=True)
class Case:
    """One malformed input: how to build it, which error, and what its message must say."""

    name: str
    build: Callable[[Path], Any]  # -> a table, or (table, measure kwargs)
    error: type[humekit.HumekitError]
    names: tuple[str, ...]  # the row or column (or argument) the message must name
    fix: tuple[str, ...]  # words of the fix the message must give
    kwargs: dict[str, Any] = field(default_factory=dict)


def two(bad: Any, good: Any = GOOD) -> pd.DataFrame:
    """A good text row and one bad row (``bad-row``): the message must single out the bad one."""
    return pd.DataFrame({"id": ["good-row", BAD_ID], "source": pd.Series([good, bad], dtype="object")})


def wav(path: Path, seconds: float = 1.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_wav(path, duration=seconds, sample_rate=8000)
    return path


def png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(path, width=64, height=80)
    return path


def fifo(tmp: Path) -> pd.DataFrame:
    os.mkfifo(tmp / "pipe.wav")
    return two(str(tmp / "pipe.wav"))


def symlink(tmp: Path, target: str) -> pd.DataFrame:
    link = tmp / "link.wav"
    os.symlink(tmp / target, link)
    return two(str(link))


def loop(tmp: Path) -> pd.DataFrame:
    os.symlink(tmp / "b.wav", tmp / "a.wav")
    os.symlink(tmp / "a.wav", tmp / "b.wav")
    return two(str(tmp / "a.wav"))


def written(name: str, data: bytes) -> Callable[[Path], pd.DataFrame]:
    def build(tmp: Path) -> pd.DataFrame:
        (tmp / name).write_bytes(data)
        return two(str(tmp / name))
    return build


PNG_BYTES = make_image(width=64, height=80)
WAV_BYTES = make_wav(duration=1.0, sample_rate=8000)
ROW = (repr(BAD_ID),)
FIX_ROWS = ("errors='mark'",)

CASES = [
    # -- the table itself --------------------------------------------------------------------------
    Case("not-a-dataframe", lambda t: [{"id": 1, "source": GOOD}], humekit.TableError, ("list",),
         ("pandas.DataFrame",)),
    Case("missing-id-column", lambda t: pd.DataFrame({"key": [1], "source": [GOOD]}), humekit.MissingColumnError,
         ("id_col='id'", "'key'"), ("Pass id_col=",)),
    Case("missing-source-column", lambda t: pd.DataFrame({"id": [1], "path": [GOOD]}), humekit.MissingColumnError,
         ("source_col='source'", "'path'"), ("Pass source_col=",)),
    Case("id-is-the-index", lambda t: pd.DataFrame({"id": [1], "source": [GOOD]}).set_index("id"),
         humekit.MissingColumnError, ("id_col='id'",), ("reset_index()",)),
    Case("id-and-source-same-column", lambda t: (pd.DataFrame({"source": [GOOD]}), {"id_col": "source"}),
         humekit.TableError, ("'source'",), ("separate",)),
    Case("empty-table", lambda t: pd.DataFrame({"id": [], "source": []}), humekit.TableError, ("empty",),
         ("Check the filter",)),
    Case("reserved-column", lambda t: two(GOOD).assign(source_problem=None), humekit.TableError,
         ("source_problem",), ("rename",)),
    Case("id-named-like-an-output-column", lambda t: (two(GOOD).rename(columns={"id": "model"}), {"id_col": "model"}),
         humekit.TableError, ("'model'", "predictions"), ("Rename that column", "id_col='model_id'")),
    Case("id-column-twice", lambda t: pd.DataFrame([[1, 2, GOOD]], columns=["id", "id", "source"]),
         humekit.TableError, ("'id'",), ("rename or drop",)),
    Case("source-column-twice", lambda t: pd.DataFrame([[1, GOOD, GOOD]], columns=["id", "source", "source"]),
         humekit.TableError, ("'source'",), ("rename or drop",)),
    Case("duplicate-ids", lambda t: pd.DataFrame({"id": ["dup", "dup", "x"], "source": [GOOD, "Two.", "Three."]}),
         humekit.DuplicateIdError, ("'id'", "'dup'"), ("de-duplicate",)),
    Case("duplicate-ids-int-and-float", lambda t: pd.DataFrame({"id": pd.Series([1, 1.0], dtype="object"),
                                                                "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "1"), ("de-duplicate",)),
    Case("null-id-none", lambda t: pd.DataFrame({"id": ["a", None], "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "at row 1."), ("fill them in or drop",)),
    Case("null-id-nan", lambda t: pd.DataFrame({"id": [1.0, float("nan")], "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "at row 1."), ("fill them in or drop",)),
    Case("null-id-pd-na", lambda t: pd.DataFrame({"id": pd.array(["a", pd.NA], dtype="string"),
                                                  "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "at row 1."), ("fill them in or drop",)),
    Case("unhashable-id-list", lambda t: pd.DataFrame({"id": pd.Series([["a"], "b"], dtype="object"),
                                                       "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "['a']"), ("use strings or numbers",)),
    Case("unhashable-id-dict", lambda t: pd.DataFrame({"id": pd.Series([{"k": 1}, "b"], dtype="object"),
                                                       "source": [GOOD, "Two."]}),
         humekit.DuplicateIdError, ("'id'", "{'k': 1}"), ("use strings or numbers",)),
    # -- the call's arguments ---------------------------------------------------------------------
    Case("unknown-model", lambda t: (two("Fine."), {"models": ["prosdy"]}), humekit.ConfigurationError,
         ("prosdy",), ("choose from",)),
    Case("no-models", lambda t: (two("Fine."), {"models": []}), humekit.ConfigurationError, ("[]",),
         ("choose from",)),
    Case("bad-kind", lambda t: (two("Fine."), {"kind": "audio"}), humekit.TableError, ("kind='audio'",),
         ("one of",)),
    Case("bad-errors-option", lambda t: (two("Fine."), {"errors": "ignore"}), humekit.TableError,
         ("errors='ignore'",), ("one of",)),
    # -- sources: missing, empty, unreadable, not files ---------------------------------------------
    Case("missing-file", lambda t: two(str(t / "nowhere" / "take1.wav")), humekit.InvalidRowsError,
         (*ROW, "take1.wav"), ("check the path", *FIX_ROWS)),
    Case("missing-relative-file", lambda t: (two("sessions/missing.wav"), {"root": str(t)}),
         humekit.InvalidRowsError, (*ROW, "missing.wav"), ("root=", *FIX_ROWS)),
    Case("missing-path-with-whitespace", lambda t: (two("sessions/missing.wav \n"), {"root": str(t)}),
         humekit.InvalidRowsError, (*ROW, "missing.wav", "whitespace around it"), ("root=", *FIX_ROWS)),
    Case("empty-string", lambda t: two(""), humekit.InvalidRowsError, ROW, ("give a file path", *FIX_ROWS)),
    Case("whitespace-only", lambda t: two("  \t "), humekit.InvalidRowsError, ROW, ("give a file path",)),
    Case("none-source", lambda t: two(None), humekit.InvalidRowsError, ROW, ("give a file path",)),
    Case("nan-source", lambda t: two(float("nan")), humekit.InvalidRowsError, ROW, ("give a file path",)),
    Case("number-source", lambda t: two(42), humekit.InvalidRowsError, (*ROW, "int"), ("not a path, URL or text",)),
    Case("bytes-source", lambda t: two(b"RIFF...."), humekit.InvalidRowsError, (*ROW, "bytes"),
         ("not a path, URL or text",)),
    Case("directory", lambda t: two(str(t)), humekit.InvalidRowsError, ROW, ("point at a file in it",)),
    Case("empty-file", written("empty.wav", b""), humekit.InvalidRowsError, (*ROW, "empty.wav"),
         ("re-export or drop",)),
    Case("named-pipe", fifo, humekit.InvalidRowsError, (*ROW, "pipe.wav"), ("point at a regular file",)),
    Case("unreadable-file", lambda t: two(str(wav(t / "locked.wav"))), humekit.InvalidRowsError,
         (*ROW, "locked.wav"), ("check its permissions",)),
    Case("broken-symlink", lambda t: symlink(t, "gone.wav"), humekit.InvalidRowsError, (*ROW, "link.wav"),
         ("check the path",)),
    Case("symlink-loop", loop, humekit.InvalidRowsError, (*ROW, "a.wav"), ("check the path",)),
    Case("path-too-long", lambda t: (two("/" + "x" * 5000 + ".wav", good=str(wav(t / "g.wav"))), {"kind": "file"}), humekit.InvalidRowsError,
         ROW, ("cannot be a file path", "corrupted paths")),
    Case("path-with-nul-byte", lambda t: (two(str(t / "a\x00b.wav"), good=str(wav(t / "g.wav"))), {"kind": "file"}), humekit.InvalidRowsError,
         ROW, ("check the path",)),
    Case("text-given-as-file", lambda t: (two("Hello there", good=str(wav(t / "g.wav"))), {"kind": "file"}), humekit.InvalidRowsError, ROW,
         ("check the path",)),
    # -- unsupported and mislabelled media ---------------------------------------------------------
    Case("random-bytes", written("noise.bin", os.urandom(4096)), humekit.InvalidRowsError, (*ROW, "noise.bin"),
         ("convert it to WAV",)),
    Case("pdf-named-wav", written("paper.wav", b"%PDF-1.7\n" + b"0" * 2048), humekit.InvalidRowsError,
         (*ROW, "paper.wav"), ("convert it to WAV",)),
    Case("png-named-wav", written("photo.wav", PNG_BYTES), humekit.InvalidRowsError, (*ROW, "photo.wav"),
         ("mislabelled", "rename it")),
    Case("wav-named-jpg", written("voice.jpg", WAV_BYTES), humekit.InvalidRowsError, (*ROW, "voice.jpg"),
         ("mislabelled", "rename it")),
    Case("image-for-language-only", lambda t: (two(str(png(t / "face.png"))), {"models": ["language"]}),
         humekit.InvalidRowsError, (*ROW, "image"), ("request one of",)),
    Case("text-for-prosody-only", lambda t: (two("Words.", good=str(wav(t / "v.wav"))), {"models": ["prosody"]}),
         humekit.InvalidRowsError, (*ROW, "text"), ("request one of",)),
    Case("audio-for-face-only", lambda t: (two(str(wav(t / "v.wav")), good=str(png(t / "f.png"))),
                                           {"models": ["face"]}),
         humekit.InvalidRowsError, (*ROW, "audio"), ("request one of",)),
    # -- limits (small Limits so the files stay small) ---------------------------------------------
    Case("over-size-upload", lambda t: (two(str(wav(t / "big.wav", 2.0))),
                                        {"limits": replace(DEFAULT_LIMITS, max_upload_bytes=10_000)}),
         humekit.InvalidRowsError, (*ROW, "big.wav"), ("host it", "URL")),
    Case("over-length-audio", lambda t: (two(str(wav(t / "long.wav", 3.0))),
                                         {"limits": replace(DEFAULT_LIMITS, max_media_seconds=1.0)}),
         humekit.InvalidRowsError, (*ROW, "long.wav"), ("split it",)),
    Case("over-length-text", lambda t: (two("word " * 100), {"limits": replace(DEFAULT_LIMITS, max_text_bytes=100)}),
         humekit.InvalidRowsError, ROW, ("split it into several rows",)),
    Case("huge-text", lambda t: (two("x" * 5_000_000 + " end"),
                                 {"limits": replace(DEFAULT_LIMITS, max_text_bytes=1_000_000)}),
         humekit.InvalidRowsError, (*ROW, "5,000,004 bytes"), ("split it into several rows",)),
    # -- URLs ---------------------------------------------------------------------------------------
    Case("ftp-url", lambda t: two("ftp://example.org/a.wav"), humekit.InvalidRowsError, (*ROW, "'ftp'"),
         ("host it over https",)),
    Case("file-url", lambda t: two("file:///etc/passwd"), humekit.InvalidRowsError, (*ROW, "'file'"),
         ("upload the file",)),
    Case("javascript-url", lambda t: (two("javascript:alert(1)", good="https://example.org/a.wav"),
                                      {"kind": "url"}),
         humekit.InvalidRowsError, (*ROW, "'javascript'"), ("host it over https",)),
    Case("url-without-host", lambda t: two("https://"), humekit.InvalidRowsError, (*ROW, "no host"),
         ("truncated URLs",)),
    Case("path-given-as-url", lambda t: (two("/data/a.wav", good="https://example.org/a.wav"), {"kind": "url"}),
         humekit.InvalidRowsError, ROW, ("upload the file",)),
    # -- several problems at once --------------------------------------------------------------------
    Case("thirteen-bad-rows", lambda t: pd.DataFrame({"id": ["good-row"] + [f"bad-{i:02d}" for i in range(13)],
                                                      "source": [GOOD] + [str(t / f"m{i}.wav") for i in range(13)]}),
         humekit.InvalidRowsError, ("13 of 14 rows", "'bad-00'", "3 more"), FIX_ROWS),
    Case("mixed-kinds-one-bad", lambda t: pd.DataFrame({
        "id": ["good-row", "wav-row", "png-row", "url-row", BAD_ID],
        "source": [GOOD, str(wav(t / "ok.wav")), str(png(t / "ok.png")), "https://example.org/x.mp4",
                   "sftp://example.org/x.wav"]}), humekit.InvalidRowsError, (*ROW, "'sftp'"), FIX_ROWS),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_refused_before_any_request(case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The bad input raises the expected HumekitError naming the row/column and the fix; zero requests reach the API."""
    if case.name == "unreadable-file":
        if os.geteuid() == 0:  # root reads anything: make the probe fail as an unreadable file would
            def denied(path: Any, **kwargs: Any) -> Any:
                raise PermissionError(13, "Permission denied", str(path))
            monkeypatch.setattr("humekit.pipeline.sources.probe", denied)
        else:
            wav(tmp_path / "locked.wav").chmod(0)
    built = case.build(tmp_path)
    table, overrides = built if isinstance(built, tuple) else (built, {})
    emu = Emulator(api_key="k")
    ledger = tmp_path / "ledger.sqlite"
    kwargs = {"id_col": "id", "source_col": "source", "models": ["prosody", "language", "face"],
              "client": emu.client(), "ledger": ledger, "progress": False, **overrides}
    with pytest.raises(humekit.HumekitError) as caught:
        humekit.measure(table, **kwargs)
    message = str(caught.value)
    assert isinstance(caught.value, case.error), (type(caught.value), message)
    for needle in case.names + case.fix:
        assert needle in message, (needle, message)
    if case.error is humekit.InvalidRowsError:
        assert "'good-row'" not in message, message
    assert emu.requests == []
    assert not ledger.exists()  # nothing written either


def test_corpus_size() -> None:
    """The corpus holds at least 40 distinct malformed inputs."""
    names = [c.name for c in CASES]
    assert len(set(names)) == len(names) >= 40
    by_error: dict[str, int] = {}
    for case in CASES:
        by_error[case.error.__name__] = by_error.get(case.error.__name__, 0) + 1
    record("bad-inputs", cases=len(CASES), by_error=by_error, names=names)
