"""core.io.durable, the one way a file is written: all or nothing, and nothing left behind."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pytest

from crawlsieve.core.io import durable, read_json, read_parquet, write_atomically, write_json_atomically


def test_the_new_content_appears_whole_once_the_block_succeeds(tmp_path):
    path = tmp_path / "deep" / "index.npy"  # the folder is made
    with durable(path) as tmp:
        assert tmp.parent == path.parent and tmp.name.startswith(".") and tmp.name != path.name
        with open(tmp, "wb") as handle:
            np.save(handle, np.arange(5))
        assert not path.exists()  # readers see nothing until the rename
    assert np.load(path).tolist() == [0, 1, 2, 3, 4]
    assert os.listdir(path.parent) == ["index.npy"]


def test_a_failing_block_keeps_the_old_content_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "stats.json"
    write_json_atomically({"kept": 1}, path)
    with pytest.raises(RuntimeError, match="disk full"), durable(path) as tmp:
        tmp.write_bytes(b'{"kept": ')
        raise RuntimeError("disk full")
    assert read_json(path) == {"kept": 1}
    assert os.listdir(tmp_path) == ["stats.json"]


def test_the_writers_go_through_it(tmp_path):
    path = tmp_path / "t.parquet"
    write_atomically(pa.table({"a": [1, 2]}), path)
    write_atomically(pa.table({"a": [3]}), path)
    assert read_parquet(path).column("a").to_pylist() == [3]
    assert os.listdir(tmp_path) == ["t.parquet"]
