"""What a ``ledger=`` value names: a SQLite file, or a PostgreSQL database by its URL; anything else is refused.

A path (``"study.sqlite"``, a :class:`pathlib.Path`) is a SQLite file on this machine. A
``postgresql://`` (or ``postgres://``) URL, libpq's own form, is a database on a server that several
processes and machines can share. Any other value that looks like a URL (``mysql://...``,
``http://...``, ``sqlite:///...``, or a PostgreSQL URL whose ``//`` a :class:`~pathlib.Path` collapsed)
is refused with what to give instead, never turned into a folder named ``mysql:``.

A URL's password never leaves this module unmasked except to connect: :func:`masked` is what every
repr, log line and error message shows (``postgresql://alice:***@db.lab/humekit``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from humekit.errors import LedgerError

__all__ = ["DEFAULT_LEDGER", "POSTGRES_SCHEMES", "PostgresURL", "masked", "parse_location"]

#: The ledger used when none is given: a file in the working directory, next to the notebook.
DEFAULT_LEDGER = "humekit-ledger.sqlite"

#: The URL schemes of a PostgreSQL ledger (libpq accepts both).
POSTGRES_SCHEMES = ("postgresql", "postgres")

# scheme ":" then at least one "/": a URL, or one a Path collapsed ("postgresql:/host/db"); two letters at
# least, so a Windows drive ("C:/data") is a path
_URL_LIKE = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]+):(?P<slashes>/+)")
_PASSWORD_PARAM = re.compile(r"(?P<key>(?:^|[?&])password=)(?P<value>[^&#]*)", re.IGNORECASE)


@dataclass(frozen=True)
class PostgresURL:
    """A PostgreSQL ledger's URL: ``url`` to connect with, :attr:`display` (password masked) to show."""

    url: str = field(repr=False)
    display: str

    def __repr__(self) -> str:
        return f"PostgresURL({self.display!r})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The URL's password as written and decoded (what an error message must never contain)."""
        return _passwords(self.url)


def parse_location(value: str | os.PathLike[str] | None) -> Path | PostgresURL:
    """The SQLite file (resolved) or the PostgreSQL URL that ``value`` names.

    Raises:
        LedgerError: ``value`` looks like a URL humekit cannot use as a ledger (it says what to give instead).
    """
    if value is None:
        return Path(DEFAULT_LEDGER).resolve()
    text = os.fspath(value)
    match = _URL_LIKE.match(text)
    if match is None:
        return Path(text).resolve()
    scheme, shown = match["scheme"].lower(), masked(text)
    if scheme in POSTGRES_SCHEMES and len(match["slashes"]) >= 2:
        return PostgresURL(text, shown)
    if scheme in POSTGRES_SCHEMES:
        raise LedgerError(f"ledger={shown!r} looks like a PostgreSQL URL whose '//' was collapsed (a pathlib.Path "
                          "does that): pass the URL as a str, e.g. ledger='postgresql://user@host/db'")
    if scheme == "sqlite" or scheme.startswith("sqlite+"):
        hint = "for a SQLite ledger give the file's path itself, e.g. ledger='study.sqlite'"
    elif scheme.startswith(("postgresql+", "postgres+")):
        hint = "give libpq's form without the driver, e.g. ledger='postgresql://user@host/db'"
    else:
        hint = "give a SQLite file's path (e.g. ledger='study.sqlite') or a PostgreSQL URL (postgresql://user@host/db)"
    raise LedgerError(f"ledger={shown!r} is a {scheme}:// URL, which humekit cannot keep a ledger in: {hint}")


def masked(url: str) -> str:
    """``url`` with its password (in the user info or a ``password=`` parameter) replaced by ``***``."""
    start = _URL_LIKE.match(url)
    if start is not None:
        userinfo, hosts = _userinfo(url[start.end() :])
        if userinfo is not None and ":" in userinfo:
            url = f"{start[0]}{userinfo.partition(':')[0]}:***@{hosts}"
    return _PASSWORD_PARAM.sub(lambda m: f"{m['key']}***", url)


def _userinfo(rest: str) -> tuple[str | None, str]:
    """What is before the ``@`` ending the user info (``None`` without one) and what follows it.

    Like libpq, the user info ends before the first ``/``; the last ``@`` before it is taken, so a password
    holding an unencoded ``@`` is masked whole.
    """
    slash = rest.find("/")
    at = rest.rfind("@", 0, slash if slash >= 0 else len(rest))
    return (None, rest) if at < 0 else (rest[:at], rest[at + 1 :])


def _passwords(url: str) -> tuple[str, ...]:
    """The password(s) a URL carries, as written and percent-decoded, longest first."""
    found: list[str] = []
    start = _URL_LIKE.match(url)
    userinfo, _ = _userinfo(url[start.end() :] if start is not None else "")
    if userinfo is not None and ":" in userinfo:
        found.append(userinfo.partition(":")[2])
    found += [m["value"] for m in _PASSWORD_PARAM.finditer(url)]
    return tuple(sorted({p for raw in found if raw for p in (raw, unquote(raw))}, key=len, reverse=True))
