"""Mojibake and garbled characters, made from the corpus's real Chinese text: removed (not
repaired, by measurement), before language identification; clean pages of every script kept."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from ftfy import fix_text

from crawlsieve.filters.config import EncodingConfig
from crawlsieve.filters.encoding import EncodingStage

MULTILINGUAL = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus" / "multilingual"


@pytest.fixture(scope="module")
def pages() -> list[dict]:
    path = MULTILINGUAL / "extraction" / "ground_truth.jsonl"
    if not path.is_file():
        pytest.skip(f"no multilingual corpus at {MULTILINGUAL}")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def mojibake(text: str, written: str, read: str) -> str:
    """``text`` written in one charset and read in another, as a misconfigured site serves it."""
    return text.encode(written, errors="replace").decode(read, errors="replace")


def _decisions(texts: list[str], config: EncodingConfig | None = None) -> pa.Table:
    return EncodingStage(config or EncodingConfig())(
        pa.table({"id": [str(i) for i in range(len(texts))], "text": texts})
    )


@pytest.mark.parametrize(("written", "read"), [("gbk", "latin-1"), ("gbk", "cp1252"), ("utf-8", "cp1252")])
def test_chinese_text_read_with_the_wrong_charset_is_removed_as_mojibake(pages, written, read):
    chinese = [p["text"] for p in pages if p["script"] == "zh"]
    damaged = [mojibake(text, written, read) for text in chinese]
    assert "ÖÐ" in mojibake("中文", "gbk", "latin-1")
    judged = _decisions(damaged)
    # cp1252 lacks five bytes, read as \ufffd: those pages are garbled too (that rule comes first)
    assert set(judged.column("_removed").to_pylist()) <= {"encoding:mojibake", "encoding:garbled"}
    assert min(judged.column("sig_encoding_mojibake_ratio").to_pylist()) > 0.02
    # Why removed, not repaired: ftfy repairs none of the GBK pages, and barely the cp1252 ones.
    repaired = sum(fix_text(d) == fix_text(t) for d, t in zip(damaged, chinese, strict=True))
    print(f"\n{written} read as {read}: removed {len(chinese)}, ftfy would repair {repaired}")
    assert repaired <= 1


def test_clean_pages_of_every_script_are_kept_and_garbled_ones_removed(pages):
    judged = _decisions([p["text"] for p in pages])
    assert judged.column("_removed").null_count == len(pages)
    assert max(judged.column("sig_encoding_mojibake_ratio").to_pylist()) < 0.005
    chinese = next(p["text"] for p in pages if p["script"] == "zh")
    lost = "".join(ch if i % 20 else "□" for i, ch in enumerate(chinese))  # one character in 20 lost
    assert _decisions([lost]).column("_removed").to_pylist() == ["encoding:garbled"]
    tagged = _decisions([lost], EncodingConfig(mode="tag"))
    assert "_removed" not in tagged.column_names
    assert tagged.column("sig_encoding_garbled_ratio").to_pylist()[0] == pytest.approx(0.05, abs=0.01)
