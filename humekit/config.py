"""Where humekit finds its API key and base URL: arguments, the environment, then ``.env``.

The key is wrapped in :class:`Secret` as soon as it is read, so no repr, log line or error
message can show it.
"""

from __future__ import annotations

import os
import re
from functools import lru_cache

from dotenv import dotenv_values, find_dotenv

from humekit.errors import ConfigurationError, MissingAPIKeyError

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_V1_BASE_URL", "Secret", "resolve_api", "resolve_api_key", "resolve_base_url"]

#: Hume's production API (FERN ``environments.prod``): the v0 batch API's host.
DEFAULT_BASE_URL = "https://api.hume.ai"
#: The v1 Expression Measurement API's host (the v1 SDK's ``environment.py``).
DEFAULT_V1_BASE_URL = "https://api.cloud.hume.ai"


class Secret:
    """A string that never shows itself: ``repr``/``str`` print ``'********'``."""

    __slots__ = ("_value",)

    def __init__(self, value: str):
        self._value = value

    def reveal(self) -> str:
        """The secret itself, for the one place that must send it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


@lru_cache(maxsize=8)
def _dotenv(cwd: str) -> tuple[dict[str, str | None], str]:
    path = find_dotenv(usecwd=True)
    return (dotenv_values(path) if path else {}), path


def _setting(name: str) -> tuple[str | None, str]:
    """A setting's value and where it came from (said in errors; the value never is)."""
    value = os.environ.get(name)
    if value:
        return value, f"the {name} environment variable"
    values, path = _dotenv(os.getcwd())
    return values.get(name) or None, f"{name} in {path}"


#: What an API key may hold once surrounding whitespace is stripped: visible ASCII, no spaces.
_KEY = re.compile(r"[\x21-\x7e]+")


def resolve_api_key(api_key: str | Secret | None = None, *,
                    offline: str = "humekit.emulator.Emulator() (emu.client())") -> Secret:
    """The API key from the argument, ``HUME_API_KEY``, or a ``.env`` file, in that order.

    Surrounding whitespace is stripped (a key read with ``open(f).read()`` or from a CRLF file ends
    in a newline). A key that still holds a space, a control character or a non-ASCII character
    raises :class:`ConfigurationError` naming where it came from, never the key.
    """
    value: str | None
    if isinstance(api_key, Secret):
        value, source = api_key.reveal(), "the Secret passed as api_key="
    elif api_key is not None and not isinstance(api_key, str):
        raise ConfigurationError(f"api_key= must be a string, not {type(api_key).__name__}")
    elif api_key:
        value, source = api_key, "the api_key= argument"
    else:
        value, source = _setting("HUME_API_KEY")
    if not value:
        raise MissingAPIKeyError(
            "HUME_API_KEY is not set. Set it in the environment or a .env file, pass api_key=..., "
            f"or run offline against {offline}."
        )
    key = value.strip()
    if not key:
        raise ConfigurationError(f"the API key from {source} is blank: set it to the key from the Hume portal.")
    if not _KEY.fullmatch(key):
        raise ConfigurationError(
            f"the API key from {source} holds a space, a control character or a non-ASCII character between its "
            "first and last characters (surrounding whitespace is removed): copy the key again from the Hume "
            "portal, as one line."
        )
    return api_key if isinstance(api_key, Secret) and key == value else Secret(key)


def resolve_base_url(base_url: str | None = None, *, default: str = DEFAULT_BASE_URL) -> str:
    """The API base URL from the argument, ``HUME_BASE_URL``, ``.env``, or ``default`` (the API's host)."""
    value = (base_url or _setting("HUME_BASE_URL")[0] or default).strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Base URL {value!r} is not an http(s) URL; pass base_url='https://...' or fix HUME_BASE_URL."
        )
    return value


def resolve_api(api: str | None = None) -> str:
    """Which Hume API to use: the argument, ``HUME_API`` (environment or ``.env``), else ``"v1"`` (the live one)."""
    value, source = (api, "api=") if api else _setting("HUME_API")
    chosen = (value or "v1").strip().lower()
    if chosen not in ("v0", "v1"):
        raise ConfigurationError(f"{source} says {value!r}: choose v1 (Hume's live API) or v0 (the batch API, sunset "
                                 "2026-06-14: a compatible endpoint or the emulator)")
    return chosen
