"""datatrove's FineWeb-style pipeline over a folder of WARC files: the other side of benchmarks.throughput.

    PYTHON benchmarks/datatrove_pipeline.py SPEC.json

Run as a script by whichever Python environment is measured (crawlsieve's own venv, or one with
datatrove as its users install it), so it imports datatrove, pyarrow (which datatrove's Parquet
steps need) and the standard library only; the settings taken from crawlsieve's config come in
SPEC (JSON: ``input``, ``work``, ``cpus``, ``extract`` (trafilatura's options),
``language_threshold``, ``lid_model``, ``minhash`` (``n_grams``, ``num_buckets``,
``hashes_per_bucket``, ``seed``)). Prints one JSON line:
``seconds``, ``kept`` and the versions of datatrove, trafilatura and lxml it ran with.

Stages: WarcReader -> Trafilatura -> LanguageFilter -> GopherRepetition + GopherQuality ->
C4QualityFilter -> FineWebQualityFilter -> ParquetWriter + MinhashDedupSignature, then
MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, on LocalPipelineExecutors with
``cpus`` workers and one task per file.

Offline: the language filter reads crawlsieve's lid.176.ftz (datatrove's default downloads
lid.176.bin); the English word tokenizer is spaCy's blank one (no download), and C4 splits on
lines (``split_paragraph=True``, its default), so NLTK's punkt is never loaded.
"""

from __future__ import annotations

import json
import sys
import time
from importlib.metadata import version
from pathlib import Path

from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID


class _LocalFT176(FT176LID):
    """datatrove's lid.176 language id, loading a local model file (its default downloads one)."""

    def __init__(self, path: str):
        super().__init__(None)
        self.path = path

    @property
    def model(self):
        if self._model is None:
            from fasttext.FastText import _FastText

            self._model = _FastText(self.path)
        return self._model


class OfflineLanguageFilter(LanguageFilter):
    """datatrove's LanguageFilter on a local lid.176 model, never downloading.

    Its dependency check looks for the ``fasttext-numpy2-wheel`` distribution by name; in
    crawlsieve's venv the ``fasttext`` module comes from ``fasttext-community``, so the check
    (done in ``PipelineStep.__new__``) is skipped.
    """

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def __init__(self, language_threshold: float, model_path: str):
        super().__init__(language_threshold=language_threshold)
        self.model = _LocalFT176(model_path)


def _hash_fc() -> str:
    """datatrove's default MinHash hash (xxhash) where it works: xxhash 4 refuses the str that
    datatrove passes it, so under xxhash 4 (crawlsieve's venv) its other choice, sha1."""
    return "xxhash" if int(version("xxhash").split(".")[0]) < 4 else "sha1"


def stages(spec: dict) -> list:
    """The four LocalPipelineExecutors of datatrove's FineWeb-style pipeline."""
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.readers import ParquetReader, WarcReader
    from datatrove.pipeline.writers import ParquetWriter
    from datatrove.utils.hashing import HashConfig

    work, extract = Path(spec["work"]), spec["extract"]
    minhash = MinhashConfig(**spec["minhash"], hash_config=HashConfig(hash_fc=_hash_fc()))
    filtered, sigs, buckets, clusters = (work / n for n in ("filtered", "sigs", "buckets", "clusters"))
    common = {"workers": spec["cpus"], "skip_completed": False}
    tasks = len(list(Path(spec["input"]).glob("*.warc.gz")))
    stage_a = LocalPipelineExecutor(
        pipeline=[
            WarcReader(spec["input"], glob_pattern="*.warc.gz"),
            Trafilatura(
                favour_precision=extract["favor_precision"],
                timeout=extract["timeout_seconds"],
                deduplicate=extract["deduplicate"],
                favor_recall=extract["favor_recall"],
                include_tables=extract["include_tables"],
                include_links=extract["include_links"],
                with_metadata=False,
                output_format="txt",
            ),
            OfflineLanguageFilter(spec["language_threshold"], spec["lid_model"]),
            GopherRepetitionFilter(),
            GopherQualityFilter(),
            C4QualityFilter(),
            FineWebQualityFilter(),
            ParquetWriter(str(filtered)),
            MinhashDedupSignature(output_folder=str(sigs), config=minhash),
        ],
        tasks=tasks,
        logging_dir=str(work / "logs" / "a"),
        **common,
    )
    stage_b = LocalPipelineExecutor(
        pipeline=[MinhashDedupBuckets(input_folder=str(sigs), output_folder=str(buckets), config=minhash)],
        tasks=minhash.num_buckets,
        logging_dir=str(work / "logs" / "b"),
        **common,
    )
    stage_c = LocalPipelineExecutor(
        pipeline=[
            MinhashDedupCluster(input_folder=str(buckets), output_folder=str(clusters), config=minhash)
        ],
        tasks=1,
        logging_dir=str(work / "logs" / "c"),
        **common,
    )
    stage_d = LocalPipelineExecutor(
        pipeline=[
            ParquetReader(str(filtered)),
            MinhashDedupFilter(input_folder=str(clusters)),
            ParquetWriter(str(work / "deduped")),
        ],
        tasks=tasks,
        logging_dir=str(work / "logs" / "d"),
        **common,
    )
    return [stage_a, stage_b, stage_c, stage_d]


def main(argv: list[str]) -> int:
    import pyarrow.parquet as pq

    spec = json.loads(Path(argv[0]).read_text())
    started = time.perf_counter()
    for stage in stages(spec):
        stage.run()
    seconds = time.perf_counter() - started
    kept = sum(pq.read_metadata(p).num_rows for p in (Path(spec["work"]) / "deduped").glob("*.parquet"))
    versions = {name: version(name) for name in ("datatrove", "trafilatura", "lxml")}
    print(json.dumps({"seconds": seconds, "kept": kept, "versions": versions, "hash": _hash_fc()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
