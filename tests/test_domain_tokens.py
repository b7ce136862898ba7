"""token_count: a real `tokenizers` tokenizer when configured, else a documented estimate."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from crawlsieve.core.errors import ConfigError
from crawlsieve.tagging.tokens import TokenCountStage, estimate_tokens


@pytest.fixture(scope="module")
def corpus_texts(shared_corpus) -> list[str]:
    lines = (shared_corpus / "extraction" / "ground_truth.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["text"] for line in lines]


@pytest.fixture(scope="module")
def tokenizer_json(tmp_path_factory, corpus_texts) -> str:
    """A real BPE tokenizer.json, trained here on corpus text (no hub download)."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.train_from_iterator(
        corpus_texts, trainers.BpeTrainer(vocab_size=2000, special_tokens=["[UNK]"])
    )
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    tokenizer.save(str(path))
    return str(path)


def test_tokenizer_counts_match_its_own_encoding(tokenizer_json, corpus_texts):
    from tokenizers import Tokenizer

    texts = [*corpus_texts[:5], None, ""]
    out = TokenCountStage(tokenizer_json)(pa.table({"text": pa.array(texts, pa.string())}))
    reference = Tokenizer.from_file(tokenizer_json)
    expected = [len(reference.encode(t or "", add_special_tokens=False).ids) for t in texts]
    assert out.column("token_count").to_pylist() == expected
    assert out.schema.field("token_count").type == pa.int64()
    assert expected[0] > 100 and expected[-1] == 0


def test_a_missing_tokenizer_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="tokenizer_path"):
        TokenCountStage(str(tmp_path / "nope.json"))(pa.table({"text": ["a"]}))


def test_estimate_counts_words_cjk_characters_and_punctuation():
    counts = estimate_tokens(pa.array(["Hello, world!", "我们是中国人。", "internationalization", None, ""]))
    assert counts.to_pylist() == [4, 7, 4, 0, 0]


def test_estimate_is_within_a_factor_of_two_of_a_trained_tokenizer(tokenizer_json, corpus_texts):
    real = TokenCountStage(tokenizer_json)(pa.table({"text": corpus_texts})).column("token_count")
    estimate = estimate_tokens(pa.array(corpus_texts))
    ratio = sum(estimate.to_pylist()) / sum(real.to_pylist())
    assert 0.5 < ratio < 2, ratio
