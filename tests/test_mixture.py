"""mixture.json adds up exactly to the Parquet rows and tokens, and says how tokens were counted."""

from __future__ import annotations

import json

import duckdb
import pyarrow as pa

from crawlsieve import __version__
from crawlsieve.core.shards import write_shard
from crawlsieve.pipelines.config import Config, OutputConfig
from crawlsieve.quality.mixture import build_mixture


def _write(data, shard, rows):
    table = pa.table(
        {
            "id": [f"{shard}-{i}" for i in range(len(rows))],
            "text": [r[2] for r in rows],
            "domain": [r[0] for r in rows],
            "language": [r[1] for r in rows],
            "genre": [r[5] if len(r) > 5 else "article" for r in rows],
            "quality_score": pa.array([r[3] for r in rows], pa.float64()),
            "token_count": pa.array([r[4] for r in rows], pa.int64()),
        }
    )
    write_shard(table, data, shard, OutputConfig(max_rows_per_file=2))


def test_groups_add_up_to_the_parquet_rows_tokens_and_bytes(tmp_path):
    _write(tmp_path / "data", "a", [("news", "en", "héllo", 0.5, 10), ("news", "en", "abc", 1.0, 20),
                                    ("news", "en", "x", None, 5), ("code", "de", "ü", 0.2, 7)])  # fmt: skip
    _write(tmp_path / "data", "b", [("news", "en", "ok", 0.0, 1, "forum")])
    mixture = build_mixture(tmp_path, None, Config().model_dump(mode="json"))
    assert json.loads((tmp_path / "mixture.json").read_text(encoding="utf-8")) == mixture
    groups = {(g["domain"], g["language"], g["genre"]): g for g in mixture["groups"]}
    assert groups[("news", "en", "article")] == {
        "domain": "news", "language": "en", "genre": "article", "documents": 3, "tokens": 35,
        "bytes": 6 + 3 + 1, "mean_quality": 0.75, "weight": round(35 / 43, 8),
    }  # fmt: skip
    forum, code = groups[("news", "en", "forum")], groups[("code", "de", "article")]
    assert (forum["documents"], forum["tokens"]) == (1, 1)
    assert (code["bytes"], code["tokens"]) == (2, 7)
    assert mixture["totals"]["genres"] == ["article", "forum"]
    files = f"{tmp_path}/data/**/*.parquet"
    [parquet] = duckdb.sql(
        f"SELECT count(*), sum(token_count), sum(strlen(text)) FROM read_parquet('{files}')"
    ).fetchall()
    totals = mixture["totals"]
    assert (totals["documents"], totals["tokens"], totals["bytes"]) == parquet
    assert abs(sum(g["weight"] for g in mixture["groups"]) - 1) < 1e-6
    assert mixture["version"] == __version__ and mixture["config"]["domain"]["tokenizer_path"] is None
    assert mixture["tokens_estimated"] is True


def test_a_configured_tokenizer_marks_tokens_as_counted(tmp_path):
    _write(tmp_path / "data", "a", [("news", "en", "hello", 0.5, 1)])
    config = Config.model_validate({"domain": {"tokenizer_path": "/models/tokenizer.json"}})
    mixture = build_mixture(tmp_path, config.domain.tokenizer_path, config.model_dump(mode="json"))
    assert mixture["tokens_estimated"] is False and mixture["tokenizer"] == "/models/tokenizer.json"


def test_an_empty_run_writes_an_empty_mixture(tmp_path):
    mixture = build_mixture(tmp_path, None, Config().model_dump(mode="json"))
    assert mixture["groups"] == [] and mixture["totals"]["documents"] == 0
    assert (tmp_path / "mixture.json").is_file()
