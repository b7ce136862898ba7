"""End-to-end runs of the pipeline on a real local Ray: inputs, accounting, bad input, determinism."""

from __future__ import annotations

import gzip
import itertools
import json
import random
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from run_outputs import data_rows
from warcio.archiveiterator import ArchiveIterator

from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import Record, html_page, sentence, write_warc

ARTICLE = (
    "The river authority published a long report about the floods of the last winter. "
    "It describes how the water rose in the northern district and what the city will do next. "
    "Several volunteers helped the families who had to leave their homes for a few days."
)


def run(inputs, output: Path, config: Config | None = None, **kwargs) -> dict:
    kwargs.setdefault("report", False)
    return run_pipeline([str(i) for i in inputs], output, config or Config(), log=lambda m: None, **kwargs)


def assert_accounting(stats: dict, output: Path) -> None:
    total = stats["documents_kept"] + sum(stats["removed"].values()) + sum(stats["failed"].values())
    assert stats["records_read"] == total
    assert stats["accounting_closes"] is True
    for path, row in stats["inputs"].items():
        assert row["records_read"] == row["documents_kept"] + sum(row["removed"].values()) + sum(
            row["failed"].values()
        ), path
    rows = ds.dataset(output / "data", format="parquet", partitioning="hive").count_rows()
    assert rows == stats["documents_kept"]
    assert json.loads((output / "stats.json").read_text())["records_read"] == stats["records_read"]


def decoding_config() -> Config:
    """Text filters in tag mode: tests of reading and decoding must not depend on a page's quality."""
    config = Config()
    for name in (
        "repetition",
        "compression",
        "chinese",
        "gopher_quality",
        "gopher_repetition",
        "c4",
        "fineweb_quality",
    ):
        getattr(config.filters, name).mode = "tag"
    config.filters.encoding.mode = "tag"
    return config


def one_page_warc(path: Path, records: list[Record]) -> Path:
    write_warc(path, records, datetime(2024, 3, 1, tzinfo=UTC))
    return path


def test_shared_corpus_run_keeps_pages_and_closes_the_accounting(ray_local, shared_corpus, tmp_path):
    stats = run([shared_corpus / "warc" / "*.warc.gz"], tmp_path / "out")
    assert_accounting(stats, tmp_path / "out")
    assert stats["records_read"] > 1000
    assert stats["documents_kept"] > 100
    assert stats["removed"]["not_response"] > 600  # request, metadata and warcinfo records
    languages = {
        row["language"]
        for row in ds.dataset(tmp_path / "out" / "data", partitioning="hive")
        .to_table(columns=["language"])
        .to_pylist()
    }
    assert {"en", "de"} <= languages


