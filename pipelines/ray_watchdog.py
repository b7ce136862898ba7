"""A local Ray dies with the driver that started it, however the driver dies (``kill -9`` too).

Ray starts its GCS and raylet with PR_SET_PDEATHSIG, so those die with the driver. The raylet's
own children (workers, the dashboard and runtime-env agents) only notice later, and then wait
for the dead GCS: after a ``kill -9`` of the driver they lived on for a minute and more (~210 MB).
Ray has no option that binds them to the driver, and its own "reaper" (used where PDEATHSIG is
missing) kills one process group, while every worker has a group of its own.

So the driver starts this process before Ray (``dies_with_this_process``), and every process of
its Ray inherits a token in its environment. This process waits on a pipe whose write end only
the driver holds: when the driver is gone, the read returns, whatever killed it, and every
process carrying the token is killed. No polling, and nothing else is touched: other users' and
other runs' Ray processes carry no token, or another. Run as ``python -m ... TOKEN``.

The agents name themselves with setproctitle, which by default overwrites the memory that
/proc/PID/environ shows; ``SPT_NOENV`` (setproctitle's own switch) keeps it, and so the token.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid

#: The environment variable through which the processes of one driver's Ray are known.
TOKEN = "CRAWLSIEVE_RAY_OF_DRIVER"
#: Sweeps after the driver died: a process being started during one is found by the next.
SWEEPS = 10

_watchdogs: list[subprocess.Popen] = []  # held: the pipe closes when its Popen is collected


@contextlib.contextmanager
def dies_with_this_process():
    """Processes started inside the block, and all they start, are killed when this one ends."""
    token = uuid.uuid4().hex
    _watchdogs.append(
        subprocess.Popen(
            [sys.executable, "-m", __name__, token],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C or hangup of the driver's terminal does not reach it
        )
    )
    marks = {TOKEN: token, "SPT_NOENV": "1"}
    previous = {name: os.environ.get(name) for name in marks}
    os.environ.update(marks)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                del os.environ[name]
            else:
                os.environ[name] = value


def kill_carriers(token: str) -> None:
    """SIGKILL every process whose environment carries ``token``, until none is left."""
    import psutil

    for _ in range(SWEEPS):
        found = []
        for process in psutil.process_iter():
            with contextlib.suppress(psutil.Error):  # gone, or another user's
                if process.pid != os.getpid() and process.environ().get(TOKEN) == token:
                    process.kill()  # psutil checks it is still the process it found
                    found.append(process)
        if not found:
            return
        psutil.wait_procs(found, timeout=5)


def main(token: str) -> None:
    sys.stdin.buffer.read()  # returns at EOF: the driver closed its end by exiting, or was killed
    kill_carriers(token)


if __name__ == "__main__":
    main(sys.argv[1])
