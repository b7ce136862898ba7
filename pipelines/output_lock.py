"""One run at a time per output directory.

Two runs into one directory would mix each other's work files and publish stats of both. The
driver holds the lock file (``RunLayout.lock``) for the whole run in two ways:

* an exclusive ``flock`` on the file, which the kernel (or the NFS lock manager on a shared
  volume) releases when the holder dies, so a crashed run never leaves the directory locked;
* the holder's run id, host, pid and a heartbeat (rewritten every ``HEARTBEAT_SECONDS``) in the
  file, for the message a refused run prints, and for volumes whose locks do not reach other
  hosts: a holder on another host counts as alive while its heartbeat is younger than
  ``STALE_SECONDS``.

A second run is refused with one line naming the holder. A run (with ``--resume`` or not) takes
the directory over only when its holder is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from crawlsieve.core.errors import UsageError

HEARTBEAT_SECONDS = 30.0
STALE_SECONDS = 120.0


def _describe(holder: dict) -> str:
    return (
        f"run {holder.get('run_id', '?')} (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
        f"since {holder.get('started', '?')})"
    )


def _holder_alive_elsewhere(holder: dict) -> bool:
    """A holder on another host whose heartbeat is recent: its flock may not reach us."""
    if not holder or holder.get("host") == socket.gethostname():
        return False  # on this host the flock we just got proves the holder is gone
    return time.time() - float(holder.get("heartbeat", 0)) < STALE_SECONDS


class OutputLock:
    """Held from ``acquire`` to ``release`` (or the end of the process)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.run_id = uuid.uuid4().hex[:12]
        self._fd: int | None = None
        self._stop = threading.Event()
        self._beat: threading.Thread | None = None
        self._info: dict = {}

    def acquire(self) -> OutputLock:
        try:  # the run's first write into its output: a directory it cannot write to is a bad argument
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise UsageError(
                f"--output {self.path.parent.parent}: cannot write there ({error.strerror or error})"
            ) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read(fd)
            os.close(fd)
            raise UsageError(
                f"--output {self.path.parent.parent} is in use by {_describe(holder)}: "
                "wait for it to end or choose another directory"
            ) from None
        holder = _read(fd)
        if _holder_alive_elsewhere(holder):
            os.close(fd)
            raise UsageError(
                f"--output {self.path.parent.parent} is in use by {_describe(holder)} "
                f"(heartbeat {time.time() - float(holder['heartbeat']):.0f}s ago)"
            )
        self._fd = fd
        self._info = {
            "run_id": self.run_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write()
        self._beat = threading.Thread(target=self._heartbeat, name="crawlsieve-lock-heartbeat", daemon=True)
        self._beat.start()
        return self

    def _write(self) -> None:
        data = json.dumps({**self._info, "heartbeat": time.time()}).encode()
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, data, 0)
        os.fsync(self._fd)

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError, TypeError):
                self._write()

    def release(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.join(timeout=5)
        fd, self._fd = self._fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing drops the flock

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()


def _read(fd: int) -> dict:
    try:
        return json.loads(os.pread(fd, 64 * 1024, 0) or b"{}")
    except (OSError, ValueError):
        return {}
