"""Tests for humekit.validate: every bad table fails early with a precise error; good tables are described."""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import humekit
from humekit.errors import (
    DuplicateIdError,
    HumekitError,
    InvalidRowsError,
    MissingColumnError,
    TableError,
)
from humekit.backends.v0.limits import DEFAULT_LIMITS
from humekit.pipeline.measure import measure
from humekit.testing.synthetic import make_image, make_mp3, make_mp4, make_wav, make_zip
from humekit.pipeline.validation import ADDED_COLUMNS, validate

GOOD_URL = "https://example.org/ok.wav"
BAD_INDEX = 7  # the bad row's index label in two-row tables (a non-default label, so messages must name it)
PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<<>>\n%%EOF\n"


def wav(path: Path, duration: float = 1.0) -> Path:
    """A small 8 kHz WAV of ``duration`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make_wav(path, segments=[(0.1, max(0.2, duration - 0.1))], duration=duration, sample_rate=8000)
    return path


def png(path: Path) -> Path:
    """A tiny face image."""
    path.parent.mkdir(parents=True, exist_ok=True)
    make_image(path, width=32, height=40)
    return path


def one_bad(source: Any, row_id: Any = "bad-1") -> pd.DataFrame:
    """A good URL row and one bad row at index label BAD_INDEX."""
    return pd.DataFrame({"id": ["ok", row_id], "src": [GOOD_URL, source]}, index=[0, BAD_INDEX])


def ids_table(ids: list[Any], index: list[Any] | None = None) -> pd.DataFrame:
    """A table of the given IDs with valid URL sources."""
    return pd.DataFrame({"id": pd.Series(ids, dtype="object", index=index),
                         "src": pd.Series([f"https://example.org/{n}.wav" for n in range(len(ids))], index=index)})


@dataclasses.dataclass(frozen=True)
class Case:
    """One bad table: how to build it, the call's options, the error and what its message must say."""

    name: str
    build: Callable[[Path], Any]
    error: type[HumekitError]
    says: tuple[str, ...]
    options: dict[str, Any] = dataclasses.field(default_factory=dict)
    id_col: str = "id"
    source_col: str = "src"
    bad_row: bool = False
    r"""An InvalidRowsError case: the message must name row 1 (ID 'bad-1'), not its index label BAD_INDEX."""


def _bad_file(name: str, data: bytes) -> Callable[[Path], pd.DataFrame]:
    def build(tmp: Path) -> pd.DataFrame:
        path = tmp / name
        path.write_bytes(data)
        return one_bad(str(path))
    return build


SMALL_UPLOADS = dataclasses.replace(DEFAULT_LIMITS, max_upload_bytes=1_000)
SHORT_MEDIA = dataclasses.replace(DEFAULT_LIMITS, max_media_seconds=0.5)
SMALL_TEXTS = dataclasses.replace(DEFAULT_LIMITS, max_text_bytes=16)

