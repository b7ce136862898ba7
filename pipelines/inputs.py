"""Turn the INPUT arguments of `crawlsieve run` into a list of WARC locations.

INPUT is a local path or glob, an `s3://`/`https://` URL, a file listing such paths
(`@paths.txt`, plain or `.gz`, like Common Crawl's `warc.paths.gz`), or a crawl name
(`CC-MAIN-2024-10`) which stands for that crawl's `warc.paths.gz` listing.
"""

from __future__ import annotations

import glob
import gzip
import hashlib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec

from crawlsieve.core.errors import UsageError

if TYPE_CHECKING:
    from crawlsieve.pipelines.config import ReadConfig

CRAWL_NAME = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
GLOB_CHARS = re.compile(r"[*?\[]")


class ListingUnavailable(RuntimeError):
    """A remote listing still failing after the retries (a failed run, exit status 1: one line)."""


def is_remote(location: str) -> bool:
    return bool(REMOTE.match(location)) and not location.startswith("file://")


def open_location(location: str, read: ReadConfig):
    """Open a local path or URL for binary reading, with the config's options for its protocol.

    Local paths are opened directly: fsspec's local files must seek, and a named pipe cannot.
    http(s) goes through `pipelines.remote` (retries, timeouts, resumption); other protocols
    through fsspec (s3fs retries and times out by itself).
    """
    if not is_remote(location):
        return open(location.removeprefix("file://"), "rb")
    protocol = location.split("://", 1)[0].lower()
    options = read.storage_options.get(protocol, {})
    if protocol in ("http", "https"):
        from crawlsieve.pipelines.remote import open_http

        return open_http(location, options, read.http)
    return fsspec.open(location, "rb", **options).open()


def resolve_inputs(inputs: list[str], read: ReadConfig, limit: int | None = None) -> list[str]:
    """All WARC locations named by ``inputs``, in order, without repeats, at most ``limit``."""
    locations: list[str] = []
    for item in inputs:
        locations.extend(_resolve_one(item, read))
    unique = list(dict.fromkeys(locations))
    if not unique:
        raise UsageError("no input WARC files")
    return unique[:limit] if limit else unique


def _resolve_one(item: str, read: ReadConfig) -> list[str]:
    if item.startswith("@"):
        return _read_listing(item[1:], read)
    if CRAWL_NAME.match(item):
        listing = f"{read.crawl_base_url.rstrip('/')}/crawl-data/{item}/warc.paths.gz"
        return _read_listing(listing, read)
    if is_remote(item):
        return [item]
    if GLOB_CHARS.search(item):
        matches = sorted(p for p in glob.glob(item, recursive=True) if Path(p).is_file())
        if not matches:
            raise UsageError(f"no files match {item}")
        return [str(Path(p).resolve()) for p in matches]
    path = Path(item.removeprefix("file://"))
    if not path.exists():
        raise UsageError(f"input not found: {item}")
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and ".warc" in p.name)
        if not found:
            raise UsageError(f"no WARC files (*.warc, *.warc.gz) in directory {item}")
        return [str(p.resolve()) for p in found]
    return [str(path.resolve())]


def _read_listing(listing: str, read: ReadConfig) -> list[str]:
    """Lines of a listing; Common Crawl's relative `crawl-data/...` paths get the base URL.

    A listing the server still refuses after the retries fails the run (exit status 1), not the
    command line: the same command works once the server does.
    """
    from crawlsieve.pipelines.remote import RemoteUnavailable

    crawl_base_url = read.crawl_base_url
    try:
        with open_location(listing, read) as handle:
            raw = handle.read()
    except FileNotFoundError:
        raise UsageError(f"listing not found: {listing}") from None
    except OSError as error:
        raise UsageError(f"cannot read listing {listing}: {error}") from None
    except RemoteUnavailable as error:
        raise ListingUnavailable(f"cannot read listing {listing} now: {error}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as error:
            raise UsageError(f"listing {listing} is not valid gzip: {error}") from None
    base_dir = None if is_remote(listing) else Path(listing).resolve().parent
    locations = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("crawl-data/"):
            locations.append(f"{crawl_base_url.rstrip('/')}/{line}")
        elif is_remote(line) or Path(line).is_absolute() or base_dir is None:
            locations.append(line)
        else:
            locations.append(str(base_dir / line))
    if not locations:
        raise UsageError(f"listing {listing} names no files")
    return locations


def location_bytes(location: str) -> bytes:
    """The location as the bytes the file system knows it by (Linux file names need not be UTF-8:
    Python holds such bytes as lone surrogates, which UTF-8 text cannot carry)."""
    return location.encode("utf-8", "surrogateescape")


def display_location(location: str) -> str:
    r"""The location as UTF-8 text for outputs and messages: bytes that are not UTF-8 become
    ``\xNN`` escapes (``caf\xe9.warc.gz``), so every output can carry it."""
    return location_bytes(location).decode("utf-8", "backslashreplace")


def shard_name(location: str) -> str:
    """A stable, file-name-safe id for an input: its base name plus a hash of the full location."""
    base = location.rstrip("/").rsplit("/", 1)[-1]
    for suffix in (".gz", ".warc", ".arc"):
        base = base.removesuffix(suffix)
    base = re.sub(r"[^A-Za-z0-9._-]+", "_", base)[:80].strip("._") or "input"
    digest = hashlib.sha1(location_bytes(location)).hexdigest()[:8]
    return f"{base}-{digest}"


def largest_first(locations: list[str]) -> list[str]:
    """Local inputs by size, largest first, then remote ones in their given order.

    Each input is one task of phase A. Started largest first (LPT scheduling), a big file
    never runs alone at the end while the other cores idle; remote sizes would cost a
    request each, so remote inputs keep their order. The order changes no output.
    """

    def size(location: str) -> int | None:
        if is_remote(location):
            return None
        try:
            return os.path.getsize(location)
        except OSError:  # read as a failed input later, with its error kind
            return None

    sizes = {location: size(location) for location in locations}
    return sorted(locations, key=lambda loc: (sizes[loc] is None, -(sizes[loc] or 0)))
