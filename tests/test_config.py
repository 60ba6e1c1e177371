"""Tests for humekit.config: where the API key and base URL come from, and how a bad key is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import humekit
from humekit.config import Secret, _dotenv, resolve_api_key, resolve_base_url
from humekit.emulator import Emulator

KEY = "sk-config-test-1234"
SURROUNDED = [KEY + "\n", KEY + "\r\n", "  " + KEY + "  ", "\t" + KEY, KEY + " \t\r\n"]
BROKEN = ["sk-config test", "sk-config\ttest", "sk-config\ntest", "sk-config\x1btest", "sk-config\x7ftest",
          "sk-configétest"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working directory with no cached .env."""
    monkeypatch.chdir(tmp_path)
    _dotenv.cache_clear()
    yield tmp_path
    _dotenv.cache_clear()


@pytest.mark.parametrize("raw", SURROUNDED, ids=repr)
def test_surrounding_whitespace_is_stripped_from_every_source(raw: str, workdir: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A trailing newline, CRLF, spaces or a tab around the key are removed, from the argument, env and .env."""
    assert resolve_api_key(raw).reveal() == KEY
    assert resolve_api_key(Secret(raw)).reveal() == KEY
    monkeypatch.setenv("HUME_API_KEY", raw)
    assert resolve_api_key().reveal() == KEY
    monkeypatch.delenv("HUME_API_KEY")
    (workdir / ".env").write_bytes(b'HUME_API_KEY="' + raw.encode() + b'"\n')
    _dotenv.cache_clear()
    assert resolve_api_key().reveal() == KEY


@pytest.mark.parametrize("raw", BROKEN, ids=repr)
def test_a_key_with_a_space_or_control_character_inside_names_its_source_never_the_key(
        raw: str, workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key still holding a space, a control or a non-ASCII character is refused, saying where it came from."""
    with pytest.raises(humekit.ConfigurationError, match="api_key= argument") as exc:
        resolve_api_key(raw)
    assert "sk-config" not in str(exc.value)
    monkeypatch.setenv("HUME_API_KEY", raw)
    with pytest.raises(humekit.ConfigurationError, match="HUME_API_KEY environment variable") as exc:
        resolve_api_key()
    assert "sk-config" not in str(exc.value)
    monkeypatch.delenv("HUME_API_KEY")
    (workdir / ".env").write_text(f'HUME_API_KEY="{raw}"\n')
    _dotenv.cache_clear()
    with pytest.raises(humekit.ConfigurationError, match=r"HUME_API_KEY in .*\.env") as exc:
        resolve_api_key()
    assert "sk-config" not in str(exc.value)


def test_a_blank_key_is_refused(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A key of only whitespace is as good as none: the error says it is blank and where it is."""
    monkeypatch.setenv("HUME_API_KEY", " \r\n")
    with pytest.raises(humekit.ConfigurationError, match="HUME_API_KEY environment variable is blank"):
        resolve_api_key()


def test_a_key_with_a_newline_reaches_the_endpoint_stripped() -> None:
    """Client(api_key=key + "\\n") authenticates: the header sent is the stripped key."""
    emu = Emulator(api_key=KEY)
    client = humekit.Client(api_key=KEY + "\r\n", base_url=emu.url, transport=emu.transport())
    assert client.list_jobs() == []


def test_a_header_error_from_httpx_is_never_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's 'Illegal header value' text (which quotes the header) is withheld, and the request counts as unsent."""
    client = humekit.Client(api_key=KEY, base_url="http://127.0.0.1:9", max_retries=0)

    def refuse(*args: object, **kwargs: object) -> httpx.Response:
        raise httpx.LocalProtocolError(f"Illegal header value b'{KEY}\\n'")

    monkeypatch.setattr(client._http, "request", refuse)
    with pytest.raises(humekit.APIConnectionError, match="withheld") as exc:
        client.list_jobs()
    assert KEY not in str(exc.value) and exc.value.__cause__ is None and exc.value.__context__ is not None
    assert exc.value.__suppress_context__ and not exc.value.request_sent  # type: ignore[attr-defined]


def test_base_url_whitespace_is_stripped() -> None:
    """A base URL pasted with a trailing newline still works."""
    assert resolve_base_url("http://127.0.0.1:8000/\n") == "http://127.0.0.1:8000"
