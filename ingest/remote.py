"""http(s) inputs, read with retries, a timeout on every request, and resumption of broken bodies.

fsspec's HTTPFileSystem reads a file as ranged GETs of 5 MB and retries nothing: one "503 Slow
Down" (Common Crawl's throttling), one reset connection or one body cut short fails the read, and
its HEAD turns any failure into FileNotFoundError. aiohttp has timeouts but no retries. So this
module adds what they lack, and only that: a file is one streaming GET (`Range: bytes=<offset>-`),
a request that fails transiently is tried again after an exponential backoff with jitter, and a
body that breaks is asked for again from the last byte received. fsspec still makes the aiohttp
session (with `read.storage_options`) and runs its event loop; aiohttp times every request out.
"""

from __future__ import annotations

import io
import random
import re
import time
from typing import TYPE_CHECKING

import aiohttp
import fsspec
from fsspec.asyn import sync

if TYPE_CHECKING:
    from crawlsieve.ingest.config import HttpConfig

#: Reads from the network go through a buffer this large (warcio asks for 16 KiB at a time).
BUFFER_BYTES = 1 << 20
CONTENT_RANGE = re.compile(r"bytes (?:\d+-\d+|\*)/(\d+)")


class RemoteUnavailable(BaseException):
    """A remote input still failing after the retries: the file cannot be finished now.

    A BaseException, as KeyboardInterrupt is: the `except Exception` of warcio and of the WARC
    reader would take it for damage in the data and read on; it must end the file instead, which
    is then not marked done (`--resume` reads it again). ``position``: the bytes received.
    """

    def __init__(self, message: str, position: int, size: int | None):
        super().__init__(message)
        self.position, self.size = position, size


class _Transient(Exception):
    """A failure worth another try that aiohttp does not raise itself (a status, a short body)."""


def _transient(error: Exception) -> bool:
    if isinstance(error, aiohttp.ClientSSLError | aiohttp.ServerFingerprintMismatch):
        return False  # a certificate does not get better by asking again
    return isinstance(
        error, _Transient | aiohttp.ClientPayloadError | aiohttp.ClientConnectionError | TimeoutError
    )


def retry_wait(retry: int, config: HttpConfig) -> float:
    """Seconds before the ``retry``-th retry (from 1): exponential, capped, with jitter."""
    wait = min(config.retry_max_wait_seconds, config.retry_wait_seconds * 2 ** (retry - 1))
    return wait * random.uniform(0.5, 1.0)


class HttpFile(io.RawIOBase):
    """A seekable raw file over one http(s) URL; reads stream from one open response.

    Opening asks for the body at once, so a missing file fails here and the size is known (from
    Content-Range or Content-Length; None if the server gives neither). A seek only moves the
    position: the next read asks for the body from there.
    """

    def __init__(self, url: str, fs, config: HttpConfig):
        super().__init__()
        self.url, self.fs, self.config = url, fs, config
        self.position = 0
        self.size: int | None = None
        self.failure: RemoteUnavailable | None = None
        self._response: aiohttp.ClientResponse | None = None
        self._timeout = aiohttp.ClientTimeout(
            total=None, connect=config.timeout_seconds, sock_read=config.timeout_seconds
        )
        self._session = sync(fs.loop, fs.set_session)
        self._retried(self._connect)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_END and self.size is None:
            raise OSError(f"{self.url}: the server gave no size to seek from the end")
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size or 0}[whence]
        if base + offset != self.position:
            self._drop()
            self.position = base + offset
        return self.position

    def readinto(self, buffer) -> int:
        if self.size is not None and self.position >= self.size:
            return 0
        chunk = self._retried(self._read, len(buffer))
        buffer[: len(chunk)] = chunk
        self.position += len(chunk)
        return len(chunk)

    def close(self) -> None:
        self._drop()
        super().close()

    def _retried(self, step, *args):
        """``step`` run on fsspec's loop, tried again on transient failures after a backoff; past
        ``config.retries`` tries, the file is unavailable, and stays so for every later read."""
        if self.failure is not None:
            raise self.failure
        retry = 0
        while True:
            try:
                return sync(self.fs.loop, step, *args)
            except Exception as error:
                self._drop()
                if not _transient(error):
                    raise
                retry += 1
                if retry > self.config.retries:
                    cause = str(error) or type(error).__name__
                    self.failure = RemoteUnavailable(
                        f"{cause} (given up after {self.config.retries} retries)", self.position, self.size
                    )
                    raise self.failure from error
                time.sleep(retry_wait(retry, self.config))

    async def _connect(self) -> None:
        kwargs = dict(self.fs.kwargs)
        headers = {
            **kwargs.pop("headers", {}),
            "Range": f"bytes={self.position}-",
            "Accept-Encoding": "identity",  # byte offsets are the file's own
        }
        response = await self._session.get(
            self.fs.encode_url(self.url), headers=headers, timeout=self._timeout, **kwargs
        )
        status = response.status
        if status in (200, 206):
            self._response = response
            size = self._size_of(response)
            self.size = self.size if size is None else size
            if status == 200 and self.position:  # the server ignored the Range: skip to the position
                left = self.position
                while left:
                    skipped = await response.content.read(min(left, BUFFER_BYTES))
                    if not skipped:
                        raise _Transient(f"the body ended before byte {self.position}")
                    left -= len(skipped)
            return
        response.release()
        if status == 416:  # nothing at or after the position: the file ends there
            match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            self.size = int(match[1]) if match else self.position
        elif status in (404, 410):
            raise FileNotFoundError(f"{self.url}: HTTP {status} {response.reason}")
        elif status in self.config.retry_statuses:
            raise _Transient(f"HTTP {status} {response.reason}")
        else:
            raise OSError(f"{self.url}: HTTP {status} {response.reason}")

    @staticmethod
    def _size_of(response: aiohttp.ClientResponse) -> int | None:
        if response.status == 206:
            match = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", ""))
            return int(match[1]) if match else None
        if response.content_length is not None and "Content-Encoding" not in response.headers:
            return response.content_length
        return None

    async def _read(self, n: int) -> bytes:
        if self._response is None:
            await self._connect()
            if self._response is None:  # 416: at the end
                return b""
        chunk = await self._response.content.read(n)
        if not chunk:
            self._response.release()
            self._response = None
            if self.size is None:  # the end of a body of unknown size is the end of the file
                self.size = self.position
            elif self.position < self.size:
                raise _Transient(f"the body ended at byte {self.position} of {self.size}")
        return chunk

    def _drop(self) -> None:
        """Close the open response, if any (on the loop's thread: aiohttp is not thread-safe)."""
        if self._response is not None:
            self.fs.loop.call_soon_threadsafe(self._response.close)
            self._response = None


class _Buffered(io.BufferedReader):
    """The buffered file WarcFile reads, with the size the server gave (for its byte counts)."""

    @property
    def size(self) -> int | None:
        return self.raw.size


def open_http(url: str, storage_options: dict, config: HttpConfig) -> io.BufferedReader:
    """Open an http(s) URL for reading; ``storage_options``: fsspec's for its protocol."""
    fs = fsspec.filesystem(url.split("://", 1)[0].lower(), **storage_options)
    return _Buffered(HttpFile(url, fs, config), buffer_size=BUFFER_BYTES)