def test_sample_warcs_every_record_is_accounted_for_per_stage(ray_local, sample_warcs, tmp_path):
    stats = run(sample_warcs, tmp_path / "out", report=True)
    assert_accounting(stats, tmp_path / "out")
    assert stats["removed"]["not_html"] >= 1 and stats["removed"]["http_status"] >= 1
    assert stats["failed"]["corrupt_warc"] == 1  # the sample set has one truncated file
    stages = stats["stages"]
    assert [s["name"] for s in stages][:3] == ["read", "http", stages[2]["name"]]
    for before, after in itertools.pairwise(stages):
        assert after["in"] == before["out"]
    assert stages[0]["in"] == stats["records_read"]
    responses = sum(
        1
        for path in sample_warcs
        for record in ArchiveIterator(open(path, "rb"))  # noqa: SIM115
        if record.rec_type == "response"
    )
    assert stats["pages_read"] == responses
    assert stats["pages_read"] + sum(stats["other_records"].values()) == stats["records_read"]
    assert stats["other_records"]["damaged_stretches"] == 1
    assert stats["pages_kept_share"] == pytest.approx(stats["documents_kept"] / responses, abs=1e-6)
    page = (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert f"Pages (HTTP responses) read: <b>{responses}</b>" in page

    cost = stats["cost"]
    parts = cost["cpu_seconds"]
    assert {"read", "extract", "heuristic_filters", "dedup", "driver", "finalize:write"} <= set(parts)
    assert all(seconds >= 0 for seconds in parts.values()) and parts["extract"] > 0
    assert cost["cpu_seconds_total"] == pytest.approx(sum(parts.values()), abs=0.01)
    per_page = cost["cpu_seconds_total"] / responses
    assert cost["core_seconds_per_1000_pages"] == pytest.approx(1000 * per_page, rel=1e-3)
    assert per_page > 0
    assert cost["dump"]["core_hours"] == pytest.approx(per_page * 3e9 / 3600, rel=1e-3)
    assert cost["dump"]["cost"] is None  # no price configured
    assert "core-seconds per 1,000 pages" in page and 'id="cost"' in page
    assert set(stats["phases"]["wall_seconds"]) == {"startup", "extract", "dedup", "finalize", "aggregate"}


def test_input_forms_local_glob_listing_gzip_listing_https_and_s3(
    ray_local, sample_warcs, https_server, s3_server, tmp_path
):
    import fsspec

    base_url, served = https_server
    first = sample_warcs[0]
    shutil.copy(first, served / first.name)
    listing = tmp_path / "paths.txt"
    listing.write_text(f"{sample_warcs[1]}\n# a comment\n\n")
    gz_listing = tmp_path / "paths.txt.gz"
    gz_listing.write_bytes(gzip.compress(f"{sample_warcs[2].name}\n".encode()))
    shutil.copy(sample_warcs[2], tmp_path / sample_warcs[2].name)
    s3 = fsspec.filesystem("s3", **s3_server)
    s3.mkdir("warcs")
    s3.put(str(sample_warcs[3]), f"warcs/{sample_warcs[3].name}")
    config = Config()
    config.read.storage_options = {"s3": s3_server}
    inputs = [
        f"{base_url}/{first.name}",
        f"@{listing}",
        f"@{gz_listing}",
        f"s3://warcs/{sample_warcs[3].name}",
    ]
    stats = run(inputs, tmp_path / "out", config)
    assert_accounting(stats, tmp_path / "out")
    assert len(stats["inputs"]) == 4
    assert all(row["records_read"] > 50 for row in stats["inputs"].values())
    assert not any(kind == "open_error" for row in stats["inputs"].values() for kind in row["failed"])


def test_crawl_name_resolves_its_listing_and_limit_takes_the_first_files(
    ray_local, sample_warcs, https_server, tmp_path
):
    base_url, served = https_server
    crawl = served / "crawl-data" / "CC-MAIN-2024-10"
    crawl.mkdir(parents=True, exist_ok=True)
    for warc in sample_warcs:
        shutil.copy(warc, crawl / warc.name)
    (crawl / "warc.paths.gz").write_bytes(
        gzip.compress("".join(f"crawl-data/CC-MAIN-2024-10/{w.name}\n" for w in sample_warcs).encode())
    )
    config = Config()
    config.read.crawl_base_url = base_url
    stats = run(["CC-MAIN-2024-10"], tmp_path / "out", config, limit=2)
    assert_accounting(stats, tmp_path / "out")
    assert sorted(stats["inputs"]) == [
        f"{base_url}/crawl-data/CC-MAIN-2024-10/{w.name}" for w in sample_warcs[:2]
    ]
    dumps = ds.dataset(tmp_path / "out" / "data", partitioning="hive").to_table(columns=["dump"])
    assert set(dumps.column("dump").to_pylist()) == {"CC-MAIN-2024-10"}


def test_corrupt_and_broken_files_are_counted_and_the_other_files_still_run(
    ray_local, sample_warcs, tmp_path
):
    good = sample_warcs[0]
    data = good.read_bytes()
    truncated = tmp_path / "truncated.warc.gz"
    truncated.write_bytes(data[: len(data) // 2])
    garbage = tmp_path / "garbage.warc.gz"
    garbage.write_bytes(data[:3000] + b"\x00garbage, not gzip\x00" * 50 + data[3000:6000])
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    not_warc = tmp_path / "notes.warc"
    not_warc.write_text("this is a text file, not a WARC\n" * 20)
    stats = run([good, truncated, garbage, empty, not_warc], tmp_path / "out")
    assert_accounting(stats, tmp_path / "out")
    per = stats["inputs"]
    assert per[str(truncated)]["failed"] == {"corrupt_warc": 1}
    assert 0 < per[str(truncated)]["records_read"] - 1 < per[str(good)]["records_read"]
    # The records before the damage were processed to the end: they are the good file's own
    # records (the same WARC-Record-IDs and texts), so dedup removes them as its exact copies.
    assert per[str(truncated)]["removed"].get("dedup:exact", 0) > 0
    # Two damaged stretches: the garbage, and the cut at 6,000 bytes; reading went on between them.
    assert per[str(garbage)]["failed"].get("corrupt_warc") == 2
    assert per[str(not_warc)]["failed"] == {"not_warc": 1}
    assert per[str(empty)]["failed"] == {"empty_file": 1}
    assert per[str(good)]["failed"] == {}


def test_non_html_and_non_200_records_are_removed_with_their_reason(ray_local, tmp_path):
    warc = one_page_warc(
        tmp_path / "mixed.warc.gz",
        [
            Record("https://a.example/page", html_page("A page", [ARTICLE]).encode()),
            Record("https://a.example/data.json", b'{"a": 1}', content_type="application/json"),
            Record("https://a.example/gone", html_page("Gone", [ARTICLE]).encode(), status=404),
        ],
    )
    stats = run([warc], tmp_path / "out", decoding_config())
    assert_accounting(stats, tmp_path / "out")
    assert stats["documents_kept"] == 1
    assert stats["removed"]["not_html"] == 1 and stats["removed"]["http_status"] == 1
    # warcinfo + (request, response, metadata) per page
    assert stats["removed"]["not_response"] == 1 + 3 * 2


CHARSET_PAGES = {
    "iso-8859-1": [
        "Die Straße über dem Fluß wurde für große Lastwagen gesperrt, sagte der Bürgermeister am Montag.",
        "Nach Angaben der Stadt müssen die Brücke und die Straße im nächsten Jahr repariert werden.",
        "Die Anwohner können den Fluss weiterhin zu Fuß und mit dem Fahrrad überqueren, heißt es im Bericht.",
    ],
    "windows-1251": [
        "Городской совет обсудил новый план для старой гавани и бюджет на следующий год.",
        "По словам мэра, ремонт моста начнётся весной и продлится почти два года.",
        "Жители района смогут пользоваться пешеходным переходом во время всех работ.",
    ],
    "shift_jis": [
        "市役所は古い港の再開発計画と来年の予算について話し合いました。",
        "市長によると、橋の修理は春に始まり、およそ二年間続く予定です。",
        "工事の間も、住民は歩行者用の通路を使うことができると報告書に書かれています。",
    ],
}


@pytest.mark.parametrize(
    ("charset", "declared_in_http"), [("iso-8859-1", False), ("windows-1251", False), ("shift_jis", True)]
)
def test_pages_in_other_charsets_decode_to_the_right_text(ray_local, tmp_path, charset, declared_in_http):
    paragraphs = CHARSET_PAGES[charset]
    # Where the HTTP header declares the charset, the <meta> lies (says utf-8): the header wins.
    html = html_page("Title", paragraphs, charset="utf-8" if declared_in_http else charset)
    content_type = f"text/html; charset={charset}" if declared_in_http else "text/html"
    warc = one_page_warc(
        tmp_path / "charset.warc.gz",
        [
            Record(
                "https://b.example/page",
                html.encode(charset, errors="xmlcharrefreplace"),
                content_type=content_type,
            )
        ],
    )
    stats = run([warc], tmp_path / "out", decoding_config())
    assert_accounting(stats, tmp_path / "out")
    text = (
        ds.dataset(tmp_path / "out" / "data", partitioning="hive")
        .to_table(columns=["text"])["text"][0]
        .as_py()
    )
    for line in paragraphs:
        assert line in text


def test_undecodable_bytes_never_crash_a_worker(ray_local, tmp_path):
    warc = one_page_warc(
        tmp_path / "bytes.warc.gz",
        [
            Record("https://c.example/1", bytes(range(256)) * 100, content_type="text/html; charset=utf-8"),
            Record(
                "https://c.example/2",
                b"<html><body><p>" + b"\xff\xfe\xfa" * 500 + b"</p></body></html>",
                content_type="text/html; charset=x-no-such-charset",
            ),
            Record("https://c.example/3", html_page("Ok", [ARTICLE]).encode()),
        ],
    )
    stats = run([warc], tmp_path / "out", decoding_config())
    assert_accounting(stats, tmp_path / "out")
    assert stats["documents_kept"] >= 1


def test_two_runs_with_different_parallelism_give_identical_rows(ray_local, sample_warcs, tmp_path):
    wide, narrow = Config(), Config()
    narrow.ray.cpus_per_shard_task = 2  # one file at a time on this 2-CPU Ray
    narrow.read.batch_records = 7  # and small batches
    run(sample_warcs, tmp_path / "wide", wide)
    run(sample_warcs, tmp_path / "narrow", narrow)

    assert data_rows(tmp_path / "wide") == data_rows(tmp_path / "narrow")
    files = lambda root: sorted(p.relative_to(root) for p in (root / "data").rglob("*.parquet"))  # noqa: E731
    assert files(tmp_path / "wide") == files(tmp_path / "narrow")


def test_fasttext_in_this_environment_can_train(tmp_path):
    import fasttext

    rng = random.Random(3)
    spam = ["buy", "cheap", "pills", "now", "click", "here", "free", "casino", "win", "prize"]
    lines = [f"__label__good {sentence(rng, 'en')} {sentence(rng, 'en')}" for _ in range(200)]
    lines += [f"__label__bad {' '.join(rng.choices(spam, k=12))}" for _ in range(200)]
    rng.shuffle(lines)
    train = tmp_path / "train.txt"
    train.write_text("\n".join(lines) + "\n")
    model = fasttext.train_supervised(str(train), epoch=10, lr=0.5, thread=1, seed=1, verbose=0)
    labels, probs = model.predict(
        "The city council published the results of a long study on Tuesday evening."
    )
    assert labels[0] == "__label__good" and probs[0] > 0.9
    labels, _ = model.predict("click here to win a free prize in the casino now")
    assert labels[0] == "__label__bad"


def test_a_filter_in_tag_mode_keeps_its_documents_and_publishes_its_signals(
    ray_local, sample_warcs, tmp_path
):
    dropping = run(sample_warcs, tmp_path / "drop")
    removed_by_repetition = dropping["removed"].get("gopher_repetition:dup_5_gram", 0)
    assert removed_by_repetition > 0
    tagging_config = Config()
    tagging_config.filters.gopher_repetition.mode = "tag"
    tagging = run(sample_warcs, tmp_path / "tag", tagging_config)
    assert_accounting(tagging, tmp_path / "tag")
    assert "gopher_repetition:dup_5_gram" not in tagging["removed"]
    table = ds.dataset(tmp_path / "tag" / "data", format="parquet", partitioning="hive").to_table()
    signal = table.column("sig_gopher_repetition_dup_5_gram").to_pylist()
    threshold = tagging_config.filters.gopher_repetition.dup_n_grams[5]
    assert any(value > threshold for value in signal)  # documents drop mode would have removed
    assert tagging["documents_kept"] > dropping["documents_kept"]
    dropped_columns = ds.dataset(
        tmp_path / "drop" / "data", format="parquet", partitioning="hive"
    ).schema.names
    assert "sig_gopher_repetition_dup_5_gram" not in dropped_columns


def test_a_status_code_that_is_no_http_status_is_read_as_null_not_a_crash(tmp_path):
    from crawlsieve.ingest.config import ReadConfig
    from crawlsieve.ingest.warc import HttpCheckStage, read_warc

    warc = one_page_warc(
        tmp_path / "status.warc.gz",
        [
            Record("https://d.example/1", html_page("A", [ARTICLE]).encode(), status=99999999999),
            Record("https://d.example/2", html_page("B", [ARTICLE]).encode()),
        ],
    )
    batch = pa.concat_tables(read_warc(str(warc), "status", ReadConfig()))
    responses = batch.filter(pc.equal(batch.column("record_type"), "response"))
    assert responses.column("http_status").to_pylist() == [None, 200]
    decided = HttpCheckStage(ReadConfig())(responses)
    assert decided.column("_removed").to_pylist() == ["http_status", None]


def test_phase_a_starts_the_largest_local_files_first_and_keeps_remote_order(tmp_path):
    from crawlsieve.ingest.inputs import largest_first

    sizes = {"small": 10, "large": 3000, "medium": 700}
    for name, size in sizes.items():
        (tmp_path / name).write_bytes(b"x" * size)
    local = [str(tmp_path / name) for name in sizes]
    remote = ["s3://bucket/b.warc.gz", "https://host/a.warc.gz"]
    missing = str(tmp_path / "missing")
    ordered = largest_first([remote[0], local[0], missing, local[1], remote[1], local[2]])
    assert ordered == [local[1], local[2], local[0], remote[0], missing, remote[1]]
