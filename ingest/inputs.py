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
import stat
from pathlib import Path
from typing import TYPE_CHECKING

import fsspec

from crawlsieve.core.errors import UsageError

if TYPE_CHECKING:
    from crawlsieve.ingest.config import ReadConfig

CRAWL_NAME = re.compile(r"^CC-MAIN-\d{4}-\d{2}$")
REMOTE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
GLOB_CHARS = re.compile(r"[*?\[]")


class ListingUnavailable(RuntimeError):
    """A remote listing still failing after the retries (a failed run, exit status 1: one line)."""


def is_remote(location: str) -> bool:
    return bool(REMOTE.match(location)) and location[:7].lower() != "file://"


def open_location(location: str, read: ReadConfig):
    """Open a local path or URL for binary reading, with the config's options for its protocol.

    Local paths are opened directly: a plain file object (``resolve_inputs`` refuses pipes and
    devices as inputs, ``refuse_streams``). http(s) goes through `ingest.remote` (retries,
    timeouts, resumption); other protocols through fsspec (s3fs retries and times out by itself).
    """
    if not is_remote(location):
        return open(location.removeprefix("file://"), "rb")
    protocol = location.split("://", 1)[0].lower()
    options = read.storage_options.get(protocol, {})
    if protocol in ("http", "https"):
        from crawlsieve.ingest.remote import open_http

        return open_http(location, options, read.http)
    return fsspec.open(location, "rb", **options).open()


def local_path(name: str, base: Path | None = None) -> str:
    """The one form of a local input however it is named (relative to the working directory or to
    a listing's directory ``base``, through ``..`` or links, as a ``file://`` URL): the resolved
    absolute path, so that a file named twice is one input, read once."""
    path = Path(_without_file_scheme(name))
    if "\x00" in name:  # no file name holds one; pathlib would raise ValueError
        raise UsageError(f"input name holds a NUL byte: {display_location(name)!r}")
    return str((base / path if base is not None else path).resolve())


def _without_file_scheme(name: str) -> str:
    return name[len("file://") :] if name[:7].lower() == "file://" else name


def resolve_inputs(inputs: list[str], read: ReadConfig, limit: int | None = None, log=None) -> list[str]:
    """All WARC locations named by ``inputs``, in order, without repeats, at most ``limit``;
    ``log`` is told once how many names repeated an earlier one."""
    locations: list[str] = []
    for item in inputs:
        locations.extend(_resolve_one(item, read))
    unique = list(dict.fromkeys(locations))
    if not unique:
        raise UsageError("no input WARC files")
    if log is not None and len(unique) < len(locations):
        log(f"crawlsieve: {len(locations) - len(unique)} repeated input(s) read once")
    refuse_streams(unique)
    return unique[:limit] if limit else unique


#: Local inputs that are no file: a run may open an input more than once (a retried task,
#: ``--resume``, going on after damage), and opening a FIFO blocks until a writer comes, reading
#: it takes the bytes away, and a device like /dev/zero never ends.
STREAMS = {stat.S_IFIFO: "a named pipe", stat.S_IFCHR: "a character device", stat.S_IFSOCK: "a socket"}


def refuse_streams(locations: list[str]) -> None:
    """Raise UsageError for the first local input that is a pipe, a character device or a socket
    (one a listing names too; a path that does not exist is the reader's `open_error`)."""
    for location in locations:
        if is_remote(location):
            continue
        try:
            kind = STREAMS.get(stat.S_IFMT(os.stat(location.removeprefix("file://")).st_mode))
        except (OSError, ValueError):
            continue
        if kind:
            shown = display_location(location)
            raise UsageError(f"input {shown} is {kind}, not a file (a run may read an input more than once)")


def _resolve_one(item: str, read: ReadConfig) -> list[str]:
    if item.startswith("@"):
        listing = item[1:] if is_remote(item[1:]) else local_path(item[1:])
        return _read_listing(listing, read)
    if CRAWL_NAME.match(item):
        listing = f"{read.crawl_base_url.rstrip('/')}/crawl-data/{item}/warc.paths.gz"
        return _read_listing(listing, read)
    if is_remote(item):
        return [item]
    name = _without_file_scheme(item)
    if GLOB_CHARS.search(name):
        matches = sorted(p for p in glob.glob(name, recursive=True) if Path(p).is_file())
        if not matches:
            raise UsageError(f"no files match {item}")
        return [local_path(p) for p in matches]
    path = Path(name)
    if not path.exists():
        raise UsageError(f"input not found: {item}")
    if path.is_dir():
        found = sorted(p for p in path.rglob("*") if p.is_file() and ".warc" in p.name)
        if not found:
            raise UsageError(f"no WARC files (*.warc, *.warc.gz) in directory {item}")
        return [local_path(str(p)) for p in found]
    return [local_path(name)]


def _read_listing(listing: str, read: ReadConfig) -> list[str]:
    """Lines of a listing; Common Crawl's relative `crawl-data/...` paths get the base URL.

    A listing the server still refuses after the retries fails the run (exit status 1), not the
    command line: the same command works once the server does.
    """
    from crawlsieve.ingest.remote import RemoteUnavailable

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
    base_dir = None if is_remote(listing) else Path(listing).parent
    locations = []
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("crawl-data/"):
            locations.append(f"{crawl_base_url.rstrip('/')}/{line}")
        elif is_remote(line):
            locations.append(line)
        else:  # a local name, relative to a local listing's directory: normalised as on the command line
            locations.append(local_path(line, base_dir))
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