CASES = [
    # -- the table itself ----------------------------------------------------------------
    Case("not-a-dataframe", lambda tmp: [{"id": 1, "src": GOOD_URL}], TableError, ("got list", "pandas.DataFrame")),
    Case("a-dict", lambda tmp: {"id": [1], "src": [GOOD_URL]}, TableError, ("got dict", "pandas.DataFrame")),
    Case("empty-table", lambda tmp: pd.DataFrame({"id": [], "src": []}), TableError,
         ("empty", "Check the filter")),
    Case("missing-id-column", lambda tmp: pd.DataFrame({"name": ["a"], "src": [GOOD_URL]}), MissingColumnError,
         ("id_col='id'", "['name', 'src']", "Pass id_col=")),
    Case("missing-source-column", lambda tmp: pd.DataFrame({"id": ["a"], "path": [GOOD_URL], "x": [1]}),
         MissingColumnError, ("source_col='src'", "['id', 'path', 'x']", "Pass source_col=")),
    Case("id-is-the-index", lambda tmp: pd.DataFrame({"src": [GOOD_URL]}, index=pd.Index(["a"], name="id")),
         MissingColumnError, ("id_col='id'", "reset_index()")),
    Case("id-col-equals-source-col", lambda tmp: pd.DataFrame({"src": [GOOD_URL]}), TableError,
         ("both 'src'", "separate, stable column"), id_col="src"),
    Case("repeated-column-name",
         lambda tmp: pd.DataFrame([["a", "b", GOOD_URL]], columns=["id", "id", "src"]), TableError,
         ("2 columns named 'id'", "rename or drop")),
    Case("clashes-with-added-column",
         lambda tmp: pd.DataFrame({"id": ["a"], "src": [GOOD_URL], "source_problem": [None]}), TableError,
         ("['source_problem']", "rename them")),
    Case("id-column-named-like-an-added-column",
         lambda tmp: pd.DataFrame({"source_kind": ["a", "b"], "src": [GOOD_URL, GOOD_URL + "?2"]}), TableError,
         ("['source_kind']", "rename them"), id_col="source_kind"),
    Case("errors-not-raise-or-mark", lambda tmp: ids_table(["a"]), TableError, ("errors='ignore'", "'raise', 'mark'"),
         options={"errors": "ignore"}),
    Case("unknown-kind", lambda tmp: ids_table(["a"]), TableError, ("kind='audio'", "'auto', 'file', 'url', 'text'"),
         options={"kind": "audio"}),
    Case("unknown-model", lambda tmp: ids_table(["a"]), TableError, ("['emotion']", "prosody"),
         options={"models": ["emotion", "prosody"]}),
    # -- IDs -------------------------------------------------------------------------------
    Case("duplicate-string-ids", lambda tmp: ids_table(["a", "b", "a"]), DuplicateIdError,
         ("Column 'id'", "'a'", "2 rows", "de-duplicate")),
    Case("duplicate-int-ids", lambda tmp: ids_table([1, 2, 2]), DuplicateIdError, ("Column 'id'", "2", "de-duplicate")),
    Case("numpy-int-equals-python-int", lambda tmp: ids_table([np.int64(3), 3, 4]), DuplicateIdError,
         ("1 duplicated ID", "3", "de-duplicate")),
    Case("int-equals-float", lambda tmp: ids_table([5, 5.0, 6]), DuplicateIdError, ("1 duplicated ID", "de-duplicate")),
    Case("duplicates-with-repeated-index-labels", lambda tmp: ids_table(["a", "b", "b"], index=[0, 0, 1]),
         DuplicateIdError, ("1 duplicated ID(s) on 2 rows: 'b' at rows 1, 2", "de-duplicate")),
    Case("null-id-none", lambda tmp: ids_table(["a", None], index=[0, BAD_INDEX]), DuplicateIdError,
         ("null ID", "at row 1.", "fill them in or drop")),
    Case("null-id-nan", lambda tmp: ids_table([1.0, float("nan")], index=[0, BAD_INDEX]), DuplicateIdError,
         ("null ID", "at row 1.", "fill them in")),
    Case("null-id-pd-na", lambda tmp: ids_table(["a", pd.NA], index=[0, BAD_INDEX]), DuplicateIdError,
         ("null ID", "at row 1.", "fill them in")),
    Case("null-id-numpy-float32-nan", lambda tmp: ids_table([np.float32("nan"), 1], index=[BAD_INDEX, 0]),
         DuplicateIdError, ("null ID", "at row 0.", "fill them in")),
    Case("unhashable-ids", lambda tmp: ids_table(["a", ["b", "c"]], index=[0, BAD_INDEX]), DuplicateIdError,
         ("unhashable", "['b', 'c'] at row 1", "use strings or numbers")),
    # -- sources ---------------------------------------------------------------------------
    Case("empty-source", lambda tmp: one_bad(""), InvalidRowsError, ("the source is empty", "give a file path"),
         bad_row=True),
    Case("blank-source", lambda tmp: one_bad("   \t"), InvalidRowsError, ("the source is empty",), bad_row=True),
    Case("null-source", lambda tmp: one_bad(None), InvalidRowsError, ("the source is empty",), bad_row=True),
    Case("numeric-source", lambda tmp: one_bad(42), InvalidRowsError, ("(42)", "not a path, URL or text"),
         bad_row=True),
    Case("missing-file", lambda tmp: one_bad(str(tmp / "nowhere" / "take1.wav")), InvalidRowsError,
         ("file not found", "take1.wav", "check the path"), bad_row=True),
    Case("relative-path-missing-under-root", lambda tmp: one_bad("rec/missing.wav"), InvalidRowsError,
         ("file not found", "root=", "rec/missing.wav"), options={"root": "__TMP__"}, bad_row=True),
    Case("a-directory", lambda tmp: (tmp / "folder.wav").mkdir() or one_bad(str(tmp / "folder.wav")),
         InvalidRowsError, ("is a directory", "point at a file"), bad_row=True),
    Case("empty-file", _bad_file("silent.wav", b""), InvalidRowsError, ("is empty (0 bytes)", "re-export or drop"),
         bad_row=True),
    Case("pdf-content", _bad_file("paper.pdf", PDF), InvalidRowsError,
         ("paper.pdf is not a media type", "convert it to WAV"), bad_row=True),
    Case("random-binary", _bad_file("blob.bin", np.random.default_rng(0).bytes(4096)), InvalidRowsError,
         ("blob.bin is not a media type", "convert it"), bad_row=True),
    Case("png-named-wav", lambda tmp: one_bad(str(png(tmp / "img.png").rename(tmp / "voice.wav"))),
         InvalidRowsError, ("voice.wav is mislabelled", "image/png", "rename it"), bad_row=True),
    Case("random-bytes-named-wav", _bad_file("noise.wav", np.random.default_rng(1).bytes(4096)), InvalidRowsError,
         ("noise.wav is named like audio", "not a readable audio file", "re-export"), bad_row=True),
    Case("text-named-mp3", _bad_file("talk.mp3", b"just some words, not audio\n" * 20), InvalidRowsError,
         ("talk.mp3 is named like audio", "plain text", "fix the path"), bad_row=True),
    Case("over-size-upload", lambda tmp: one_bad(str(wav(tmp / "big.wav"))), InvalidRowsError,
         ("big.wav is 16,044 bytes", "1,000 bytes limit", "https URL"), options={"limits": SMALL_UPLOADS},
         bad_row=True),
    Case("over-length-audio", lambda tmp: one_bad(str(wav(tmp / "long.wav", duration=1.0))), InvalidRowsError,
         ("long.wav lasts 1.00 s", "0.50 s limit", "split it"), options={"limits": SHORT_MEDIA}, bad_row=True),
    Case("ftp-url", lambda tmp: one_bad("ftp://example.org/a.wav"), InvalidRowsError,
         ("scheme 'ftp'", "https"), bad_row=True),
    Case("file-url", lambda tmp: one_bad("file:///tmp/a.wav"), InvalidRowsError,
         ("scheme 'file'", "upload the file"), bad_row=True),
    Case("url-without-host", lambda tmp: one_bad("https:///clips/a.wav"), InvalidRowsError,
         ("has no host", "truncated URLs"), bad_row=True),
    Case("huge-text", lambda tmp: one_bad("This sentence is much longer than sixteen bytes."), InvalidRowsError,
         ("16-byte limit", "split it into several rows"), options={"limits": SMALL_TEXTS}, bad_row=True),
    Case("text-with-face-only", lambda tmp: one_bad("I am so happy to see you again."), InvalidRowsError,
         ("measures text", "['language', 'ner']"), options={"models": ["face"]}, bad_row=True),
    Case("image-with-prosody-only", lambda tmp: one_bad(str(png(tmp / "face.png"))), InvalidRowsError,
         ("measures image", "['face', 'facemesh']"), options={"models": ["prosody"]}, bad_row=True),
]


