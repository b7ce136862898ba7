"""Extraction in a child process, so the per-page time limit is hard.

A Python alarm cannot stop a page inside lxml's C parser (a page with a million attributes
spins there for hours), and a crash inside it would take the Ray worker down with it. So each
worker hands its pages, one at a time, to a long-lived child process that decodes and extracts
them. When a page overruns ``extract.timeout_seconds`` the child is killed (SIGKILL) and the page
fails as `extract_timeout`; a child that dies on a page fails it as `extract_error`. The next page
starts a new child. Worst case per page: the time limit, plus the start of a new child (about a
second) for the page after it.

Protocol: length-prefixed pickles over the child's stdin/stdout. The parent sends the extract
config once (the child answers "ready" when its extractor is loaded), then
``(payload, http_charset, url)`` per page; the child answers
``(text, charset, title, anchors, genre, extractor, cpu_seconds, extractor_cpu_seconds)``
(``Extracted``) or, when the page failed, the same with ``None`` for the first six and the error
text appended.
"""

from __future__ import annotations

import os
import pickle
import select
import struct
import subprocess
import sys
import time
from typing import NamedTuple

from crawlsieve.ingest.config import ExtractConfig

_LENGTH = struct.Struct("<Q")
#: How long a new extraction process may take to load its extractor.
START_SECONDS = 300.0


class ExtractTimeout(Exception):
    """A page took longer than `extract.timeout_seconds`."""


class ExtractCrashed(Exception):
    """The extraction process died on a page."""


class PageError(Exception):
    """The extractor raised on a page; the message is the child's error text."""


def _write(stream, obj) -> None:
    data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_LENGTH.pack(len(data)) + data)
    stream.flush()


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes:
    parts, left = [], size
    while left:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise ExtractTimeout
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            raise ExtractCrashed("the extraction process exited")
        parts.append(chunk)
        left -= len(chunk)
    return b"".join(parts)


def _read_length(fd: int, deadline: float | None) -> int:
    return _LENGTH.unpack(_read_exactly(fd, _LENGTH.size, deadline))[0]


class Extracted(NamedTuple):
    """What the child says of a page it extracted."""

    text: str | None
    #: how the charset was found (``ingest.decode``)
    charset: str
    title: str | None
    #: the page's short link texts, one per line
    anchors: str | None
    genre: str
    #: the extractor that gave the text
    extractor: str
    #: the child's CPU seconds on the page, and those of them inside the extractor
    cpu_seconds: float
    extractor_cpu_seconds: float


class ExtractionProcess:
    """The parent's handle on one extraction child (started on first use, restarted after a kill)."""

    def __init__(self, config: ExtractConfig):
        self.config = config
        self._child: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        """A new child, once it has loaded the extractor: its start-up (imports, a second or
        more on a busy machine) must not count against the first page's time limit."""
        child = subprocess.Popen(
            [sys.executable, "-m", "crawlsieve.ingest.extract_process"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            close_fds=True,
        )
        try:
            _write(child.stdin, self.config.model_dump())
            deadline = time.monotonic() + START_SECONDS
            fd = child.stdout.fileno()
            _read_exactly(fd, _read_length(fd, deadline), deadline)
        except (ExtractTimeout, ExtractCrashed, OSError) as error:
            child.kill()
            child.wait()
            raise ExtractCrashed(f"the extraction process did not start ({type(error).__name__})") from None
        return child

    def extract(self, payload: bytes, http_charset: str | None, url: str | None) -> Extracted:
        """The page extracted (see ``Extracted``); raises on timeout or crash."""
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child = self._child
        try:
            _write(child.stdin, (payload, http_charset, url))
            deadline = time.monotonic() + self.config.timeout_seconds
            fd = child.stdout.fileno()
            answer = pickle.loads(_read_exactly(fd, _read_length(fd, deadline), deadline))
        except ExtractTimeout:
            self.close()
            raise
        except (BrokenPipeError, ExtractCrashed, OSError) as error:
            self.close()
            raise ExtractCrashed(f"the extraction process died ({error})") from None
        if len(answer) == len(Extracted._fields) + 1:
            raise PageError(answer[-1])
        return Extracted(*answer)

    def close(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            child.kill()
            child.wait()
            for stream in (child.stdin, child.stdout):
                stream.close()

    def __del__(self) -> None:
        self.close()


_processes: dict[str, ExtractionProcess] = {}


def extraction_process(config: ExtractConfig) -> ExtractionProcess:
    """This worker's extraction process for ``config``: one per worker, reused by every file."""
    key = config.model_dump_json()
    if key not in _processes:
        _processes[key] = ExtractionProcess(config)
    return _processes[key]


def _serve() -> None:
    """The child: decode and extract pages until the parent closes the pipe."""
    from crawlsieve.core.stages import error_text
    from crawlsieve.ingest.decode import decode_html
    from crawlsieve.ingest.extractors import PageExtractor, title_and_anchors

    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing a library prints may corrupt the protocol

    def read():
        head = source.read(_LENGTH.size)
        if len(head) < _LENGTH.size:
            return None
        return pickle.loads(source.read(_LENGTH.unpack(head)[0]))

    config = ExtractConfig.model_validate(read())
    extract = PageExtractor(config)
    _write(sink, "ready")
    while (message := read()) is not None:
        payload, http_charset, url = message
        started = time.process_time()
        extracting = started
        try:
            html, charset = decode_html(payload or b"", http_charset)
            title, anchors = title_and_anchors(html)
            extracting = time.process_time()
            text, genre, extractor = extract(html, url)
            now = time.process_time()
            answer = (text, charset, title, anchors, genre, extractor, now - started, now - extracting)
        except RecursionError:
            now = time.process_time()
            error = "RecursionError: HTML nested too deep"
            answer = (*(None,) * 6, now - started, now - extracting, error)
        except Exception as error:
            now = time.process_time()
            answer = (*(None,) * 6, now - started, now - extracting, error_text(error))
        _write(sink, answer)


if __name__ == "__main__":
    _serve()
