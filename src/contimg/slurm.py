"""What SLURM granted the run on this node, so that the worker's limits match it.

A job on a compute node runs in an allocation: so many CPUs and so much memory.
All jobs of one run on one node share the run's worker there, so the worker's
limits are the sum of the allocations of the run's jobs that run on this node
now. The executor submits every job of a run under one job name (the run's
SLURM run id), which finds them; each job's allocation is read from its
trackable resources (`scontrol show job`), because the executor's job step
drops SLURM_MEM_PER_NODE and the like before it runs Snakemake.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, replace

import docker.errors
from docker.models.containers import Container

from contimg.worker import WorkerSettings

logger = logging.getLogger(__name__)

MEMORY_UNITS_MB = {"K": 1 / 1024, "M": 1.0, "G": 1024.0, "T": 1024.0**2}
SLURM_TIMEOUT_S = 30


@dataclass(frozen=True)
class Grant:
    """The resources SLURM gave the run's running jobs on this node."""

    job_ids: tuple[str, ...]
    cpus: int | None
    memory_mb: int | None


def record_field(job_record: str, name: str) -> str | None:
    """One field of `scontrol show job -o` output, or None."""
    found = re.search(rf"(?:^|\s){re.escape(name)}=(\S*)", job_record)
    return None if found is None else found.group(1)


def tres_resources(job_record: str) -> tuple[int | None, int | None]:
    """CPUs and memory in MB of a job's trackable resources (TRES), if shown."""
    tres = record_field(job_record, "AllocTRES") or record_field(job_record, "TRES")
    if not tres:
        return None, None
    cpus = re.search(r"(?:^|,)cpu=(\d+)", tres)
    memory = re.search(r"(?:^|,)mem=(\d+(?:\.\d+)?)([KMGT]?)", tres)
    memory_mb = (
        None
        if memory is None
        else int(float(memory.group(1)) * MEMORY_UNITS_MB[memory.group(2) or "M"])
    )
    return (None if cpus is None else int(cpus.group(1))), memory_mb


def slurm_output(arguments: list[str]) -> str | None:
    """A SLURM command's output; None (with a warning) when it fails."""
    try:
        return subprocess.run(
            arguments,
            capture_output=True,
            text=True,
            timeout=SLURM_TIMEOUT_S,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        logger.warning("%s failed: %s", " ".join(arguments), error)
        return None


def run_jobs_here(job_name: str, node: str) -> list[str]:
    """The running jobs of this user named job_name on this node."""
    listed = slurm_output(
        ["squeue", "--noheader", "--states=RUNNING", f"--name={job_name}",
         f"--nodelist={node}", f"--user={os.getuid()}", "--format=%i"]
    )  # fmt: skip
    return [] if listed is None else listed.split()


def granted(environment: Mapping[str, str]) -> Grant | None:
    """What SLURM granted the run on this node; None outside a SLURM job."""
    job_id = environment.get("SLURM_JOB_ID", "")
    if not job_id:
        return None
    own = slurm_output(["scontrol", "show", "job", "--oneliner", job_id]) or ""
    name, node = record_field(own, "JobName"), environment.get("SLURMD_NODENAME")
    job_ids = run_jobs_here(name, node) if name and node else []
    if job_id not in job_ids:
        job_ids.append(job_id)
    records = [own] + [
        slurm_output(["scontrol", "show", "job", "--oneliner", other]) or ""
        for other in job_ids
        if other != job_id
    ]
    resources = [tres_resources(record) for record in records]
    cpus = [count for count, _ in resources]
    memory = [megabytes for _, megabytes in resources]
    return Grant(
        job_ids=tuple(job_ids),
        cpus=None if None in cpus else sum(c for c in cpus if c is not None),
        memory_mb=None if None in memory else sum(m for m in memory if m is not None),
    )


def within_grant(settings: WorkerSettings, grant: Grant | None) -> WorkerSettings:
    """Worker settings whose limits are the grant's (a smaller configured memory
    limit stays); unchanged outside SLURM."""
    if grant is None:
        return settings
    memory_mb = grant.memory_mb
    if settings.memory_mb is not None and memory_mb is not None:
        memory_mb = min(settings.memory_mb, memory_mb)
    elif memory_mb is None:
        memory_mb = settings.memory_mb
    return replace(settings, memory_mb=memory_mb, cpus=grant.cpus)


def fit_worker(container: Container, settings: WorkerSettings) -> None:
    """Give a running worker the limits of settings, when they differ.

    A worker started by one job of the run on this node serves the run's
    other jobs there too; each job that attaches resizes it to what the run
    holds on this node now.
    """
    host_config = container.attrs.get("HostConfig", {})
    limits: dict[str, int] = {}
    if settings.cpus is not None:
        limits["nano_cpus"] = int(settings.cpus * 1e9)
    if settings.memory_mb is not None:
        limits["mem_limit"] = limits["memswap_limit"] = settings.memory_mb * 2**20
    current = {
        "nano_cpus": host_config.get("NanoCpus"),
        "mem_limit": host_config.get("Memory"),
        "memswap_limit": host_config.get("MemorySwap"),
    }
    if all(current[key] == value for key, value in limits.items()):
        return
    try:
        container.update(**limits)
    except docker.errors.APIError as error:
        logger.warning(
            "could not resize worker %s to %s: %s", container.name, limits, error
        )
        return
    logger.info(
        "worker %s resized to %s CPUs and %s MB (the run's SLURM jobs on this node)",
        container.name,
        settings.cpus,
        settings.memory_mb,
    )
