"""Read WARC records with warcio into Arrow batches, one row per record.

Every record of the file becomes a row, whatever its type, so the accounting can close:
the HTTP check stage then removes what is not an HTML 200 response. A file that cannot be
opened, or whose compression or framing breaks part-way, yields one `corrupt_warc`
(or `open_error`) row for the damage after the rows of the records read before it.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime

import pyarrow as pa
from warcio.archiveiterator import ArchiveIterator
from warcio.exceptions import ArchiveLoadFailed

from crawlsieve.pipelines.config import ReadConfig
from crawlsieve.pipelines.inputs import open_location
from crawlsieve.pipelines.stages import ERROR, FAILED, error_text, with_decisions

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

#: What a broken file raises inside warcio and the gzip/zlib layers below it (AttributeError:
#: warcio's parser on a response record whose WARC-Target-URI was lost, found by tests/test_fuzz.py).
CORRUPTION = (
    ArchiveLoadFailed,
    zlib.error,
    EOFError,
    ValueError,
    OSError,
    IndexError,
    TypeError,
    AttributeError,
)


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


class _CheckedArchiveIterator(ArchiveIterator):
    """warcio ends quietly on a truncated file; this notices it.

    A gzip member cut short leaves its decompressor before end-of-stream; a plain record cut
    short leaves bytes of its Content-Length unread.
    """

    truncated = False

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
    dump_match = DUMP_IN_PATH.search(location)
    dump = dump_match.group(1) if dump_match else ""
    rows = _Rows()
    offset = 0
    try:
        handle = open_location(location, config.storage_options)
    except (OSError, ValueError) as error:
        rows.add(
            id=f"{shard}@open",
            warc_path=location,
            record_offset=0,
            **{FAILED: "open_error", ERROR: error_text(error)},
        )
        yield rows.table()
        return
    with handle:
        records = _CheckedArchiveIterator(handle)
        iterator = iter(records)
        rows_seen = 0
        while True:
            try:
                record = next(iterator)
                offset = records.offset  # start of this record; get_record_offset() would consume it
                if record.format != "warc":  # warcio also reads ARC, and takes most text files for ARC
                    rows.add(
                        **_damage_row(
                            shard, location, offset, f"not a WARC record ({record.format})", kind="not_warc"
                        )
                    )
                    break
                row = _record_row(record, location, shard, dump, offset, config)
                if record.rec_type == "warcinfo" and not dump:
                    dump = _dump_from_warcinfo(record) or dump
            except StopIteration:
                if not rows_seen:
                    rows.add(**_damage_row(shard, location, 0, "no WARC records", kind="empty_file"))
                elif records.truncated:
                    rows.add(**_damage_row(shard, location, records.offset or offset, "file truncated"))
                break
            except CORRUPTION as error:
                damage_at = records.offset if records.offset is not None else offset
                rows.add(**_damage_row(shard, location, damage_at, error_text(error)))
                break
            rows.add(**row)
            rows_seen += 1
            if len(rows) >= config.batch_records:
                yield rows.table()
                rows = _Rows()
    if len(rows):
        yield rows.table()


def _damage_row(shard: str, location: str, offset: int, error: str, kind: str = "corrupt_warc") -> dict:
    return {
        "id": f"{shard}@{offset}",
        "warc_path": location,
        "record_offset": offset,
        FAILED: kind,
        ERROR: error[:500],
    }


def _dump_from_warcinfo(record) -> str | None:
    try:
        body = record.content_stream().read(64_000).decode("utf-8", "replace")
    except CORRUPTION:
        return None
    match = DUMP_IN_PATH.search(body)
    return match.group(1) if match else None


def _record_row(record, location: str, shard: str, dump: str, offset: int, config: ReadConfig) -> dict:
    headers = record.rec_headers
    record_id = _record_id(headers.get_header("WARC-Record-ID"))
    row = {
        "id": record_id or f"{shard}@{offset}",
        "url": headers.get_header("WARC-Target-URI"),
        "warc_path": location,
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
    payload = record.content_stream().read(config.max_payload_bytes + 1)
    if len(payload) > config.max_payload_bytes:
        row[FAILED] = "payload_too_large"
        row[ERROR] = f"payload over {config.max_payload_bytes} bytes"
    else:
        row["html"] = payload
    return row


class HttpCheckStage:
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
                reasons.append("not_response")
            elif status != 200:
                reasons.append("http_status")
            elif media_type not in self.html_types:
                reasons.append("not_html")
            else:
                reasons.append(None)
        return with_decisions(batch, removed=reasons)
