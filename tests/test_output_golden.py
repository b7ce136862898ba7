"""A default run over the shared corpus gives exactly the outputs recorded before optimizing.

``tests/golden/corpus_outputs.json`` holds one SHA-256 per column of three tables of a default
run over the six corpus WARC files: the published rows (``data/``), every ledger row (what was
removed or failed, with its reason, signals and text) and phase A's work rows (text, signals,
MinHash signatures), each in a canonical row order. It was recorded at commit 3bc98c2, before
the performance work of issue 8 (URL-list cache, faster filters, scheduling), and re-recorded once
for issue 12's C4 fix (sentences counted with the document's language: ``sig_c4_sentences`` of 77
documents changed, no decision did), and once for issue 14's bands x rows chosen for the verify
threshold (16 x 8 instead of 9 x 13: only phase A's ``dedup_bands`` changed, no decision did), and
once for issue 24's spam filter and domain tags (new columns: ``title`` and ``anchors`` in phase A,
the four ``sig_spam_*`` signals everywhere; no decision changed, no page is removed or tagged as
spam, and one row's ``domain`` went from other to news: the German automobilwoche.de article, whose
``/20211103/`` path is a dated news URL by the rule added for Chinese news systems; no English row
changed), once for issue 23's text units (the corpus's 1 Chinese and 2 Japanese kept documents:
their ``quality_score``, read as units separated by spaces, and their ``dedup_bands``/
``dedup_signature``, shingled by characters; no English or other Latin-script row and no decision
changed), once for issue 23's per-language settings (FineWeb-2's for every language but
English: 16 more German, Italian, Polish and Russian pages kept, two Portuguese and German pages
removed for another reason, the texts of kept non-English pages no longer cut by C4; the new
``script`` and ``sig_encoding_*``/``sig_chinese_*`` columns; every English row the same), and once
for issue 25's genres (new ``genre`` and ``extractor`` columns; the one forum thread of the corpus,
pocketpc.ch's vBulletin thread ``122760-microsoft-beginnt-auslieferung-vorbereitungsupdate-34``,
which FineWeb-2's German settings keep, extracted from its posts: its text and what is measured
from it; every other row's values unchanged), and once for issue 28's ``quality_bucket`` (a new
data column; no other column changed); every optimization must reproduce it value for value.
A change *meant* to change outputs records
a new one, and says so in its commit:

    CRAWLSIEVE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_output_golden.py

Paths and shard names (which hash the input's location) are replaced by file names first, so
the digests do not depend on where the corpus or the checkout lies. The run records an input's
resolved path (``warc_path``, shard names), so the replacements are made from resolved paths too:
a ``../shared`` reached through a symbolic link gives the same digests.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from run_outputs import data_table

from crawlsieve.core.layout import RunLayout
from crawlsieve.ingest.inputs import shard_name
from crawlsieve.pipelines.config import Config
from crawlsieve.pipelines.run import run_pipeline

GOLDEN = Path(__file__).parent / "golden" / "corpus_outputs.json"


def canonical_tables(output: Path) -> dict[str, pa.Table]:
    layout = RunLayout(output)
    return {
        "data": data_table(output),
        "ledger": ds.dataset(layout.ledger_files(), format="parquet")
        .to_table()
        .sort_by([("id", "ascending"), ("stage", "ascending")]),
        "phase_a": ds.dataset(layout.docs_files(), format="parquet").to_table().sort_by("id"),
    }


def column_digests(tables: dict[str, pa.Table], replacements: dict[str, str]) -> dict:
    digests: dict = {}
    for name, table in tables.items():
        columns = {}
        for column in sorted(table.column_names):
            text = json.dumps(table.column(column).to_pylist(), default=repr, ensure_ascii=False)
            for old, new in replacements.items():
                text = text.replace(old, new)
            columns[column] = hashlib.sha256(text.encode("utf-8")).hexdigest()
        digests[name] = {"rows": table.num_rows, "columns": columns}
    return digests


@pytest.mark.slow
def test_a_default_corpus_run_reproduces_the_recorded_outputs(ray_local, shared_corpus, tmp_path):
    files = sorted(str(p) for p in (shared_corpus / "warc").glob("*.warc.gz"))
    run_pipeline(files, tmp_path / "out", Config(), report=False, log=lambda message: None)
    resolved = [str(Path(f).resolve()) for f in files]
    replacements = {shard_name(f): Path(f).name for f in resolved}
    replacements[str(shared_corpus.resolve())] = "<corpus>"
    digests = column_digests(canonical_tables(tmp_path / "out"), replacements)
    if os.environ.get("CRAWLSIEVE_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(json.dumps(digests, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    differing = [
        f"{table}.{column}"
        for table in recorded
        for column in sorted(set(recorded[table]["columns"]) | set(digests[table]["columns"]))
        if recorded[table]["columns"].get(column) != digests[table]["columns"].get(column)
    ]
    rows = {table: (recorded[table]["rows"], digests[table]["rows"]) for table in recorded}
    print(f"golden outputs: rows (recorded, now) {rows}; columns differing: {differing}")
    assert all(before == now for before, now in rows.values()), rows
    assert differing == []
