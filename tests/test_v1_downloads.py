"""Tests for humekit.backends.v1.downloads and url_rows: URL rows under v1, downloaded from a loopback server."""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

import humekit
from humekit.backends.v1.backend import V1Backend
from humekit.backends.v1.client import V1Client
from humekit.backends.v1.downloads import Downloads
from humekit.cli import main
from humekit.cli.endpoints import DOWNLOADS
from humekit.clock import VirtualClock
from humekit.emulator.v1 import V1Emulator, V1Faults
from humekit.testing.media import make_audio, make_photo, make_video

MODELS = ["audio", "face"]
_PIECE = b"\0" * (64 << 10)


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    failures: int = 0
    r"""503 answers before the body is served."""
    streamed: int = 0
    r"""When set: serve this many bytes with no Content-Length (the server closes the connection at the end)."""
    content_type: str = "application/octet-stream"
    pause: float = 0.0
    r"""Seconds between two pieces of a streamed body (a slow host)."""


@dataclass
class MediaServer:
    """A loopback HTTP server of routes, recording every request's path and headers."""

    url: str = ""
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    written: dict[str, int] = field(default_factory=dict)
    r"""Path -> the bytes of a streamed body written before the client hung up (or all of them)."""

    def serve(self, path: str, **route: object) -> str:
        self.routes[path] = Route(**route)  # type: ignore[arg-type]
        return f"{self.url}{path}"

    def hits(self, path: str) -> int:
        return sum(p == path for p, _ in self.requests)


