"""An HTTP response body as the server meant it: de-chunked and decoded, never larger than a limit.

Why not warcio's ``record.content_stream()``: its brotli path fails against the maintained
``brotli`` module (it sets an attribute the C decompressor does not have), it has no zstd, and
it decompresses each 16 KiB block without an output bound, so one block of brotli or zstd can
expand to gigabytes before any size check. Here every decoder is asked for at most what the
limit still allows, so a decompression bomb costs at most ``limit`` bytes of memory.

As in warcio and in browsers, a body whose first KiB does not decode under its declared encoding
is read as it is (servers often declare an encoding they did not apply); a body that breaks
part-way raises ``PayloadDecodeError``, which the reader records as that record's failure. A body
that ends before its compressed stream does (cut by the crawler) gives what it decoded to, as
warcio does.
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Callable

import brotli
from warcio.bufferedreaders import ChunkedDataReader

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd

READ_BYTES = 64 * 1024
#: The first bytes a decoder sees alone: failing on them means the body was never encoded.
PROBE_BYTES = 1024


class PayloadDecodeError(Exception):
    """The body broke part-way under its declared Content-Encoding."""


class PayloadTooLarge(Exception):
    """The decoded body is larger than the configured limit."""


class _Zlib:
    """gzip or deflate (zlib-wrapped, or raw as some servers send it) with a bounded output."""

    def __init__(self, wbits: int):
        self._decompressor = zlib.decompressobj(wbits)

    def decompress(self, data: bytes, max_length: int) -> bytes:
        return self._decompressor.decompress(self._decompressor.unconsumed_tail + data, max_length)

    def pending(self) -> bool:
        return bool(self._decompressor.unconsumed_tail)


class _Brotli:
    def __init__(self) -> None:
        self._decompressor = brotli.Decompressor()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._decompressor.is_finished():
            return b""
        return self._decompressor.process(data, output_buffer_limit=max_length)

    def pending(self) -> bool:
        return not self._decompressor.can_accept_more_data()


class _Zstd:
    def __init__(self) -> None:
        self._decompressor = zstd.ZstdDecompressor()

    def decompress(self, data: bytes, max_length: int) -> bytes:
        if self._decompressor.eof:
            return b""
        return self._decompressor.decompress(data, max_length)

    def pending(self) -> bool:
        return not self._decompressor.eof and not self._decompressor.needs_input


DECODERS: dict[str, Callable[[], _Zlib | _Brotli | _Zstd]] = {
    "gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "x-gzip": lambda: _Zlib(16 + zlib.MAX_WBITS),
    "deflate": lambda: _Zlib(zlib.MAX_WBITS),
    "br": _Brotli,
    "zstd": _Zstd,
}
#: What each decoder raises on bad input.
DECODE_ERRORS = (zlib.error, brotli.error, zstd.ZstdError, EOFError, ValueError)


def _body_stream(record):
    """The body's bytes after HTTP de-chunking (warcio's reader, without its decompression)."""
    headers = record.http_headers
    if headers is not None and (headers.get_header("Transfer-Encoding") or "").lower() == "chunked":
        return ChunkedDataReader(record.raw_stream)
    return record.raw_stream


def read_payload(record, limit: int) -> bytes:
    """The record's HTTP body, decoded; raises PayloadTooLarge past ``limit`` bytes."""
    stream = _body_stream(record)
    encoding = (record.http_headers.get_header("Content-Encoding") or "").strip().lower()
    make_decoder = DECODERS.get(encoding)
    if make_decoder is None:
        body = stream.read(limit + 1)
        if len(body) > limit:
            raise PayloadTooLarge(f"payload over {limit} bytes")
        return body
    return _decoded(stream, make_decoder, limit, encoding)


def _decoded(stream, make_decoder, limit: int, encoding: str) -> bytes:
    first = stream.read(PROBE_BYTES)
    decoder = make_decoder()
    try:
        out = bytearray(decoder.decompress(first, limit + 1))
    except DECODE_ERRORS:
        if encoding == "deflate":  # raw deflate, without the zlib header
            return _decoded_raw_deflate(first, stream, limit)
        return _identity(first, stream, limit)
    while True:
        if len(out) > limit:
            raise PayloadTooLarge(f"decoded payload over {limit} bytes ({encoding})")
        if decoder.pending():
            block = b""  # the decoder holds more output of what it was given
        else:
            block = stream.read(READ_BYTES)
            if not block:
                break
        try:
            out += decoder.decompress(block, limit + 1 - len(out))
        except DECODE_ERRORS as error:
            raise PayloadDecodeError(f"{encoding} body broke after {len(out)} bytes: {error}") from None
    return bytes(out)


def _decoded_raw_deflate(first: bytes, stream, limit: int) -> bytes:
    try:
        _Zlib(-zlib.MAX_WBITS).decompress(first, 1)
    except DECODE_ERRORS:
        return _identity(first, stream, limit)
    return _decoded(_Prefixed(first, stream), lambda: _Zlib(-zlib.MAX_WBITS), limit, "deflate")


def _identity(first: bytes, stream, limit: int) -> bytes:
    body = first + stream.read(max(limit + 1 - len(first), 0))
    if len(body) > limit:
        raise PayloadTooLarge(f"payload over {limit} bytes")
    return body


class _Prefixed:
    """A stream that gives ``prefix`` again before the rest of ``stream``."""

    def __init__(self, prefix: bytes, stream):
        self.prefix, self.stream = prefix, stream

    def read(self, size: int = -1) -> bytes:
        if self.prefix:
            head, self.prefix = self.prefix, b""
            return head
        return self.stream.read(size)
