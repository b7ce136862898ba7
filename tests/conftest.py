"""Shared fixtures: a real local Ray, the shared corpus, and generated WARCs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_CORPUS = Path(os.environ.get("CRAWLSIEVE_SHARED_CORPUS", REPO.parent / "shared" / "corpus"))


@pytest.fixture(scope="session")
def shared_corpus() -> Path:
    """The real pages of ../shared/corpus; tests that need them skip where a clone has none."""
    if not (SHARED_CORPUS / "warc").is_dir():
        pytest.skip(f"no shared corpus at {SHARED_CORPUS} (set CRAWLSIEVE_SHARED_CORPUS)")
    return SHARED_CORPUS


@pytest.fixture(scope="session")
def ray_local():
    """One real local Ray for the whole session (2 CPUs, like CI's machine)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
