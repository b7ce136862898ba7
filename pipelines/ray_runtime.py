"""The driver's Ray plumbing, shared by every Ray job (`run`, `refilter`, `tokenize`, `cluster`):
starting or joining Ray with its log lines off the terminal, the one-task-per-item fan-out with
its retry counter, and stopping.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
from pathlib import Path

from crawlsieve.core.errors import UsageError
from crawlsieve.pipelines.config import Config

#: Ray's driver-side log lines, in the logs folder of its session (/tmp/ray/session_latest/logs).
RAY_DRIVER_LOG = "crawlsieve-driver.log"


@contextlib.contextmanager
def _utf8_entrypoint():
    """Ray records the driver's command line (read from the OS) as UTF-8 and fails when an input
    name on it is not UTF-8; it gets the escaped form. Ray has no option for this, so its helper
    is wrapped while ``ray.init`` runs (left alone if a Ray version lacks it)."""
    import ray._private.utils as ray_utils

    original = getattr(ray_utils, "get_entrypoint_name", None)
    if original is None:
        yield
        return
    ray_utils.get_entrypoint_name = lambda: (
        original().encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    )
    try:
        yield
    finally:
        ray_utils.get_entrypoint_name = original


def init_ray(config: Config) -> None:
    """Join the configured cluster or start a local Ray, which dies with this process
    (``ray_watchdog``); Ray's log lines stay off the terminal (``_ray_logs_to_files``)."""
    import ray
    from ray.data import DataContext

    from crawlsieve.pipelines.ray_watchdog import dies_with_this_process

    logging.getLogger("ray").setLevel(logging.WARNING)
    if not ray.is_initialized():
        address = config.ray.address or os.environ.get("RAY_ADDRESS")
        if address and (config.ray.num_cpus or config.ray.object_store_memory):
            raise UsageError(
                "--num-cpus and ray.object_store_memory size a local Ray; not with a cluster address"
            )
        held = _hold_ray_logs()
        with _utf8_entrypoint():
            if address:
                started = ray.init(address=address, log_to_driver=False, logging_level=logging.WARNING)
            else:
                with dies_with_this_process():
                    started = ray.init(
                        num_cpus=config.ray.num_cpus,
                        object_store_memory=config.ray.object_store_memory,
                        include_dashboard=False,
                        log_to_driver=False,
                        logging_level=logging.WARNING,
                    )
        _ray_logs_to_files(held, getattr(started, "address_info", {}).get("session_dir"))
    context = DataContext.get_current()
    # On a terminal Ray Data draws progress bars; elsewhere it logs progress, to its file only.
    context.enable_progress_bars = True
    context.print_on_execution_start = False
    context.verbose_stats_logs = False
    # A task's own exception, not Ray Data's wrapper of it: the run's one line of failure names it.
    context.raise_original_map_exception = True
    data_logger = logging.getLogger("ray.data")
    data_logger.handlers = [h for h in data_logger.handlers if not _is_console(h)]  # its file stays


def _is_console(handler: logging.Handler) -> bool:
    return isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)


def _hold_ray_logs() -> logging.handlers.MemoryHandler:
    """Ray's driver-side log lines (a warning while it starts, a failed task's ERROR), held in
    memory instead of Ray's terminal handler until its session's folder exists."""
    held = logging.handlers.MemoryHandler(capacity=1_000, flushLevel=logging.CRITICAL + 1)
    ray_logger = logging.getLogger("ray")
    ray_logger.handlers = [held]
    ray_logger.propagate = False
    return held


def _ray_logs_to_files(held: logging.handlers.MemoryHandler, session_dir: str | None) -> None:
    """From now on Ray's driver-side lines go to RAY_DRIVER_LOG beside Ray's own logs (nowhere
    for a ``ray://`` client, which has no session folder here): the terminal is the run's."""
    if session_dir:
        target: logging.Handler = logging.FileHandler(Path(session_dir) / "logs" / RAY_DRIVER_LOG)
        target.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        target = logging.NullHandler()
    held.setTarget(target)
    held.close()  # writes what it held
    logging.getLogger("ray").handlers = [target]


def count_attempt(path: Path) -> int:
    """Counts (in ``path``, on the shared output volume) and returns this attempt at a task's item.

    Ray Data retries a task whose worker died, without limit (its supported behaviour; the
    per-operator ``max_retries`` it took is deprecated). A file that kills every worker that
    reads it would then never end the run, so each attempt is counted, and past
    ``ray.max_task_retries`` retries the file is given up (phase A: one `worker_lost` row).
    """
    from crawlsieve.core.io import write_bytes_atomically

    try:
        count = int(path.read_text(encoding="utf-8")) + 1
    except (OSError, ValueError):
        count = 1
    write_bytes_atomically(str(count).encode(), path)
    return count


def per_shard(fn, items: list[dict], config: Config, output_dir: Path, **kwargs) -> list[dict]:
    """Run ``fn`` once per shard as Ray Data tasks (retried when a worker dies: ``count_attempt``);
    ``kwargs`` go to ``fn`` besides the config and the output directory."""
    import ray

    if not items:
        return []
    dataset = ray.data.from_items(items, override_num_blocks=len(items))
    dataset = dataset.map_batches(
        fn,
        batch_size=1,
        batch_format="pyarrow",
        zero_copy_batch=True,
        fn_kwargs={"config": config, "output_dir": str(output_dir), **kwargs},
        num_cpus=config.ray.cpus_per_shard_task,
    )
    return dataset.take_all()


def ray_node_id() -> str | None:
    """The Ray node running this task, recorded so a run shows where each file was processed."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def shutdown_ray() -> None:
    """Stop this driver's tasks now (a local Ray stops with it)."""
    import ray

    with contextlib.suppress(Exception):
        ray.shutdown()
