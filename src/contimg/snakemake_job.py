"""Unpacking the `snakemake` object a wrapper or script receives into typed values.

Kept here so that each wrapper stays a few lines of unpacking and one call.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from snakemake_wrapper_utils.snakemake import get_mem

from contimg import config as settings
from contimg import logs, slurm
from contimg.errors import ContimgError
from contimg.steps import StepContext

logger = logging.getLogger(__name__)


def step_context(job: Any, step: str) -> StepContext:
    """The worker, scratch, resources and log of a WSClean rule's job."""
    workdir = Path.cwd()
    log = logs.configure(Path(job.log[0]))
    # Resources is a named list: `in` alone would search its values, not its names.
    has_memory = "mem_mb" in job.resources.keys()  # noqa: SIM118
    memory_mb = get_mem(job, "MiB") if has_memory else None
    grant = slurm.granted(os.environ)
    worker = slurm.within_grant(settings.worker_settings(job.config, workdir), grant)
    if grant is not None:
        logger.info(
            "SLURM job %s; the run's jobs on this node (%s) hold %s CPUs and %s MB; "
            "the worker's limits: %s CPUs, %s MB",
            os.environ["SLURM_JOB_ID"],
            ", ".join(grant.job_ids),
            grant.cpus,
            grant.memory_mb,
            worker.cpus,
            worker.memory_mb,
        )
    return StepContext(
        worker=worker,
        scratch=settings.scratch_root(job.config, workdir),
        threads=int(job.threads),
        memory_mb=memory_mb,
        label=f"{step}-{job.wildcards.ms}",
        log=log,
        usage_file=Path(job.params.container_usage)
        if "container_usage" in job.params.keys()  # noqa: SIM118
        else None,
        grant=grant,
    )


def terminate(number: int, frame: object) -> None:
    """Turn SIGTERM into an exception that unwinds the step."""
    raise SystemExit(128 + number)


def run_step(step: Callable[[], object]) -> None:
    """Run a step; a contimg error ends the job with its message, not a traceback.

    SIGTERM (Snakemake cancelling the job) unwinds like Ctrl-C does, so the
    step's staging directory is removed and the worker stops its command.
    """
    signal.signal(signal.SIGTERM, terminate)
    try:
        step()
    except ContimgError as error:
        logger.error("%s", error)
        sys.exit(1)
