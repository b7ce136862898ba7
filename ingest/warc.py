"""Read WARC records with warcio into Arrow batches, one row per record.

Every record of the file becomes a row, whatever its type, so the accounting can close:
the HTTP check stage then removes what is not an HTML 200 response. A file that cannot be
opened is one `open_error` row; a stretch whose compression or framing is broken is one
`corrupt_warc` row, and reading goes on at the next record after it (``WarcFile``). A remote
file the server stops serving (past `read.http`'s retries) ends in one `unfinished_file` row.
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader

from crawlsieve.core.ledger import NOT_RESPONSE, UNFINISHED_FILE, unique_id
from crawlsieve.core.stages import ERROR, FAILED, Stage, error_text, with_decisions
from crawlsieve.ingest.config import ReadConfig
from crawlsieve.ingest.http_payload import PayloadTooLarge, read_payload
from crawlsieve.ingest.inputs import display_location, open_location
from crawlsieve.ingest.remote import RemoteUnavailable

DUMP_IN_PATH = re.compile(r"(CC-MAIN-\d{4}-\d{2})")
#: A status line's code; anything else (overflowing numbers, non-ASCII digits) is stored as null.
HTTP_STATUS = re.compile(r"[1-5][0-9]{2}", re.ASCII)

RECORD_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("url", pa.string()),
        ("warc_path", pa.string()),
        ("warc_record_id", pa.string()),
        ("record_offset", pa.int64()),
        ("record_type", pa.string()),
        ("fetch_time", pa.timestamp("us", tz="UTC")),
        ("dump", pa.string()),
        ("payload_digest", pa.string()),
        ("http_status", pa.int32()),
        ("content_type", pa.string()),
        ("http_charset", pa.string()),
        ("html", pa.binary()),
        (FAILED, pa.string()),
        (ERROR, pa.string()),
    ]
)

#: Bytes read at a time while looking for the next record after a damaged one.
SCAN_BYTES = 1 << 20
GZIP_MEMBER = b"\x1f\x8b\x08"
#: Not only at a line start: the bytes before a record may be damage without a line end (zeros).
PLAIN_RECORD = b"WARC/1."
RECORD_START = re.compile(rb"WARC/1\.[01]\r?\n")
#: The longest header line read (WARC and HTTP headers, the lines between records). A real one is
#: a few kB, and the 1 MB lines of tests/test_malformed.py are read; past this bound the stretch is
#: damage, found in time and memory linear in the bound however long the bytes go on without a
#: line end.
MAX_LINE_BYTES = 4 << 20


#: A Content-Length past this is no length (a plain file's record would swallow the rest of it).
MAX_CONTENT_LENGTH = (1 << 63) - 1


class LineTooLong(ValueError):
    """No line end within ``MAX_LINE_BYTES``; ``offset``: where the line starts in a plain file."""

    def __init__(self, offset: int | None):
        super().__init__(f"no line end within {MAX_LINE_BYTES >> 20} MiB (a header line is short)")
        self.offset = offset


class RecordEndsInsideMember(ValueError):
    """A record of a gzip-per-record file ended (by its Content-Length) before its gzip member did."""


def _parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    """Split `text/html; charset=ISO-8859-1` into its media type and charset."""
    if not value:
        return None, None
    parts = [p.strip() for p in value.split(";")]
    charset = None
    for part in parts[1:]:
        key, _, val = part.partition("=")
        if key.strip().lower() == "charset" and val:
            charset = val.strip().strip("\"'") or None
    return parts[0].lower() or None, charset


def _record_id(header: str | None) -> str | None:
    if not header:
        return None
    return header.strip("<>").removeprefix("urn:uuid:")


class _BoundedLines(DecompressingBufferedReader):
    """warcio's reader with a bounded, linear ``readline``.

    warcio's own appends each 16 kB block to the line read so far, so its time grows with the
    square of a line's length (64 MB without a line end: minutes), and it holds the whole line.
    This one joins the pieces once and stops at ``MAX_LINE_BYTES``; a caller that asks for a
    shorter line (a record's remaining length) gets warcio's answer.
    """

    def readline(self, length=None):
        if length == 0:
            return b""
        asked = length if length is not None and length > 0 else None
        limit = MAX_LINE_BYTES if asked is None else min(asked, MAX_LINE_BYTES)
        pieces, size = [], 0
        while size < limit:
            self._fillbuff()
            if self.empty():
                break
            piece = self.buff.readline(limit - size)
            pieces.append(piece)
            size += len(piece)
            if piece.endswith(b"\n"):
                return b"".join(pieces)
        if size >= MAX_LINE_BYTES and (asked is None or asked > MAX_LINE_BYTES):
            plain = self.decompressor is None and hasattr(self.stream, "tell")
            raise LineTooLong(self.stream.tell() - self.rem_length() - size if plain else None)
        return b"".join(pieces)


class _Records(ArchiveIterator):
    """warcio's iterator, made to notice what it would pass over in silence.

    A gzip member cut short leaves its decompressor before end-of-stream, and a plain record cut
    short leaves bytes of its Content-Length unread: both set ``truncated``. A `.warc.gz` written
    as one gzip member (valid, just not seekable per record) is read whole instead of refused;
    its records' offsets are then positions in the decompressed stream (``single_member``). A
    record whose Content-Length ends inside its gzip member, with lines that open no record after
    it, raises ``RecordEndsInsideMember``: the rest of that member is damage, and the next member
    can be read (warcio would take the file for one member and parse the leftover as a record).
    Lines are read through ``_BoundedLines``.
    """

    truncated = False
    single_member = False

    def __init__(self, fileobj):
        super().__init__(fileobj)
        self.start = self.offset
        self.reader = _BoundedLines(self.fh)

    def _raise_invalid_gzip_err(self):
        self.single_member = True

    def _next_record(self, next_line):
        record = super()._next_record(next_line)
        if record.length is not None and record.length > MAX_CONTENT_LENGTH:
            raise OverflowError(f"Content-Length {record.length} does not fit in 64 bits")
        return record

    def read_to_end(self, record=None):
        record_offset = self.offset
        try:
            super().read_to_end(record)
        except LineTooLong as error:  # after the record: the long line is where the damage starts
            self.offset = record_offset if error.offset is None else error.offset
            raise
        reader = self.reader
        if reader is None:
            return
        if reader.decompressor is not None and self.next_line and not self.single_member:
            if not RECORD_START.match(self.next_line):
                self.offset = record_offset
                raise RecordEndsInsideMember(
                    "the record's Content-Length ends inside its gzip member, before lines that "
                    f"open no record: {self.next_line[:60]!r}"
                )
            self.single_member = True
        if self.single_member:
            # Records inside one gzip member: warcio's offsets (compressed bytes minus buffered
            # decompressed ones) mean nothing here, so count decompressed bytes.
            buffered = reader.buff_size - reader.buff.tell() if reader.buff else 0
            self.offset = self.start + reader.num_read - buffered - len(self.next_line or b"")

    def close(self):
        decompressor = self.reader.decompressor if self.reader else None
        if decompressor is not None and not getattr(decompressor, "eof", True):
            self.truncated = True
        if self.record is not None and getattr(self.record.raw_stream, "limit", 0) > 0:
            self.truncated = True
        super().close()


class _Rows:
    """Column lists for one batch; rows are appended in record order."""

    def __init__(self) -> None:
        self.columns: dict[str, list] = {name: [] for name in RECORD_SCHEMA.names}

    def add(self, **values) -> None:
        for name, column in self.columns.items():
            column.append(values.get(name))

    def __len__(self) -> int:
        return len(self.columns["id"])

    def table(self) -> pa.Table:
        return pa.table(self.columns, schema=RECORD_SCHEMA)


def read_warc(location: str, shard: str, config: ReadConfig) -> Iterator[pa.Table]:
    """Yield batches of at most ``config.batch_records`` rows, one per WARC record."""
    rows = _Rows()
    for row in WarcFile(location, shard, config).rows():
        rows.add(**row)
        if len(rows) >= config.batch_records:
            yield rows.table()
            rows = _Rows()
    if len(rows):
        yield rows.table()


class WarcFile:
    """Every record of one WARC file as a row, and one damage row per stretch that cannot be read.

    One bad record must not cost the rest of its file: whatever warcio raises for a record
    (a broken gzip member, a header it cannot parse, an overflowing Content-Length, ...) is
    that stretch's `corrupt_warc` row, and reading goes on at the next record start found after
    it (the next gzip member that opens with a WARC header, or a `WARC/1.x` line in a plain
    file). Where reading cannot go on (a stream that cannot seek, one gzip member for the
    whole file), the bytes left are counted in a `truncated_file` row, so no unread record
    hides behind an accounting that closes.
    """

    def __init__(self, location: str, shard: str, config: ReadConfig):
        self.location, self.shard, self.config = location, shard, config
        self.warc_path = display_location(location)
        dump_match = DUMP_IN_PATH.search(location)
        self.dump = dump_match.group(1) if dump_match else ""
        self.seen_ids: set[str] = set()
        self.records = 0

    def rows(self) -> Iterator[dict]:
        try:
            handle = open_location(self.location, self.config)
        except RemoteUnavailable as gone:
            yield self._unfinished(gone)
            return
        except Exception as error:
            yield self._damage(0, error_text(error), kind="open_error")
            return
        with handle:
            size = _size(handle)
            start: int | None = 0
            try:
                while start is not None:
                    start = yield from self._stretch(handle, start, size)
            except RemoteUnavailable as gone:
                yield self._unfinished(gone)

    def _unfinished(self, gone: RemoteUnavailable) -> dict:
        """The row of a file the server stopped serving: it ends the file's reading, and the file
        is not marked done (`pipelines.extract_phase`), so --resume reads it again from the start."""
        if gone.size is None:
            unread = f"nothing received after byte {gone.position}"
        else:
            unread = f"{gone.size - gone.position} of {gone.size} bytes not received"
        return self._damage(gone.position, f"{gone}; {unread}", kind=UNFINISHED_FILE)

    def _stretch(self, handle, start: int, size: int | None):
        """Rows from ``start`` to the end of the file or the next damage; returns where to go on."""
        try:
            if start:  # a pipe cannot seek, and need not at the start
                handle.seek(start)
            records = _Records(handle)
            iterator = iter(records)
        except Exception as error:
            yield self._damage(start, error_text(error))
            return None
        damaged_at, error = None, None
        while True:
            try:
                record = next(iterator)
                offset = records.offset
                if record.format != "warc":  # warcio also reads ARC, and takes most text files for ARC
                    if start == 0 and not self.records:
                        yield self._damage(0, f"not a WARC record ({record.format})", kind="not_warc")
                        return None
                    damaged_at, error = offset, f"not a WARC record ({record.format})"
                    break
                row = self._row(record, offset)
            except StopIteration:
                nothing_read = start == 0 and not self.records
                if records.truncated and not nothing_read:  # an empty file "truncates" its first member
                    damaged_at, error = records.offset or start, "file truncated"
                break
            except Exception as failure:
                damaged_at = records.offset if records.offset is not None else start
                error = error_text(failure)
                break
            self.records += 1
            yield row
        if damaged_at is None:
            if start == 0 and not self.records:
                yield self._damage(0, "no WARC records", kind="empty_file")
            return None
        if records.single_member:
            read_to = _compressed_offset(handle, start, damaged_at - start) if size else None
            left = f"; {size - read_to} of {size} bytes unread" if read_to is not None else ""
            yield self._damage(damaged_at, f"{error} in a single-gzip-member file{left}", "truncated_file")
            return None
        resume = _next_record_start(handle, max(damaged_at, start) + 1)
        skipped = f"; went on at byte {resume}" if resume is not None else ""
        yield self._damage(damaged_at, f"{error}{skipped}")
        return resume

    def _damage(self, offset: int, error: str, kind: str = "corrupt_warc") -> dict:
        return {
            "id": f"{self.shard}@{offset}",
            "warc_path": self.warc_path,
            "record_offset": offset,
            FAILED: kind,
            ERROR: error[:500],
        }

    def _row(self, record, offset: int) -> dict:
        row = _record_row(record, self.warc_path, self.dump, offset, self.config)
        record_id = row["warc_record_id"]
        if record_id is None:
            row["id"] = f"{self.shard}@{offset}"
        elif record_id in self.seen_ids:
            row["id"] = unique_id(record_id, self.shard, offset)
        else:
            self.seen_ids.add(record_id)
        if record.rec_type == "warcinfo" and not self.dump:
            self.dump = _dump_from_warcinfo(record) or self.dump
            row["dump"] = self.dump
        return row


def _size(handle) -> int | None:
    try:
        return int(handle.size)
    except (AttributeError, TypeError, ValueError):
        pass
    try:
        return os.fstat(handle.fileno()).st_size
    except (AttributeError, OSError, ValueError):
        return None


def _compressed_offset(handle, start: int, decompressed: int) -> int | None:
    """The file offset where the gzip data from ``start`` has given ``decompressed`` bytes, or None.

    In a single-member file the damage's offset counts decompressed bytes, and warcio has read
    the file ahead in blocks: the bytes left unread are counted from here, not from where the
    handle stands.
    """
    try:
        handle.seek(start)
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        position, pending = start, b""
        while decompressed > 0:
            data = pending or handle.read(SCAN_BYTES)
            if not data:
                return position
            decompressed -= len(inflate.decompress(data, decompressed))
            pending = inflate.unconsumed_tail or inflate.unused_data
            position += len(data) - len(pending)
            if inflate.eof:
                inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        return position
    except Exception:  # a stream that cannot seek, or data that does not inflate: no count
        return None


def _next_record_start(handle, position: int) -> int | None:
    """The offset of the first gzip member or plain record at or after ``position`` that opens
    with a WARC header line, or None. A candidate must decode to ``WARC/1.x``: compressed bytes
    contain the gzip magic by chance about once per 16 MB.
    """
    try:
        handle.seek(0)
        gzipped = handle.read(2) == GZIP_MEMBER[:2]
        magic = GZIP_MEMBER if gzipped else PLAIN_RECORD
        while True:
            handle.seek(position)
            chunk = handle.read(SCAN_BYTES)
            at = chunk.find(magic)
            while at != -1:
                candidate = position + at
                if _opens_a_record(handle, candidate, gzipped):
                    return candidate
                at = chunk.find(magic, at + 1)
            if len(chunk) < SCAN_BYTES:
                return None
            position += len(chunk) - len(magic) + 1
    except Exception:  # a stream that cannot seek: the caller counts what is left
        return None


def _opens_a_record(handle, offset: int, gzipped: bool) -> bool:
    handle.seek(offset)
    head = handle.read(4096)
    if gzipped:
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 64)
        except zlib.error:
            return False
    return RECORD_START.match(head) is not None


def _dump_from_warcinfo(record) -> str | None:
    try:
        body = record.content_stream().read(64_000).decode("utf-8", "replace")
    except Exception:  # a warcinfo body we cannot read only costs the dump name
        return None
    match = DUMP_IN_PATH.search(body)
    return match.group(1) if match else None


def _record_row(record, warc_path: str, dump: str, offset: int, config: ReadConfig) -> dict:
    headers = record.rec_headers
    record_id = _record_id(headers.get_header("WARC-Record-ID"))
    row = {
        "id": record_id,
        "url": headers.get_header("WARC-Target-URI"),
        "warc_path": warc_path,
        "warc_record_id": record_id,
        "record_offset": offset,
        "record_type": record.rec_type,
        "fetch_time": _parse_date(headers.get_header("WARC-Date")),
        "dump": dump,
        "payload_digest": headers.get_header("WARC-Payload-Digest"),
    }
    if record.rec_type != "response" or record.http_headers is None:
        return row
    status = record.http_headers.get_statuscode()
    row["http_status"] = int(status) if status and HTTP_STATUS.fullmatch(status) else None
    media_type, charset = _content_type(record.http_headers.get_header("Content-Type"))
    row["content_type"], row["http_charset"] = media_type, charset
    if row["http_status"] != 200 or media_type not in config.html_content_types:
        return row  # the HTTP check removes it; its payload is never needed
    try:
        row["html"] = read_payload(record, config.max_payload_bytes)
    except PayloadTooLarge as error:
        row[FAILED], row[ERROR] = "payload_too_large", str(error)
    except Exception as error:  # this record's body, not the file: reading goes on
        row[FAILED], row[ERROR] = "payload_decode_error", error_text(error)
    return row


class HttpCheckStage(Stage):
    """Only HTTP 200 responses with an HTML content type go on to extraction."""

    name = "http"

    def __init__(self, config: ReadConfig):
        self.html_types = set(config.html_content_types)

    def __call__(self, batch: pa.Table) -> pa.Table:
        reasons = []
        for rec_type, status, media_type in zip(
            batch.column("record_type").to_pylist(),
            batch.column("http_status").to_pylist(),
            batch.column("content_type").to_pylist(),
            strict=True,
        ):
            if rec_type != "response":
                reasons.append(NOT_RESPONSE)
            elif status != 200:
                reasons.append("http_status")
            elif media_type not in self.html_types:
                reasons.append("not_html")
            else:
                reasons.append(None)
        return with_decisions(batch, removed=reasons)