def _call(case: Case, tmp_path: Path) -> tuple[Any, dict[str, Any]]:
    table = case.build(tmp_path)
    options = {k: (str(tmp_path) if v == "__TMP__" else v) for k, v in case.options.items()}
    return table, options


def test_at_least_25_distinct_bad_tables():
    """The bad-table catalogue covers at least 25 distinct cases with unique names."""
    assert len({c.name for c in CASES}) == len(CASES) >= 25


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_table_raises_a_precise_error(case: Case, tmp_path: Path):
    """Each bad table raises its specific HumekitError subclass naming the row/column and the fix."""
    table, options = _call(case, tmp_path)
    with pytest.raises(case.error) as info:
        humekit.validate(table, id_col=case.id_col, source_col=case.source_col, **options)
    assert type(info.value) is case.error  # the specific subclass, not only a parent
    message = str(info.value)
    for needle in case.says:
        assert needle in message, f"{needle!r} not in {message!r}"
    if case.bad_row:
        assert "row 1 (ID 'bad-1')" in message  # the position (the index label is 7), with the ID
        assert "errors='mark'" in message
        assert info.value.rows == [1]
        assert "'ok'" not in message  # the good row is not blamed


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_bad_table_fails_measure_before_any_request(case: Case, tmp_path: Path, emulator):
    """measure() on each bad table raises a HumekitError before sending a single request."""
    table, options = _call(case, tmp_path)
    options.setdefault("models", ["prosody", "face", "language"])
    with pytest.raises(HumekitError):
        measure(table, id_col=case.id_col, source_col=case.source_col, client=emulator.client(),
                ledger=tmp_path / "ledger.sqlite", progress=False, **options)
    assert emulator.requests == []
    assert emulator.jobs == []


