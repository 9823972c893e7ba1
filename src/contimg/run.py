"""A run: one invocation of the pipeline, and the identity its jobs share.

The Snakefile gives each run an identifier when it is read and puts it into
the environment, so every job of the run finds the same worker: local jobs are
child processes of the Snakemake process, and SLURM jobs get the submitting
process's environment (the executor submits with `sbatch --export=ALL`). With
the identifier travel the owner's process id, start time and host, so a worker
started by a job on a compute node names the run's Snakemake process on the
submitting host as its owner.
"""

from __future__ import annotations

import getpass
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from contimg.errors import WorkerError

RUN_ID_VARIABLE = "CONTIMG_RUN_ID"
RUN_PID_VARIABLE = "CONTIMG_RUN_PID"
RUN_START_VARIABLE = "CONTIMG_RUN_START"
RUN_HOST_VARIABLE = "CONTIMG_RUN_HOST"


def new_run_id() -> str:
    """A fresh run identifier: UTC time of the start and a random suffix."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def enter_run() -> str:
    """Give this process (and its children) a run identity, keeping an inherited one."""
    owner_variables = (RUN_PID_VARIABLE, RUN_START_VARIABLE, RUN_HOST_VARIABLE)
    if not os.environ.get(RUN_ID_VARIABLE):
        os.environ[RUN_ID_VARIABLE] = new_run_id()
        for name in owner_variables:  # a new run is owned by this process
            os.environ.pop(name, None)
    # A job of a run keeps the owner that travelled with the identifier.
    if RUN_PID_VARIABLE not in os.environ:
        os.environ[RUN_PID_VARIABLE] = str(os.getpid())
        os.environ[RUN_START_VARIABLE] = process_start(os.getpid()) or "unknown"
        os.environ[RUN_HOST_VARIABLE] = socket.gethostname()
    return os.environ[RUN_ID_VARIABLE]


def run_id_from_environment() -> str:
    """The identifier of the run this process belongs to."""
    run_id = os.environ.get(RUN_ID_VARIABLE, "")
    if not run_id:
        raise WorkerError(
            f"{RUN_ID_VARIABLE} is not set, so this job cannot tell which run's "
            "worker to use; run the step through snakemake, whose Snakefile sets it"
        )
    return run_id


@dataclass(frozen=True)
class RunIdentity:
    """Who and where a run is: the facts a worker's labels carry."""

    run_id: str
    host: str
    uid: int
    gid: int
    user: str
    owner_pid: int
    """The process that owns the run: the Snakemake process that started it."""
    owner_start: str
    """When the owner process started (kernel clock ticks), to detect pid reuse."""
    owner_host: str
    """Where the owner process runs: another host for a job on a compute node."""
    workdir: Path
    """The directory the run works in (Snakemake's working directory)."""

    @classmethod
    def current(cls, run_id: str) -> RunIdentity:
        """The identity of the given run as seen by this process."""
        host = socket.gethostname()
        owner_pid = int(os.environ.get(RUN_PID_VARIABLE, os.getpid()))
        owner_host = os.environ.get(RUN_HOST_VARIABLE, host)
        owner_start = os.environ.get(RUN_START_VARIABLE)
        if owner_start is None and owner_host == host:
            owner_start = process_start(owner_pid)
        return cls(
            run_id=run_id,
            host=host,
            uid=os.getuid(),
            gid=os.getgid(),
            user=getpass.getuser(),
            owner_pid=owner_pid,
            owner_start=owner_start or "unknown",
            owner_host=owner_host,
            workdir=Path.cwd(),
        )

    @property
    def worker_name(self) -> str:
        """The worker container's name: unique per run, host engine and owner."""
        return f"contimg-{self.run_id}-{self.uid}"


def process_status(pid: int) -> list[str] | None:
    """Fields 3 onwards of /proc/PID/stat (state, parent, ...); None if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces; fields after it are plain.
    return stat.rsplit(")", 1)[1].split()


def process_start(pid: int) -> str | None:
    """When a process started (clock ticks since boot), or None if it is gone.

    Together with the process id this names a process for good: a reused id
    comes with a later start time.
    """
    status = process_status(pid)
    return None if status is None else status[19]
