"""SIGTERM to a run stops its jobs, and with them WSClean inside the worker.

Snakemake answers SIGTERM by letting running jobs finish before it exits,
which for a long clean can be hours. A contimg run instead passes SIGTERM on
to every process it started (its jobs); each job then closes its connection
to the worker, and the worker's supervisor stops the job's WSClean.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from contimg.run import process_status

logger = logging.getLogger(__name__)

Handler = Callable[[int, FrameType | None], object]


def children_by_parent() -> dict[int, list[int]]:
    """Every process's children, read from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        status = process_status(int(entry.name))
        if status is None:
            continue  # ended while we looked
        children.setdefault(int(status[1]), []).append(int(entry.name))
    return children


def descendants(pid: int) -> list[int]:
    """The processes started by pid, by their children, and so on."""
    tree = children_by_parent()
    found: list[int] = []
    pending = list(tree.get(pid, []))
    while pending:
        child = pending.pop()
        found.append(child)
        pending.extend(tree.get(child, []))
    return found


def terminate_descendants(pid: int) -> int:
    """Send SIGTERM to every descendant of pid; how many were signalled."""
    count = 0
    for child in descendants(pid):
        try:
            os.kill(child, signal.SIGTERM)
            count += 1
        except ProcessLookupError:
            continue
    return count


def stop_jobs_on_sigterm(cancel_cluster_jobs: bool = False) -> None:
    """Make SIGTERM stop this process's jobs, then do what it did before.

    With cancel_cluster_jobs (the jobs run on a cluster, not as child
    processes), SIGTERM is taken as Ctrl-C: Snakemake then cancels the run's
    cluster jobs (for SLURM: scancel) instead of waiting for them to finish.
    """
    previous = signal.getsignal(signal.SIGTERM)

    def handler(number: int, frame: FrameType | None) -> None:
        if cancel_cluster_jobs:
            logger.warning("SIGTERM: cancelling the run's cluster jobs")
            raise KeyboardInterrupt
        count = terminate_descendants(os.getpid())
        logger.warning("SIGTERM: stopping the run's %d job process(es)", count)
        if callable(previous):
            previous(number, frame)
        elif previous == signal.SIG_DFL:
            raise SystemExit(128 + number)

    signal.signal(signal.SIGTERM, handler)