def test_unreadable_file_is_reported(tmp_path: Path):
    """A file without read permission is an InvalidRowsError naming the row and suggesting its permissions."""
    path = wav(tmp_path / "locked.wav")
    path.chmod(0)
    try:
        if os.access(path, os.R_OK):
            pytest.skip("running as root (or with CAP_DAC_OVERRIDE): chmod 000 does not stop reading")
        with pytest.raises(InvalidRowsError, match=r"row 1 \(ID 'bad-1'\).*cannot read .*permissions"):
            humekit.validate(one_bad(str(path)), id_col="id", source_col="src")
    finally:
        path.chmod(0o644)


def test_missing_column_error_carries_the_column():
    """MissingColumnError and clash errors expose the offending column as .column."""
    with pytest.raises(MissingColumnError) as info:
        humekit.validate(pd.DataFrame({"id": ["a"]}), id_col="id", source_col="path")
    assert info.value.column == "path"
    with pytest.raises(TableError) as clash:
        humekit.validate(pd.DataFrame({"id": ["a"], "src": [GOOD_URL], "source_kind": ["x"]}), id_col="id",
                         source_col="src")
    assert clash.value.column == "source_kind"


def test_duplicate_error_lists_every_duplicated_row_position():
    """DuplicateIdError names each duplicated ID with its rows' positions (not index labels); .rows holds them all."""
    table = ids_table(["a", "b", "a", "c", "b"], index=list("vwxyz"))
    with pytest.raises(DuplicateIdError) as info:
        humekit.validate(table, id_col="id", source_col="src")
    assert info.value.rows == [0, 1, 2, 4]
    assert "2 duplicated ID(s) on 4 rows: 'a' at rows 0, 2; 'b' at rows 1, 4." in str(info.value)


def test_many_duplicated_ids_show_the_first_few_and_count_the_rest():
    """Eight duplicated IDs: the first five with their rows, then how many more."""
    table = ids_table([f"p{i // 3}" for i in range(24)])
    with pytest.raises(DuplicateIdError) as info:
        humekit.validate(table, id_col="id", source_col="src")
    message = str(info.value)
    assert "8 duplicated ID(s) on 24 rows: 'p0' at rows 0, 1, 2; 'p1' at rows 3, 4, 5;" in message
    assert "'p4' at rows 12, 13, 14; … 3 more." in message and "'p5'" not in message


def test_many_bad_rows_are_summarised():
    """With more bad rows than shown, the message lists the first ten and counts the rest."""
    table = pd.DataFrame({"id": [f"r{i}" for i in range(25)], "src": ["ftp://x.org/a.wav"] * 25})
    with pytest.raises(InvalidRowsError) as info:
        humekit.validate(table, id_col="id", source_col="src")
    message = str(info.value)
    assert message.startswith("25 of 25 rows cannot be measured")
    assert "row 9 (ID 'r9')" in message and "row 10 " not in message
    assert "… and 15 more" in message
    assert len(info.value.rows) == 25


# -- good tables ---------------------------------------------------------------------------------