def _handler(server: MediaServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            server.requests.append((self.path, dict(self.headers.items())))
            route = server.routes.get(self.path)
            if route is None or route.failures:
                if route is not None:
                    route.failures -= 1
                self.send_error(404 if route is None else 503)
                return
            self.send_response(route.status)
            self.send_header("Content-Type", route.content_type)
            if route.streamed:
                self.end_headers()
                self._stream(route.streamed, route.pause)
                return
            self.send_header("Content-Length", str(len(route.body)))
            self.end_headers()
            self.wfile.write(route.body)

        def _stream(self, size: int, pause: float) -> None:
            written = 0
            try:
                while written < size:
                    time.sleep(pause)
                    self.wfile.write(_PIECE)
                    self.wfile.flush()
                    written += len(_PIECE)
            except OSError:  # the client hung up
                pass
            finally:
                server.written[self.path] = written

        def log_message(self, format: str, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def server() -> Iterator[MediaServer]:
    """A media server on 127.0.0.1 (HTTP/1.0: one request per connection), stopped after the test."""
    media = MediaServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(media))
    httpd.daemon_threads = True
    media.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield media
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 12 s WAV, a 3 s MP4 with a face and speech, and a PNG photo."""
    folder = tmp_path_factory.mktemp("media")
    make_photo(folder / "face.png", format="PNG", seed=3)
    return {"wav": make_audio(folder / "talk.wav", duration=12, seed=1),
            "mp4": make_video(folder / "clip.mp4", duration=3, fps=10, seed=2), "png": folder / "face.png"}


def backend(emu: V1Emulator, folder: Path, **options: object) -> V1Backend:
    client = V1Client(api_key=emu.api_key, base_url=emu.url, transport=emu.transport(), clock=VirtualClock())
    return V1Backend(client, download_dir=folder, **options)  # type: ignore[arg-type]


def run(table: pd.DataFrame, emu: V1Emulator, tmp_path: Path, *, ledger: str = "l.sqlite", dry_run: bool = False,
        **options: object) -> humekit.MeasureResult:
    return humekit.measure(table, id_col="id", source_col="src", models=MODELS, ledger=tmp_path / ledger,
                           backend=backend(emu, tmp_path / "downloads", **options), progress=False, errors="mark",
                           dry_run=dry_run)


def urls_table(server: MediaServer, media: dict[str, Path]) -> pd.DataFrame:
    """One URL row per media file, served by ``server`` under its own name."""
    urls = [server.serve(f"/media/{path.name}", body=path.read_bytes()) for path in media.values()]
    return pd.DataFrame({"id": list(media), "src": urls})


def uploads(emu: V1Emulator) -> int:
    return sum(r.method == "POST" for r in emu.requests)


def by_id(result: humekit.MeasureResult) -> pd.DataFrame:
    return result.status.set_index("id")


def test_a_url_row_is_measured_like_its_local_file(server: MediaServer, media: dict[str, Path],
                                                  tmp_path: Path) -> None:
    """A WAV, an MP4 and a PNG given by URL get exactly the predictions their local paths get."""
    files = pd.DataFrame({"id": list(media), "src": [str(p) for p in media.values()]})
    local = run(files, V1Emulator(), tmp_path, ledger="files.sqlite")
    remote = run(urls_table(server, media), V1Emulator(), tmp_path, ledger="urls.sqlite")
    assert set(remote.status["status"]) == {"ok"} and set(local.status["status"]) == {"ok"}
    assert set(remote.predictions["model"]) == {"audio", "face"}
    pd.testing.assert_frame_equal(remote.predictions, local.predictions)
    pd.testing.assert_frame_equal(remote.descriptors, local.descriptors)
    assert len(list((tmp_path / "downloads").iterdir())) == 3  # one file per URL, no partial file left


def test_a_rerun_downloads_nothing_and_sends_nothing(server: MediaServer, media: dict[str, Path],
                                                     tmp_path: Path) -> None:
    """The second identical call makes no request to the download host nor to v1, and gives the same tables."""
    emu, table = V1Emulator(), urls_table(server, media)
    first = run(table, emu, tmp_path)
    fetched, sent = len(server.requests), uploads(emu)
    assert fetched == 3 and sent > 0
    again = run(table, emu, tmp_path)
    assert (len(server.requests), uploads(emu)) == (fetched, sent)
    pd.testing.assert_frame_equal(again.predictions, first.predictions)
    assert set(again.status["status"]) == {"ok"}


def test_a_dry_run_downloads_and_the_run_after_it_only_sends(server: MediaServer, media: dict[str, Path],
                                                             tmp_path: Path) -> None:
    """A dry run downloads (to price the windows) and sends nothing; the real run fetches nothing again and
    sends exactly the units the dry run planned, under the same keys."""
    emu, table = V1Emulator(), urls_table(server, media)
    planned = run(table, emu, tmp_path, dry_run=True)
    assert len(server.requests) == 3 and uploads(emu) == 0
    assert (planned.cost.set_index("id")["requests"] > 0).all()
    done = run(table, emu, tmp_path)
    assert len(server.requests) == 3
    assert sorted(done.ledger.jobs()["job_key"]) == sorted(unit.key for unit in planned.plan.jobs)
    assert set(done.status["status"]) == {"ok"}


def test_a_404_makes_its_row_invalid_and_the_others_go_on(server: MediaServer, media: dict[str, Path],
                                                         tmp_path: Path) -> None:
    """A missing file is asked for once (no retry); its row is invalid naming the URL, the status and what to do."""
    table = pd.concat([urls_table(server, {"wav": media["wav"]}),
                       pd.DataFrame({"id": ["gone"], "src": [f"{server.url}/media/gone.wav"]})])
    result = run(table, V1Emulator(), tmp_path)
    row = by_id(result).loc["gone"]
    assert row["status"] == "invalid" and by_id(result).loc["wav", "status"] == "ok"
    assert f"{server.url}/media/gone.wav" in row["error"] and "404 Not Found" in row["error"]
    assert "local path" in row["error"] and "Traceback" not in row["error"]
    assert server.hits("/media/gone.wav") == 1


def test_a_file_over_the_limit_is_refused_by_its_content_length(server: MediaServer, media: dict[str, Path],
                                                                tmp_path: Path) -> None:
    """max_download_bytes below the file's Content-Length: its row is invalid, nothing is written, the other row ok."""
    big = server.serve("/big.wav", body=media["wav"].read_bytes())
    small = server.serve("/small.png", body=media["png"].read_bytes())
    table = pd.DataFrame({"id": ["big", "small"], "src": [big, small]})
    result = run(table, V1Emulator(), tmp_path, max_download_bytes=media["png"].stat().st_size + 1)
    row = by_id(result).loc["big"]
    assert row["status"] == "invalid" and by_id(result).loc["small", "status"] == "ok"
    assert big in row["error"] and "download limit" in row["error"] and "Content-Length" in row["error"]
    assert "max_download_bytes" in row["error"]
    assert [p.name for p in (tmp_path / "downloads").iterdir()] == [Downloads(tmp_path / "downloads").path(small).name]


def test_the_limit_aborts_a_stream_without_reading_the_whole_body(server: MediaServer, tmp_path: Path) -> None:
    """A body with no Content-Length is cut off once it passes the limit: most of it is never sent, none is kept."""
    total = 256 << 20
    url = server.serve("/endless.wav", streamed=total)
    downloads = Downloads(tmp_path / "downloads", max_bytes=1 << 20)
    with pytest.raises(humekit.DownloadError, match="more than 1,048,576 bytes arrived") as caught:
        downloads.fetch(url)
    assert caught.value.reason == "too_large" and caught.value.url == url
    deadline = time.monotonic() + 30
    while "/endless.wav" not in server.written and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.written["/endless.wav"] < total // 4  # the server stopped long before the end
    assert list((tmp_path / "downloads").iterdir()) == []  # the partial file was removed


@pytest.mark.parametrize(("failures", "outcome"), [(2, "ok"), (9, "invalid")])
def test_a_failing_server_is_retried_with_backoff(server: MediaServer, media: dict[str, Path], tmp_path: Path,
                                                  failures: int, outcome: str) -> None:
    """Two 503s then the file: the row is ok after three requests; 503s that outlast the retries make it invalid."""
    url = server.serve("/flaky.wav", body=media["wav"].read_bytes(), failures=failures)
    result = run(pd.DataFrame({"id": ["flaky"], "src": [url]}), V1Emulator(), tmp_path)
    row = by_id(result).loc["flaky"]
    assert row["status"] == outcome
    assert server.hits("/flaky.wav") == min(failures + 1, 5)  # the first try and at most 4 retries
    if outcome == "invalid":
        assert url in row["error"] and "503" in row["error"] and "5 attempts" in row["error"]
        assert "run the same call again" in row["error"]


def test_a_host_that_refuses_connections_is_reported(tmp_path: Path) -> None:
    """Nothing listening at the URL: after the retries the row is invalid with the cause, never a traceback."""
    with ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler) as closed:
        port = closed.server_address[1]
    url = f"http://127.0.0.1:{port}/a.wav"
    result = run(pd.DataFrame({"id": ["x"], "src": [url]}), V1Emulator(), tmp_path)
    row = by_id(result).loc["x"]
    assert row["status"] == "invalid" and url in row["error"] and "ConnectError" in row["error"]
    assert "5 attempts" in row["error"]


