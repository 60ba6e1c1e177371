"""Where humekit finds its API key and base URL: arguments, the environment, then ``.env``.

The key is wrapped in :class:`Secret` as soon as it is read, so no repr, log line or error
message can show it.
"""

from __future__ import annotations

import os
from functools import lru_cache

from dotenv import dotenv_values, find_dotenv

from humekit.errors import ConfigurationError

__all__ = ["DEFAULT_BASE_URL", "Secret", "resolve_api_key", "resolve_base_url"]

#: Hume's production API (FERN ``environments.prod``).
DEFAULT_BASE_URL = "https://api.hume.ai"


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
def _dotenv(cwd: str) -> dict[str, str | None]:
    path = find_dotenv(usecwd=True)
    return dotenv_values(path) if path else {}


def _setting(name: str) -> str | None:
    value = os.environ.get(name)
    if value:
        return value
    return _dotenv(os.getcwd()).get(name) or None


def resolve_api_key(api_key: str | Secret | None = None) -> Secret:
    """The API key from the argument, ``HUME_API_KEY``, or a ``.env`` file, in that order."""
    if isinstance(api_key, Secret):
        return api_key
    value = api_key or _setting("HUME_API_KEY")
    if not value:
        raise ConfigurationError(
            "HUME_API_KEY is not set. Set it in the environment or a .env file, pass api_key=..., "
            "or run offline against humekit.emulator.Emulator() (emu.client())."
        )
    return Secret(value)


def resolve_base_url(base_url: str | None = None) -> str:
    """The API base URL from the argument, ``HUME_BASE_URL``, ``.env``, or Hume's default."""
    value = (base_url or _setting("HUME_BASE_URL") or DEFAULT_BASE_URL).rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ConfigurationError(
            f"Base URL {value!r} is not an http(s) URL; pass base_url='https://...' or fix HUME_BASE_URL."
        )
    return value