def test_mixed_table_kinds_detected_per_row(tmp_path: Path):
    """kind='auto' tells files, URLs and texts apart row by row and describes each file."""
    audio = wav(tmp_path / "a" / "take1.wav", duration=1.5)
    image = png(tmp_path / "face.png")
    table = pd.DataFrame({
        "id": ["aud", "img", "url", "txt", "txt2"],
        "src": [str(audio), str(image), "https://example.org/clip.mp4", "I can't believe it worked!",
                "yes/no questions are hard"],
    })
    out = humekit.validate(table, id_col="id", source_col="src")
    assert out["source_kind"].tolist() == ["file", "file", "url", "text", "text"]
    assert out["source_media_type"].tolist() == ["audio/wav", "image/png", None, "text/plain", "text/plain"]
    assert out["source_path"].tolist()[:2] == [str(audio), str(image)]
    assert out.loc[0, "source_bytes"] == audio.stat().st_size
    assert out.loc[1, "source_bytes"] == image.stat().st_size
    assert out.loc[3, "source_bytes"] == len(b"I can't believe it worked!")
    assert out.loc[0, "source_duration"] == pytest.approx(1.5)
    assert out["source_problem"].isna().all()
    assert list(out.columns) == ["id", "src", *ADDED_COLUMNS]


@pytest.mark.parametrize("duration", [0.25, 1.0, 2.75])
def test_wav_durations_are_read(tmp_path: Path, duration: float):
    """The duration of a WAV from make_wav is read from its header to the sample."""
    path = wav(tmp_path / "x.wav", duration=duration)
    out = humekit.validate(pd.DataFrame({"id": [1], "src": [str(path)]}), id_col="id", source_col="src")
    assert out.loc[0, "source_duration"] == pytest.approx(duration, abs=1e-3)


def test_media_types_of_other_containers(tmp_path: Path):
    """MP3, MP4 and ZIP files get their media types (and durations where the container says)."""
    make_mp3(tmp_path / "s.mp3", duration=2.0)
    make_mp4(tmp_path / "v.mp4", duration=3.0, width=64, height=48)
    make_zip(tmp_path / "z.zip", {"a.wav": make_wav(duration=0.5, segments=[(0.1, 0.3)], sample_rate=8000)})
    table = pd.DataFrame({"id": ["mp3", "mp4", "zip"], "src": [str(tmp_path / n) for n in ("s.mp3", "v.mp4", "z.zip")]})
    out = humekit.validate(table, id_col="id", source_col="src").set_index("id")
    assert out["source_media_type"].to_dict() == {"mp3": "audio/mpeg", "mp4": "video/mp4", "zip": "application/zip"}
    assert out.loc["mp3", "source_duration"] == pytest.approx(2.0, abs=0.05)
    assert out.loc["mp4", "source_duration"] == pytest.approx(3.0)
    assert pd.isna(out.loc["zip", "source_duration"])


def test_relative_paths_resolve_against_root(tmp_path: Path):
    """A relative path is found under root= and reported with its resolved path."""
    wav(tmp_path / "sessions" / "take1.wav")
    table = pd.DataFrame({"id": ["a"], "src": ["sessions/take1.wav"]})
    out = humekit.validate(table, id_col="id", source_col="src", root=tmp_path)
    assert out.loc[0, "source_kind"] == "file"
    assert out.loc[0, "source_path"] == str(tmp_path / "sessions" / "take1.wav")


def test_path_objects_are_accepted(tmp_path: Path):
    """A pathlib.Path source is treated like its string."""
    path = wav(tmp_path / "p.wav")
    out = humekit.validate(pd.DataFrame({"id": ["a"], "src": [path]}), id_col="id", source_col="src")
    assert out.loc[0, "source_path"] == str(path) and out.loc[0, "source_problem"] is None


def test_kind_text_forces_text(tmp_path: Path):
    """kind='text' treats path-like strings as texts."""
    table = pd.DataFrame({"id": [1, 2], "src": ["data/rec1", "notes.txt"]})
    out = humekit.validate(table, id_col="id", source_col="src", kind="text")
    assert out["source_kind"].tolist() == ["text", "text"]
    assert out["source_problem"].isna().all()


