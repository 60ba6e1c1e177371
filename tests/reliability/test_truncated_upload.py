"""A client killed mid-upload never becomes a job: the regression behind a duplicate found by the crash trials."""

from __future__ import annotations

import socket
import time
from urllib.parse import urlsplit

import httpx
import orjson

from humekit.emulator import Emulator
from humekit.testing.synthetic import make_wav


def multipart(boundary: str = "b0undary") -> tuple[bytes, str]:
    """A two-file upload with its json part, as humekit sends it."""
    parts = []
    for i in range(2):
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a{i}.wav"\r\n'
                     "Content-Type: audio/wav\r\n\r\n".encode() + make_wav(duration=1.0, sample_rate=8000, seed=i)
                     + b"\r\n")
    parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="json"; filename="request.json"\r\n'
                 "Content-Type: application/json\r\n\r\n".encode() + orjson.dumps({"models": {"prosody": {}}})
                 + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def test_body_cut_short_on_the_wire_creates_no_job() -> None:
    """A POST whose connection closes before Content-Length bytes arrived is dropped, not turned into a job."""
    body, kind = multipart()
    with Emulator(api_key="k") as emu:
        parts = urlsplit(emu.url)
        cut = body[: len(body) // 2 + 7]  # whole first file part, half of the second
        with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
            sock.sendall(f"POST /v0/batch/jobs HTTP/1.1\r\nHost: x\r\nX-Hume-Api-Key: k\r\nContent-Type: {kind}\r\n"
                         f"Content-Length: {len(body)}\r\n\r\n".encode() + cut)
            sock.shutdown(socket.SHUT_WR)
            sock.settimeout(5)
            assert sock.recv(100) == b""  # no answer to a request that never arrived whole
        time.sleep(0.1)
        assert emu.jobs == [] and emu.requests == []
        ok = httpx.post(f"{emu.url}/v0/batch/jobs", content=body, headers={"content-type": kind,
                                                                           "x-hume-api-key": "k"}, timeout=10)
        assert ok.status_code == 200 and len(emu.jobs) == 1  # the whole body still works


def test_multipart_without_closing_boundary_is_rejected() -> None:
    """A multipart body missing its closing boundary (truncated) is a 400, in-process too."""
    body, kind = multipart()
    emu = Emulator(api_key="k")
    with httpx.Client(transport=emu.transport(), base_url=emu.url) as http:
        truncated = body[: body.rindex(b"--b0undary--")]
        response = http.post("/v0/batch/jobs", content=truncated, headers={"content-type": kind, "x-hume-api-key": "k"})
    assert response.status_code == 400 and "truncated" in response.json()["message"]
    assert emu.jobs == []
