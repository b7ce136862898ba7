"""Fuzzing the reader and the extractor with mutated WARC bytes and HTML (hypothesis).

CI runs a bounded, derandomized number of cases; a longer random run:

    CRAWLSIEVE_FUZZ_EXAMPLES=20000 .venv/bin/pytest tests/test_fuzz.py -q

The properties: nothing raises, nothing hangs (a per-case deadline), and every input is
accounted for: the reader yields a row for every record warcio can read, in file order, plus one
damage row per broken stretch, after which it goes on at the next record (so a broken gzip member
costs only its own record); the extractor returns one row per page, each with text or a decision.
"""

from __future__ import annotations

import io
import os
import zlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from warcio.archiveiterator import ArchiveIterator

from crawlsieve.core.stages import ERROR, FAILED, REMOVED
from crawlsieve.ingest.config import ExtractConfig, ReadConfig
from crawlsieve.ingest.extract import ExtractStage
from crawlsieve.ingest.warc import _record_id, read_warc
from crawlsieve.samples.warcs import Record, html_page, write_warc

LONG_RUN = "CRAWLSIEVE_FUZZ_EXAMPLES" in os.environ
FUZZ = settings(
    max_examples=int(os.environ.get("CRAWLSIEVE_FUZZ_EXAMPLES", "200")),
    deadline=timedelta(seconds=15),  # a case slower than this counts as a hang
    derandomize=not LONG_RUN,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
DAMAGE = {"corrupt_warc", "open_error", "not_warc", "empty_file"}
ARTICLE = (
    "The river authority published a long report about the floods of the last winter. "
    "It describes how the water rose in the northern district and what the city will do next."
)


def _seed_warcs() -> list[bytes]:
    """A small real WARC (gzip per record, as Common Crawl writes them) and its plain form."""
    import gzip
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "seed.warc.gz"
        write_warc(
            path,
            [
                Record("https://a.example/1", html_page("One", [ARTICLE, ARTICLE]).encode()),
                Record(
                    "https://a.example/2",
                    html_page("Zwei", ["Straße über dem Fluß"], charset="iso-8859-1").encode("iso-8859-1"),
                    content_type="text/html; charset=iso-8859-1",
                ),
                Record("https://a.example/3.png", b"\x89PNG\r\n\x1a\n" + bytes(40), content_type="image/png"),
            ],
            datetime(2024, 3, 1, tzinfo=UTC),
        )
        data = path.read_bytes()
    return [data, gzip.decompress(data)]


SEED_WARCS = _seed_warcs()
SEED_HTML = [
    html_page("A page", [ARTICLE] * 3).encode(),
    html_page("Seite", ["Die Straße über dem Fluß wurde gesperrt."] * 4, charset="iso-8859-1").encode(
        "iso-8859-1"
    ),
    b"<html><body>" + b"<div>" * 300 + ARTICLE.encode() + b"</div>" * 300 + b"</body></html>",
    b"<table><tr><td>" + ARTICLE.encode() + b"</td></tr></table><script>var x = '</p>';</script>",
]


@st.composite
def mutated(draw, seeds: list[bytes]) -> bytes:
    """A seed with a few bytes flipped, inserted, deleted or repeated, or cut short."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        operation = draw(st.sampled_from(["flip", "insert", "delete", "repeat", "truncate"]))
        if operation == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif operation == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=64))
        elif operation == "delete":
            del data[at : at + draw(st.integers(1, 256))]
        elif operation == "repeat":
            data[at:at] = data[at : at + draw(st.integers(1, 512))]
        else:
            del data[at:]
    return bytes(data)


def records_warcio_reads(data: bytes) -> list[str | None]:
    """The ids of the records plain warcio yields before the bytes stop making sense."""
    ids = []
    try:
        for record in ArchiveIterator(io.BytesIO(data)):
            if record.format != "warc":
                break
            ids.append(_record_id(record.rec_headers.get_header("WARC-Record-ID")))
    except Exception:
        pass
    return ids


def _read(path: Path, batch_records: int = 200) -> list[dict]:
    config = ReadConfig(batch_records=batch_records)
    return [row for batch in read_warc(str(path), "fuzz", config) for row in batch.to_pylist()]


@FUZZ
@given(data=mutated(SEED_WARCS), batch_records=st.sampled_from([1, 3, 200]))
def test_reader_never_raises_and_accounts_for_every_record_of_mutated_warcs(
    tmp_path_factory, data, batch_records
):
    path = tmp_path_factory.mktemp("fuzz") / "mutated.warc.gz"
    path.write_bytes(data)
    rows = _read(path, batch_records)
    assert rows and all(row["id"] and row["warc_path"] == str(path) for row in rows)
    damage = [row for row in rows if row[FAILED] in DAMAGE]
    records = [row for row in rows if row[FAILED] not in DAMAGE]
    # Everything warcio reads before it gives up, we read too, in the same order; after damage we
    # go on at the next record, so we may read more, never less.
    prefix = [row["warc_record_id"] for row in records[: len(records_warcio_reads(data))]]
    assert prefix == records_warcio_reads(data)[: len(prefix)]
    offsets = [row["record_offset"] for row in rows]
    assert offsets == sorted(offsets), "rows out of file order"
    assert len({row["record_offset"] for row in damage}) == len(damage), "one stretch counted twice"


def _members(data: bytes) -> list[bytes]:
    """The gzip members of a gzip-per-record file."""
    members, rest = [], data
    while rest:
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        decompressor.decompress(rest)
        members.append(rest[: len(rest) - len(decompressor.unused_data)])
        rest = decompressor.unused_data
    return members


@pytest.mark.parametrize("broken", range(10))
def test_a_broken_gzip_member_costs_only_its_own_record(tmp_path, broken):
    members = _members(SEED_WARCS[0])
    assert len(members) == 10
    damaged = bytearray(members[broken])
    damaged[len(damaged) // 2 : len(damaged) // 2 + 8] = b"\xff" * 8
    path = tmp_path / "one-broken.warc.gz"
    path.write_bytes(b"".join([*members[:broken], bytes(damaged), *members[broken + 1 :]]))
    rows = _read(path)
    intact = _read_members([m for i, m in enumerate(members) if i != broken], tmp_path)
    assert [r["id"] for r in rows if not r[FAILED]] == [r["id"] for r in intact]
    assert [r[FAILED] for r in rows if r[FAILED]] == ["corrupt_warc"]


def _read_members(members: list[bytes], directory: Path) -> list[dict]:
    path = directory / "intact.warc.gz"
    path.write_bytes(b"".join(members))
    return _read(path)


CHARSETS = [
    None,
    "utf-8",
    "iso-8859-1",
    "windows-1251",
    "shift_jis",
    "utf-16",
    "x-no-such-charset",
    "",
    "utf-8\x00",
]


@FUZZ
@given(
    pages=st.lists(
        st.tuples(
            st.one_of(mutated(SEED_HTML), st.binary(max_size=2000), st.text(max_size=500).map(str.encode)),
            st.sampled_from(CHARSETS),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_extractor_never_raises_and_returns_text_or_a_decision_for_every_page(pages):
    batch = pa.table(
        {
            "id": [str(i) for i in range(len(pages))],
            "html": pa.array([p for p, _ in pages], pa.binary()),
            "http_charset": pa.array([c for _, c in pages], pa.string()),
        }
    )
    out = ExtractStage(ExtractConfig(timeout_seconds=5))(batch)
    assert out.column("id").to_pylist() == batch.column("id").to_pylist()
    for row in out.to_pylist():
        decided = row.get(REMOVED) is not None or row.get(FAILED) is not None
        assert (row["text"] is not None) != decided, row
        assert row[FAILED] is None or row[ERROR], "a failure without its error"
        assert row["charset"] is not None or row[FAILED] is not None


def test_mutations_reach_the_damage_paths_of_the_reader(tmp_path):
    """Guards the fuzzer itself: a cut-short seed must come out as a damage row."""
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(SEED_WARCS[0][: len(SEED_WARCS[0]) - 100])
    rows = _read(path)
    assert rows[-1][FAILED] == "corrupt_warc"
    assert len(rows) - 1 == len(records_warcio_reads(path.read_bytes()))


@pytest.mark.parametrize("seed", range(len(SEED_WARCS)))
def test_unmutated_seeds_read_cleanly(tmp_path, seed):
    path = tmp_path / "seed.warc"
    path.write_bytes(SEED_WARCS[seed])
    rows = _read(path)
    assert len(rows) == len(records_warcio_reads(SEED_WARCS[seed])) == 1 + 3 * 3
    assert not any(row[FAILED] for row in rows)