def test_mark_keeps_every_row_with_its_problem(tmp_path: Path):
    """errors='mark' returns every row, in order and with its index, with source_problem set only on bad rows."""
    good = wav(tmp_path / "good.wav")
    table = pd.DataFrame(
        {"id": ["g", "missing", "ftp", "empty", "txt"],
         "src": [str(good), str(tmp_path / "no.wav"), "ftp://x.org/a.wav", "", "Fine text."]},
        index=[10, 20, 30, 40, 50],
    )
    out = humekit.validate(table, id_col="id", source_col="src", errors="mark")
    assert out.index.tolist() == [10, 20, 30, 40, 50]
    assert out["id"].tolist() == table["id"].tolist()
    problems = out.set_index("id")["source_problem"]
    assert problems[["g", "txt"]].isna().all()
    assert "file not found" in problems["missing"]
    assert "scheme 'ftp'" in problems["ftp"]
    assert "empty" in problems["empty"]
    pd.testing.assert_frame_equal(out[["id", "src"]], table)  # the original columns are untouched


def test_mark_still_raises_for_table_level_problems():
    """errors='mark' does not hide table-level problems such as duplicated IDs."""
    with pytest.raises(DuplicateIdError):
        humekit.validate(ids_table(["a", "a"]), id_col="id", source_col="src", errors="mark")


@pytest.mark.parametrize("ids", [
    ["rec 00001", "zoë/00002", "R00003#", "日本語 4"],
    [1, 2, 3, 4],
    [np.int64(1), np.int64(2), 3, 4.5],
    [("s1", 1), ("s1", 2), ("s2", 1), ("s2", 2)],
], ids=["spaces-unicode", "ints", "numpy-mixed", "tuples"])
def test_awkward_but_valid_ids_work(ids: list[Any]):
    """IDs with spaces, unicode, ints, numpy scalars or tuples are accepted and kept as they are."""
    out = humekit.validate(ids_table(ids), id_col="id", source_col="src")
    assert out["id"].tolist() == ids
    assert out["source_problem"].isna().all()


def test_index_labels_preserved():
    """A non-default index (string labels, repeated labels) comes back unchanged, rows in order."""
    table = pd.DataFrame({"id": ["a", "b", "c"], "src": ["one text.", "two text.", "three text."]},
                         index=pd.Index(["x", "x", "y"], name="label"))
    out = humekit.validate(table, id_col="id", source_col="src", kind="text")
    assert out.index.equals(table.index)
    assert out["id"].tolist() == ["a", "b", "c"]
    assert out["source_bytes"].tolist() == [9, 9, 11]


def test_repeated_labels_with_marked_problems():
    """Repeated index labels with errors='mark' keep each row's own problem (positions, not labels)."""
    table = pd.DataFrame({"id": ["a", "b", "c"], "src": ["ok text", "ftp://x/a.wav", "https://x.org/a.wav"]},
                         index=[0, 0, 0])
    out = humekit.validate(table, id_col="id", source_col="src", errors="mark")
    assert out["source_problem"].isna().tolist() == [True, False, True]
    assert out["source_kind"].tolist() == ["text", "url", "url"]


def test_validate_does_not_modify_the_input():
    """validate returns a copy; the caller's table keeps its columns."""
    table = ids_table(["a", "b"])
    before = table.copy()
    humekit.validate(table, id_col="id", source_col="src")
    pd.testing.assert_frame_equal(table, before)


def test_models_as_mapping_are_checked(tmp_path: Path):
    """models given as a mapping are checked the same way as a list."""
    table = pd.DataFrame({"id": ["t"], "src": ["Hello there, friend."]})
    out = humekit.validate(table, id_col="id", source_col="src", models={"language": {"granularity": "word"}})
    assert out.loc[0, "source_problem"] is None
    with pytest.raises(InvalidRowsError, match=re.escape("none of the requested models (['prosody'])")):
        humekit.validate(table, id_col="id", source_col="src", models={"prosody": {}})


def test_read_error_is_reported_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """An OSError while reading a file (as chmod 000 gives non-root users) becomes a row problem about permissions."""
    path = wav(tmp_path / "locked.wav")

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("humekit.pipeline.sources.probe", refuse)
    with pytest.raises(InvalidRowsError) as info:
        humekit.validate(one_bad(str(path)), id_col="id", source_col="src")
    message = str(info.value)
    assert "row 1 (ID 'bad-1')" in message
    assert "cannot read" in message and "Permission denied" in message and "check its permissions" in message


