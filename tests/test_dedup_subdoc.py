"""Sub-document dedup: a site's template lines cut from all of its pages but the survivor's."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from run_outputs import data_rows, decisions

from crawlsieve.core import units
from crawlsieve.core.layout import RunLayout
from crawlsieve.dedup.config import SubdocConfig
from crawlsieve.dedup.keys import priority_keys
from crawlsieve.dedup.subdoc import (
    CUT_UNITS,
    EMPTY,
    SIGNAL,
    SubdocCut,
    deduplicate_units,
    split_units,
    unit_hashes,
)
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline
from crawlsieve.samples.warcs import Record, html_page, write_warc

NAV = "Home | World News | Business and Markets | Sport | Culture and Arts | Contact us"
COOKIE = (
    "We use cookies to improve your experience on our website. "
    "By continuing to browse you accept our cookie policy."
)
FOOTER = "Copyright 2024 Example Daily News Ltd. All rights reserved. Registered in England and Wales."
TEMPLATE = (NAV, COOKIE, FOOTER)
#: Short pages: once their template lines are cut, fewer words remain than min_words_after.
SHORT = (
    "Our reporter spent a quiet afternoon at the harbour watching three fishing boats come home "
    "with their nets full while gulls circled overhead.",
    "The village library will open on Sunday mornings from next month, the volunteers said, "
    "after a petition collected more than four hundred signatures.",
)


def _hash(text: str) -> int:
    return int(unit_hashes(pa.array([text]), 1)[0][0])


def test_units_match_after_case_digits_punctuation_and_spacing_are_normalized():
    assert _hash("Copyright 2023 Example Ltd. All rights reserved.") == _hash(
        "copyright  2024 example ltd all rights reserved"
    )
    assert _hash("Copyright 2023 Example Ltd.") != _hash("Copyright 2023 Other Ltd.")
    _, counted = unit_hashes(pa.array(["Home | News", "We use cookies on this website."]), 20)
    assert counted.tolist() == [False, True]


def test_paragraph_units_are_blocks_between_blank_lines():
    units = split_units(pa.array(["one\ntwo\n\n\nthree"]), "paragraph")
    assert units.to_pylist() == [["one\ntwo", "three"]]
    assert split_units(pa.array(["one\ntwo"]), "line").to_pylist() == [["one", "two"]]


def _batch(texts: list[str], cuts: list[list[str] | None]) -> pa.Table:
    hashes = [None if c is None else [_hash(t) for t in c] for c in cuts]
    return pa.table({"text": texts, CUT_UNITS: pa.array(hashes, pa.list_(pa.uint64()))})


def test_the_cut_stage_removes_units_publishes_the_share_and_removes_pages_left_too_short():
    article = " ".join(["word"] * 60)
    texts = [f"{NAV}\n{article}\n{COOKIE}", f"{NAV}\nshort words only", article]
    stage = SubdocCut(SubdocConfig(enabled=True, min_words_after=50))
    out = stage(_batch(texts, [[NAV, COOKIE], [NAV], None]))
    assert out["text"].to_pylist() == [article, "short words only", article]
    frac = out[SIGNAL].to_pylist()
    assert frac[0] == pytest.approx((len(NAV) + len(COOKIE)) / len(texts[0]))
    assert frac[1] == pytest.approx(len(NAV) / len(texts[1]))
    assert frac[2] == 0.0
    assert out["_removed"].to_pylist() == [None, EMPTY, None]
    assert CUT_UNITS not in out.column_names
    assert stage.counters == {"subdoc_units_cut": 3, "subdoc_documents_cut": 2}


def test_a_chinese_page_that_loses_a_repeated_line_is_judged_by_its_words_not_its_spaces(
    chinese_pages, shared_corpus
):
    """A Chinese article has few spaces: counted at whitespace, a page of 300 jieba words is a few
    "words" and would go as subdoc_empty once a repeated line is cut. Counted in its language's
    units it stays; a page whose rest is one short sentence still goes."""
    lines = (shared_corpus / "multilingual" / "zh_repeated_lines.jsonl").read_text(encoding="utf-8")
    template = next(row["text"] for row in map(json.loads, lines.splitlines()) if len(row["text"]) > 30)
    article = next(
        p["text"] for p in chinese_pages if p["genre"] == "article" and 200 < len(p["text"]) < 2000
    )
    short = "本文转载自网络，如有侵权请联系删除。"
    texts = [f"{template}\n{article}", f"{template}\n{short}"]
    stage = SubdocCut(SubdocConfig(enabled=True, min_words_after=50))
    batch = _batch(texts, [[template], [template]])
    out = stage(batch.append_column("language", pa.array(["zh", "zh"])))
    assert out["text"].to_pylist() == [article, short]
    assert out["_removed"].to_pylist() == [None, EMPTY]
    assert len(article.split()) < 50 <= len(units.words(article, "zh"))
    by_spaces = SubdocCut(SubdocConfig(enabled=True, min_words_after=50))(batch)  # no language: spaces
    assert by_spaces["_removed"].to_pylist() == [EMPTY, EMPTY]


def test_the_cut_stage_in_tag_mode_keeps_texts_and_decides_nothing():
    texts = [f"{NAV}\nshort words only"]
    out = SubdocCut(SubdocConfig(enabled=True, mode="tag"))(_batch(texts, [[NAV]]))
    assert out["text"].to_pylist() == texts
    assert out[SIGNAL].to_pylist() == [pytest.approx(len(NAV) / len(texts[0]))]
    assert "_removed" not in out.column_names or out["_removed"].null_count == 1


def _articles(shared_corpus: Path, n: int) -> list[list[str]]:
    """``n`` corpus articles, each as its first three long paragraphs."""
    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    articles = []
    for line in lines:
        paragraphs = [p.strip() for p in json.loads(line)["text"].split("\n\n") if len(p) > 200]
        if len(paragraphs) >= 3:
            articles.append(paragraphs[:3])
    return articles[:n]


def _site_warcs(directory: Path, shared_corpus: Path) -> list[Path]:
    """Two files of one site: eight articles and two short notes around the same template lines."""
    pages = [[NAV, COOKIE, *paragraphs, FOOTER] for paragraphs in _articles(shared_corpus, 8)]
    pages += [[NAV, COOKIE, note, FOOTER] for note in SHORT]
    records = [
        Record(f"https://news.example.com/story/{n}", html_page(f"Story {n}", page).encode())
        for n, page in enumerate(pages)
    ]
    directory.mkdir()
    paths = [directory / "site-0.warc.gz", directory / "site-1.warc.gz"]
    write_warc(paths[0], records[::2], datetime(2024, 3, 1, tzinfo=UTC))
    write_warc(paths[1], records[1::2], datetime(2024, 3, 2, tzinfo=UTC))
    return paths


def _config(mode: str) -> Config:
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
        getattr(config.filters, name).mode = "tag"  # the short notes must reach dedup
    config.dedup.subdoc = SubdocConfig(enabled=True, mode=mode, min_words_after=30)
    return config


def _run(warcs: list[Path], output: Path, mode: str, report: bool) -> dict:
    return run_pipeline([str(w) for w in warcs], output, _config(mode), report=report, log=lambda m: None)


@pytest.fixture(scope="module")
def warcs(tmp_path_factory, shared_corpus) -> list[Path]:
    return _site_warcs(tmp_path_factory.mktemp("site") / "warcs", shared_corpus)


@pytest.fixture(scope="module")
def removed_run(warcs, tmp_path_factory, ray_local) -> tuple[Path, dict]:
    output = tmp_path_factory.mktemp("remove") / "out"
    return output, _run(warcs, output, "remove", report=True)


def _survivor(output: Path) -> str:
    """The page the survivor rule picks among the phase-A documents dedup kept: every template
    line is on every page, so this one page keeps all of them."""
    layout = RunLayout(output)
    docs = []
    for path in layout.docs_files():
        table = pq.read_table(path, columns=["id", "quality_score", "fetch_time"])
        removed = {r["id"] for r in pq.read_table(layout.decisions(path.stem)).to_pylist() if r["_removed"]}
        table = table.append_column("shard", pa.array([path.stem] * table.num_rows))
        keys = priority_keys(table).to_pylist()
        docs += [(k, i) for k, i in zip(keys, table["id"].to_pylist(), strict=True) if i not in removed]
    return min(docs)[1]


def _accounting_closes(stats: dict, output: Path) -> None:
    total = stats["documents_kept"] + sum(stats["removed"].values()) + sum(stats["failed"].values())
    assert stats["accounting_closes"] and stats["records_read"] == total
    assert (
        ds.dataset(output / "data", format="parquet", partitioning="hive").count_rows()
        == (stats["documents_kept"])
    )


@pytest.mark.slow
def test_template_lines_stay_only_in_the_survivor_and_short_pages_go(removed_run):
    output, stats = removed_run
    _accounting_closes(stats, output)
    rows = {r["id"]: r for r in data_rows(output)}
    survivor = _survivor(output)
    empty = [d[0] for d in decisions(output) if d[2] == EMPTY]
    assert 1 <= len(empty) <= len(SHORT)
    assert stats["removed"][EMPTY] == len(empty)
    assert len(rows) + len(empty) == 8 + len(SHORT)  # no page is a document-level duplicate
    for doc_id, row in rows.items():
        lines = row["text"].split("\n")
        if doc_id == survivor:
            assert all(line in lines for line in TEMPLATE)
            assert row[SIGNAL] == 0.0
        else:
            assert not any(line in lines for line in TEMPLATE), doc_id
            assert 0.0 < row[SIGNAL] < 0.5
    assert all(len(row["text"].split()) >= 30 for row in rows.values())
    assert pa.table({SIGNAL: [r[SIGNAL] for r in rows.values()]}).schema.field(SIGNAL).type == pa.float64()


@pytest.mark.slow
def test_the_most_repeated_units_reach_stats_and_the_report(removed_run):
    output, stats = removed_run
    top = {u["text"]: u["documents"] for u in stats["subdoc"]["top_units"]}
    assert top == {line: 8 + len(SHORT) for line in TEMPLATE}
    assert stats["subdoc"]["unit_copies_cut"] == len(TEMPLATE) * (8 + len(SHORT) - 1)
    assert stats["dedup"]["subdoc_units_repeated"] == len(TEMPLATE)
    assert stats["counters"]["subdoc_documents_cut"] == 8 + len(SHORT) - 1
    report = RunLayout(output).report.read_text(encoding="utf-8")
    table = report.split('class="subdoc-units"', 1)[1].split("</table>", 1)[0]
    assert all(line in table for line in TEMPLATE)


@pytest.mark.slow
def test_the_shuffle_path_cuts_the_same_units_as_the_single_task(removed_run, tmp_path):
    """The run took the single-task path; the same documents and decisions through the shuffles."""
    output, _ = removed_run
    layout, copy = RunLayout(output), RunLayout(tmp_path)
    shutil.copytree(layout.docs_files()[0].parent, copy.docs("any").parent)
    shutil.copytree(layout.decisions_dir, copy.decisions_dir)
    columns = ["id", "quality_score", "fetch_time", "text"]
    subdoc = _config("remove").dedup.subdoc
    deduplicate_units(copy, subdoc, copy.docs_files(), columns, shuffle_partitions=3)
    for path in layout.docs_files():
        expected = pq.read_table(layout.subdoc_decisions(path.stem))
        assert pq.read_table(copy.subdoc_decisions(path.stem)).equals(expected)
    assert json.loads(copy.subdoc_units.read_text()) == json.loads(layout.subdoc_units.read_text())


@pytest.mark.slow
def test_tag_mode_keeps_every_text_and_publishes_the_share(warcs, tmp_path, ray_local):
    output = tmp_path / "out"
    stats = _run(warcs, output, "tag", report=False)
    _accounting_closes(stats, output)
    assert EMPTY not in stats["removed"]
    rows = data_rows(output)
    assert len(rows) == 8 + len(SHORT)
    assert all(all(line in r["text"].split("\n") for line in TEMPLATE) for r in rows)
    shares = sorted(r[SIGNAL] for r in rows)
    assert shares[0] == 0.0 and all(s > 0 for s in shares[1:])


def test_paragraph_units_are_cut_whole_and_the_rest_keeps_its_blank_lines():
    article = "First paragraph of the story,\nwrapped over two lines."
    text = f"{NAV}\n\n{article}\n\n\n{COOKIE}\n\nThe end of the story."
    stage = SubdocCut(SubdocConfig(enabled=True, unit="paragraph", min_words_after=0))
    out = stage(_batch([text, article], [[NAV, COOKIE], None]))
    assert out["text"].to_pylist() == [f"{article}\n\nThe end of the story.", article]
    assert out[SIGNAL].to_pylist()[1] == 0.0


@pytest.mark.slow
@pytest.mark.parametrize("partitions", [None, 2], ids=["single-task", "shuffle"])
def test_units_an_earlier_run_kept_are_cut_from_every_document_of_a_later_run(
    removed_run, tmp_path, partitions
):
    earlier, _ = removed_run
    layout = RunLayout(tmp_path)
    layout.docs("any").parent.mkdir(parents=True)
    fresh = "A line that only this later run has, long enough to count as a unit."
    docs = pa.table(
        {
            "id": ["later-0", "later-1"],
            "text": [f"{COOKIE}\n{fresh}\nFirst story.", f"Second story.\n{COOKIE}"],
            "quality_score": [0.9, 0.8],
            "fetch_time": pa.array([datetime(2025, 1, 1, tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC")),
        }
    )
    pq.write_table(docs, layout.docs("later"))
    columns = ["id", "quality_score", "fetch_time", "text"]
    subdoc = _config("remove").dedup.subdoc
    counts = deduplicate_units(
        layout, subdoc, layout.docs_files(), columns, partitions, [RunLayout(earlier).dedup_index]
    )
    cuts = {r["id"]: r[CUT_UNITS] for r in pq.read_table(layout.subdoc_decisions("later")).to_pylist()}
    assert cuts == {"later-0": [_hash(COOKIE)], "later-1": [_hash(COOKIE)]}
    assert counts == {"units_repeated": 1, "unit_copies_cut": 2}
    top = json.loads(layout.subdoc_units.read_text())["top_units"]
    assert top == [{"text": COOKIE, "documents": 8 + len(SHORT) + 2}]
