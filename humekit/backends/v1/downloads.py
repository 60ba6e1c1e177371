"""Downloading URL rows for v1: each http(s) URL fetched once into a folder, streamed, size-capped and retried.

Hume's v1 API takes uploads only, so a URL row is downloaded by humekit and then measured exactly as a
local file (probed, cut into windows, sampled into frames). :class:`Downloads` keeps one file per URL in
its folder (``humekit-downloads/`` in the working directory unless told otherwise), named by a hash of the
URL with no extension (humekit reads media by its content, and a name cannot disagree with it): a URL
already there is never fetched again, so a rerun, a dry run followed by the real run, or a
``retry_failed`` makes no request of any kind to the download host.

Each download is streamed to a hidden ``*.part`` file in the folder and renamed into place only once it
is complete, so an interrupted download never passes for a file (a leftover ``.*.part`` may be deleted).
It is capped at ``max_bytes`` (1 GB by default, the most Hume's v0 API fetched from a URL): a
``Content-Length`` over the cap stops it before the body is read, and a body without one is aborted as
soon as the bytes received pass the cap. Connection errors, timeouts, 5xx answers and 429 are retried
with exponential backoff and jitter (a ``Retry-After`` is honoured up to ``wait_max``); any other 4xx is
reported at once. Every failure is a :class:`~humekit.errors.DownloadError` naming the URL, the status or
the cause, and what to do.

The download host is sent nothing of Hume's: its own ``httpx`` client carries no API key and no Hume
header (only ``user-agent: humekit``); redirects are followed.

A URL's content is identified by the URL: a file that changes on the server while keeping its URL is
not fetched again (delete its download, or give it a new URL, to measure the new one).
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import tenacity

from humekit._internal.backoff import exponential
from humekit.backends._http import http_client, log_retry, retry_after_seconds
from humekit.clock import Clock, SystemClock
from humekit.errors import ConfigurationError, DownloadError
from humekit.pipeline.input_limits import GB

__all__ = ["DEFAULT_DOWNLOAD_DIR", "DEFAULT_MAX_DOWNLOAD_BYTES", "Downloads"]

logger = logging.getLogger(__name__)

#: Where URL rows are downloaded unless told otherwise (relative to the working directory, like the ledger).
DEFAULT_DOWNLOAD_DIR = "humekit-downloads"
#: The largest file downloaded from a URL (1 GB: what Hume's v0 API fetched from a URL).
DEFAULT_MAX_DOWNLOAD_BYTES = 1 * GB

_CHUNK = 1 << 20


class _Transient(DownloadError):
    """A failure worth another try (a connection error, a 5xx, a 429), with the wait the server asked for."""

    def __init__(self, message: str, *, url: str, reason: str, status: int | None = None,
                 retry_after: float | None = None):
        super().__init__(message, url=url, reason=reason, status=status)
        self.retry_after = retry_after


class Downloads:
    """A folder of files downloaded from http(s) URLs, each URL fetched once.

    Args:
        folder: where the files are kept (default ``humekit-downloads`` in the working directory); made
            when the first download starts.
        max_bytes: the largest file downloaded; a larger one is not kept and its URL is reported.
        max_retries: tries after the first for connection errors, timeouts, 5xx and 429.
        wait_initial, wait_max: exponential backoff between tries (±20 % jitter).
        timeout: seconds to connect (at most 10) and to wait for each piece of the body.
        transport: an ``httpx`` transport (default: the network).
        clock: where the waits between tries sleep.
    """

    def __init__(self, folder: str | os.PathLike[str] | None = None, *, max_bytes: int = DEFAULT_MAX_DOWNLOAD_BYTES,
                 max_retries: int = 4, wait_initial: float = 1.0, wait_max: float = 30.0, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None, clock: Clock | None = None):
        if not (isinstance(max_bytes, int) and max_bytes > 0):
            raise ConfigurationError(f"max_bytes={max_bytes!r}: give the largest file to download, in bytes "
                                     f"(a positive integer such as {DEFAULT_MAX_DOWNLOAD_BYTES:_})")
        if max_retries < 0 or wait_initial < 0 or wait_max < wait_initial or not timeout > 0:
            raise ConfigurationError(f"max_retries={max_retries}, wait_initial={wait_initial}, wait_max={wait_max}, "
                                     f"timeout={timeout}: give max_retries >= 0, 0 <= wait_initial <= wait_max and "
                                     "a timeout > 0")
        self.folder = Path(folder if folder is not None else DEFAULT_DOWNLOAD_DIR).resolve()
        self.max_bytes = max_bytes
        self.max_retries = max_retries
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.timeout = timeout
        self.clock: Clock = clock or SystemClock()
        self._transport = transport

    def __repr__(self) -> str:
        return f"Downloads({str(self.folder)!r}, max_bytes={self.max_bytes:_})"

    def path(self, url: str) -> Path:
        """Where the URL's download is kept (whether or not it is there yet)."""
        return self.folder / hashlib.sha256(url.encode()).hexdigest()[:32]

    def cached(self, url: str) -> Path | None:
        """The URL's download if it is in the folder (nothing is fetched)."""
        path = self.path(url)
        return path if path.is_file() else None

    def fetch(self, url: str) -> Path:
        """The URL's file: its download in the folder, or downloaded now.

        Raises:
            DownloadError: it cannot be downloaded (the message names the URL, the status or cause, and
                what to do).
        """
        found = self.fetch_all([url], concurrency=1)[url]
        if isinstance(found, DownloadError):
            raise found
        return found

    def fetch_all(self, urls: Iterable[str], *, concurrency: int = 4) -> dict[str, Path | DownloadError]:
        """Every URL's file (or why it could not be downloaded), ``concurrency`` downloads at once; the URLs
        already in the folder are not fetched. An interrupt (Ctrl-C) stops the downloads under way within a
        piece of their body, leaving no partial file."""
        found: dict[str, Path | DownloadError] = {}
        missing = []
        for url in dict.fromkeys(urls):
            cached = self.cached(url)
            if cached is not None:
                found[url] = cached
            else:
                missing.append(url)
        if not missing:
            return found
        stop = threading.Event()
        with http_client(timeout=self.timeout, transport=self._transport, follow_redirects=True) as http:
            if concurrency <= 1 or len(missing) == 1:
                found.update((url, self._fetch_or_error(http, url, stop)) for url in missing)
                return found
            pool = ThreadPoolExecutor(max_workers=min(concurrency, len(missing)), thread_name_prefix="humekit-download")
            try:
                found.update(zip(missing, pool.map(lambda url: self._fetch_or_error(http, url, stop), missing),
                                 strict=True))
            except BaseException:
                stop.set()  # the downloads under way stop at their next piece
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
        return found

    # -- one download ------------------------------------------------------------------------------
    def _fetch_or_error(self, http: httpx.Client, url: str, stop: threading.Event) -> Path | DownloadError:
        try:
            return self._fetch(http, url, stop)
        except DownloadError as exc:
            logger.info("%s", exc)
            return exc

    def _fetch(self, http: httpx.Client, url: str, stop: threading.Event) -> Path:
        """Download with retries; a transient failure that outlasts them is reported as final."""
        retrying = tenacity.Retrying(stop=tenacity.stop_after_attempt(self.max_retries + 1), wait=self._backoff,
                                     retry=tenacity.retry_if_exception_type(_Transient), sleep=self.clock.sleep,
                                     before_sleep=log_retry, reraise=True)
        try:
            for attempt in retrying:
                with attempt:
                    return self._download(http, url, stop)
        except _Transient as exc:
            tries = self.max_retries + 1
            raise DownloadError(f"{exc}, after {tries} attempt{'s' if tries > 1 else ''}. Nothing was sent to Hume "
                                "for this row: run the same call again later to retry the download, or download "
                                "the file yourself and give its local path", url=url, reason=exc.reason,
                                status=exc.status) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _backoff(self, state: tenacity.RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return min(float(retry_after), self.wait_max)
        return exponential(state.attempt_number - 1, initial=self.wait_initial, maximum=self.wait_max, jitter=0.2)

    def _download(self, http: httpx.Client, url: str, stop: threading.Event) -> Path:
        """One try: stream the body to a ``.part`` file and rename it into the folder when complete."""
        try:
            with http.stream("GET", url) as response:
                self._check(response, url)
                return self._save(response, url, stop)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
            raise DownloadError(f"{url} cannot be downloaded: {exc}; give an http(s) URL, or the file's local path",
                                url=url, reason="unsupported") from None
        except httpx.TransportError as exc:
            raise _Transient(f"{url} could not be downloaded: no complete answer from "
                             f"{urlsplit(url).netloc or 'its host'} ({type(exc).__name__}: {exc})",
                             url=url, reason="connection") from None
        except httpx.HTTPError as exc:  # too many redirects, a body that cannot be decoded
            raise DownloadError(f"{url} could not be downloaded ({type(exc).__name__}: {exc}); check the URL in a "
                                "browser, or download the file yourself and give its local path",
                                url=url, reason="connection") from None

    def _check(self, response: httpx.Response, url: str) -> None:
        """Refuse an error status and a ``Content-Length`` over the cap before any of the body is read."""
        status = response.status_code
        answered = f"the server answered {status} {response.reason_phrase}".rstrip()
        if status >= 500 or status == 429:
            raise _Transient(f"{url} could not be downloaded: {answered}", url=url, reason="status", status=status,
                             retry_after=retry_after_seconds(response))
        if status >= 400:
            hint = _HINTS.get(status, "check the URL (open it in a browser)")
            raise DownloadError(f"{url} could not be downloaded: {answered}: {hint}, or download the file yourself "
                                "and give its local path", url=url, reason="status", status=status)
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise self._too_large(url, f"its Content-Length is {int(declared):,} bytes")

    def _save(self, response: httpx.Response, url: str, stop: threading.Event) -> Path:
        target = self.path(url)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.folder, prefix=f".{target.name}.", suffix=".part")
        except OSError as exc:
            raise self._disk(url, exc) from None
        try:
            received = 0
            with os.fdopen(handle, "wb") as f:
                for chunk in response.iter_bytes(_CHUNK):
                    if stop.is_set():
                        raise DownloadError(f"{url}: the download was interrupted", url=url, reason="interrupted")
                    received += len(chunk)
                    if received > self.max_bytes:  # aborted here: the rest of the body is never read
                        raise self._too_large(url, f"more than {self.max_bytes:,} bytes arrived (no Content-Length "
                                                   "said how many to expect)")
                    f.write(chunk)
            os.replace(temporary, target)  # complete: only now does it count as the URL's download
        except OSError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise self._disk(url, exc) from None
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        logger.info("downloaded %s (%d bytes) to %s", url, received, target)
        return target

    def _too_large(self, url: str, why: str) -> DownloadError:
        return DownloadError(f"{url} was not downloaded: it is larger than the {self.max_bytes:,}-byte download limit "
                             f"({why}); raise the limit (V1Backend(max_download_bytes=...)), or download the file "
                             "yourself and give its local path", url=url, reason="too_large")

    def _disk(self, url: str, exc: OSError) -> DownloadError:
        return DownloadError(f"{url} could not be saved in {self.folder} ({exc.strerror or exc}); check that the "
                             "folder is writable and has space, or choose another (V1Backend(download_dir=...))",
                             url=url, reason="disk")


_HINTS = {
    401: "the host wants credentials humekit does not send; use a public or pre-signed URL",
    403: "the host refuses it (a private file, or a pre-signed URL that expired); use a public or fresh URL",
    404: "the file is not there; check the URL for typos or truncation",
    410: "the file was removed from the host",
}