def test_texts_guessed_as_paths_get_a_kind_hint(tmp_path):
    """Short texts that look like paths ("TODO.txt", "either/or") fail as missing files, with a hint to pass kind='text'."""
    table = pd.DataFrame({"id": [1, 2], "source": ["TODO.wav", "either/or"]})
    with pytest.raises(InvalidRowsError, match="pass kind='text'"):
        validate(table, id_col="id", source_col="source", root=tmp_path)
    checked = validate(table, id_col="id", source_col="source", kind="text", root=tmp_path)
    assert checked["source_problem"].isna().all()


# -- a path is never measured as text -------------------------------------------------------------

@pytest.mark.parametrize("spelled", ["media/p02/take1.wav ", " media/p02/take1.wav", "media/p02/take1.wav\n",
                                     "\tmedia/p02/take1.wav\r\n"], ids=["trailing", "leading", "newline", "both"])
def test_a_path_with_whitespace_around_it_is_the_file(tmp_path: Path, spelled: str):
    """A path copied with spaces or a newline around it is the file it names, and source_note says what was removed."""
    audio = wav(tmp_path / "media" / "p02" / "take1.wav")
    table = pd.DataFrame({"id": ["p02"], "src": [spelled]})
    for kind in ("auto", "file"):
        out = validate(table, id_col="id", source_col="src", root=tmp_path, kind=kind)
        assert out.loc[0, "source_kind"] == "file" and out.loc[0, "source_problem"] is None
        assert out.loc[0, "source_path"] == str(audio) and out.loc[0, "source_media_type"] == "audio/wav"
        assert out.loc[0, "source_note"] == f"surrounding whitespace removed from the path {spelled!r}"


@pytest.mark.parametrize("spelled", ["media/p09/take1.wav ", " media/p09/take1.wav", "/data/missing take.wav\n",
                                     "C:\\Users\\me\\take1", "./recordings/take1", "~/rec/x"])
def test_a_missing_path_is_an_invalid_file_with_a_hint_never_a_text(tmp_path: Path, spelled: str):
    """A value shaped like a path that does not exist is marked invalid with where it was looked for, never scored as text."""
    out = validate(pd.DataFrame({"id": ["p09"], "src": [spelled]}), id_col="id", source_col="src", root=tmp_path,
                   errors="mark")
    problem = out.loc[0, "source_problem"]
    assert out.loc[0, "source_kind"] == "file" and problem.startswith("file not found")
    if spelled != spelled.strip():
        assert f"the value {spelled!r} has whitespace around it" in problem
    if not spelled.strip().startswith(("/", "~", "C:")):
        assert f"resolved against the root folder {tmp_path}" in problem


def test_texts_are_texts_because_they_read_as_text(tmp_path: Path):
    """Sentences (with slashes, dots or whitespace around them) are texts; a URL with spaces around it is the URL."""
    texts = ["yes/no questions are hard", "  I can't believe it. ", "He said: and/or, fine.\n", "hello",
             "Ratio 3/4 of the time"]
    out = validate(pd.DataFrame({"id": range(6), "src": [*texts, " https://example.org/a.wav\n"]}), id_col="id",
                   source_col="src", root=tmp_path)
    assert out["source_kind"].tolist() == ["text"] * 5 + ["url"]
    assert out["source_problem"].isna().all() and out["source_note"].tolist()[:5] == [None] * 5
    assert out.loc[5, "source_note"] == "surrounding whitespace removed from the URL"


@pytest.mark.parametrize("name", ["model", "text", "emotion", "status", "score", "begin", "file", "name", "Joy"])
def test_an_id_column_named_like_an_output_column_is_refused_with_the_rename(name: str):
    """id_col='model' (any output column's name) raises TableError naming the output and the rename, before any file is read."""
    table = pd.DataFrame({name: ["a", "b"], "src": ["One text.", "Two texts."]})
    with pytest.raises(TableError, match=rf"id_col={name!r}: .*outputs .*Rename that column \(e.g. to '{re.escape(name)}_id'\)"
                                         rf" and pass id_col='{re.escape(name)}_id'"):
        validate(table, id_col=name, source_col="src")
    assert validate(table.rename(columns={name: f"{name}_id"}), id_col=f"{name}_id", source_col="src")[
        "source_problem"].isna().all()