def test_a_body_that_is_not_media_is_invalid_and_not_kept(server: MediaServer, tmp_path: Path) -> None:
    """A sign-in page served with 200: the row is invalid saying what was served; the download is deleted."""
    url = server.serve("/share/abc", body=b"<!doctype html><html><body>Please sign in</body></html>\n" * 20,
                       content_type="text/html")
    result = run(pd.DataFrame({"id": ["page"], "src": [url]}), V1Emulator(), tmp_path)
    row = by_id(result).loc["page"]
    assert row["status"] == "invalid" and url in row["error"]
    assert "did not serve audio, video or an image" in row["error"]
    assert list((tmp_path / "downloads").iterdir()) == []
    run(pd.DataFrame({"id": ["page"], "src": [url]}), V1Emulator(), tmp_path)
    assert server.hits("/share/abc") == 2  # not kept, so fetched again


def test_the_api_key_is_never_sent_to_the_download_host(server: MediaServer, media: dict[str, Path],
                                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No request to the download host carries the Hume key (given or in HUME_API_KEY) or a Hume header."""
    emu = V1Emulator()
    monkeypatch.setenv("HUME_API_KEY", emu.api_key)
    result = run(urls_table(server, media), emu, tmp_path)
    assert set(result.status["status"]) == {"ok"} and len(server.requests) == 3
    for _, headers in server.requests:
        assert not any(emu.api_key in value for value in headers.values())
        assert not any(name.lower().startswith("x-hume") or name.lower() == "authorization" for name in headers)
        assert {name.lower(): value for name, value in headers.items()}["user-agent"] == "humekit"


def test_a_url_row_passes_validation_under_v1(server: MediaServer) -> None:
    """validate(api='v1') takes an http(s) URL as a URL with no problem (what it holds is seen at download)."""
    checked = humekit.validate(pd.DataFrame({"id": ["a"], "src": [f"{server.url}/a.wav"]}), id_col="id",
                               source_col="src", models=MODELS, api="v1")
    assert checked.loc[0, "source_kind"] == "url" and pd.isna(checked.loc[0, "source_problem"])


def test_an_interrupted_run_resumes_a_url_row_whose_download_was_deleted(server: MediaServer, media: dict[str, Path],
                                                                         tmp_path: Path) -> None:
    """A run stopped by v1 failing leaves the unit claimed; with the downloads deleted, the rerun fetches the
    file again and sends only the claimed unit."""
    table = urls_table(server, {"wav": media["wav"]})
    emu = V1Emulator(faults=V1Faults(script=("internal_error",) * 5))
    with pytest.raises(humekit.ServerError):
        run(table, emu, tmp_path)
    claimed = humekit.Ledger(tmp_path / "l.sqlite").jobs()
    assert list(claimed["state"]) == ["submitting"]
    shutil.rmtree(tmp_path / "downloads")
    result = run(table, emu, tmp_path)
    assert by_id(result).loc["wav", "status"] == "ok"
    assert list(result.ledger.jobs()["job_key"]) == list(claimed["job_key"])
    assert server.hits("/media/talk.wav") == 2


def test_a_download_is_kept_under_a_hash_of_its_url(server: MediaServer, tmp_path: Path) -> None:
    """Downloads.fetch saves the body once, named by the URL's hash (no extension); fetching again is free."""
    body = bytes(range(256)) * 5000  # 1.28 MB: more than one piece
    url = server.serve("/x/talk.wav", body=body)
    downloads = Downloads(tmp_path / "d")
    path = downloads.fetch(url)
    assert path.read_bytes() == body and path == downloads.path(url)
    assert path.parent == tmp_path / "d" and len(path.name) == 32 and path.suffix == ""
    assert downloads.fetch(url) == path == downloads.cached(url) and server.hits("/x/talk.wav") == 1
    assert downloads.cached(f"{server.url}/x/other.wav") is None


def test_humekit_run_keeps_its_downloads_in_the_output_folder(server: MediaServer, media: dict[str, Path],
                                                              tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    """humekit run --api v1 measures a URL row, downloading it to OUT/downloads; run again, it fetches nothing."""
    table = tmp_path / "t.csv"
    urls_table(server, {"wav": media["wav"]}).to_csv(table, index=False)
    argv = ["run", str(table), "--api", "v1", "--emulator", "--id-col", "id", "--source-col", "src", "--models",
            "audio", "--out", str(tmp_path / "out"), "--no-progress"]
    assert main(argv) == 0, capsys.readouterr()
    assert [p.name for p in (tmp_path / "out" / DOWNLOADS).iterdir()] == [Downloads(tmp_path).path(
        f"{server.url}/media/talk.wav").name]
    assert main(argv) == 0 and server.hits("/media/talk.wav") == 1


def test_an_interrupt_stops_the_downloads_under_way(server: MediaServer, tmp_path: Path) -> None:
    """Ctrl-C while two slow downloads run: both stop long before their end and leave no partial file."""
    total = 256 << 20
    urls = [server.serve(f"/slow{n}.wav", streamed=total, pause=0.01) for n in range(2)]
    downloads = Downloads(tmp_path / "downloads")
    interrupt = threading.Timer(0.5, signal.pthread_kill, (threading.main_thread().ident, signal.SIGINT))
    interrupt.start()
    with pytest.raises(KeyboardInterrupt):
        downloads.fetch_all(urls, concurrency=2)
    interrupt.join()
    assert {path for path, _ in server.requests} == {"/slow0.wav", "/slow1.wav"}
    deadline = time.monotonic() + 30
    while len(server.written) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert all(server.written[f"/slow{n}.wav"] < total // 4 for n in range(2))
    assert list((tmp_path / "downloads").iterdir()) == []


def test_humekit_run_caps_downloads_with_its_own_flag(server: MediaServer, media: dict[str, Path], tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """--max-download-mb refuses a larger URL row, and the reason names the flag, not the Python option."""
    table = tmp_path / "t.csv"
    urls_table(server, {"wav": media["wav"]}).to_csv(table, index=False)
    argv = ["run", str(table), "--api", "v1", "--emulator", "--id-col", "id", "--source-col", "src", "--models",
            "audio", "--out", str(tmp_path / "out"), "--no-progress", "--max-download-mb", "0.001"]
    assert main(argv) == 1
    said = capsys.readouterr().out
    assert "--max-download-mb" in said and "V1Backend" not in said
    assert main([*argv[:-1], "0"]) == 2 and "positive number" in capsys.readouterr().out


def test_a_url_listed_twice_in_two_chunks_is_fetched_and_sent_once(server: MediaServer, media: dict[str, Path],
                                                                    tmp_path: Path) -> None:
    """measure(out=...) a row a chunk, the WAV's URL under two IDs: the second row is answered by the first's request."""
    url = server.serve("/media/talk.wav", body=media["wav"].read_bytes())
    table = pd.DataFrame({"id": ["first", "second"], "src": [url, url]})
    emu = V1Emulator()
    result = humekit.measure(table, id_col="id", source_col="src", models=["audio"], ledger=tmp_path / "l.sqlite",
                             backend=backend(emu, tmp_path / "downloads"), progress=False, errors="mark",
                             out=tmp_path / "out", chunk_rows=1)
    assert result.counts()["ok"] == 2 and uploads(emu) == 1 and server.hits("/media/talk.wav") == 1
    scores = result.predictions.groupby("id")["score"].apply(list)
    assert scores["first"] == scores["second"]
