"""Paths handed to the worker: they must lie under a mounted data root."""

from __future__ import annotations

import os
import shutil
import socket
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from contimg.errors import PathOutsideRootsError, StepOutputError
from contimg.run import process_start


def require_under_roots(path: Path, roots: Sequence[Path], what: str) -> Path:
    """The path with links resolved, refused when it is not under a mounted root.

    Resolving first means a symbolic link whose target lies outside the roots is
    refused too: inside the worker, that target would not exist.
    """
    resolved = Path(os.path.realpath(path))
    if any(resolved.is_relative_to(Path(os.path.realpath(root))) for root in roots):
        return resolved
    raise PathOutsideRootsError(
        f"{what} {path} (resolved: {resolved}) is not under any directory the worker "
        f"mounts ({', '.join(map(str, roots))}); move it there, or add its "
        "directory to roots.inputs in the config"
    )


STAGING_OWNER = ".contimg-owner"
"""In each staging directory: host, process id and start time of its job."""


def new_staging_directory(scratch: Path, label: str) -> Path:
    """A fresh directory of the job's own under the scratch root, naming its
    owner so that a later run can remove it if the job was killed."""
    directory = scratch / "staging" / f"{label}-{uuid.uuid4().hex[:12]}"
    directory.mkdir(parents=True)
    pid = os.getpid()
    (directory / STAGING_OWNER).write_text(
        f"{socket.gethostname()} {pid} {process_start(pid)}\n", encoding="utf-8"
    )
    return directory


def remove_dead_staging(scratch: Path) -> list[Path]:
    """Remove the staging directories of jobs on this host that are gone.

    A job killed outright (SIGKILL, the end of a batch job) cannot remove its
    staging directory, which may hold WSClean's temporary files. Directories
    of running jobs, of other hosts' jobs, and without an owner are kept.
    """
    removed = []
    host = socket.gethostname()
    for owner in sorted((scratch / "staging").glob(f"*/{STAGING_OWNER}")):
        try:
            owner_host, pid, start = owner.read_text(encoding="utf-8").split()
            alive = process_start(int(pid)) == start
        except (OSError, ValueError):
            continue
        if owner_host == host and not alive:
            remove_staging(owner.parent)
            removed.append(owner.parent)
    return removed


def publish(staged: Iterable[tuple[Path, Path]]) -> None:
    """Move staged files to their final places, once all of them are known to exist."""
    pairs = list(staged)
    missing = [str(source) for source, _ in pairs if not source.is_file()]
    if missing:
        raise StepOutputError(
            f"the step finished but did not write {', '.join(missing)}; nothing was "
            "moved into place; see the rule's log for WSClean's output"
        )
    for source, destination in pairs:
        destination.parent.mkdir(parents=True, exist_ok=True)
        # Same file system: an atomic rename; otherwise copy then rename.
        partial = destination.with_name(f".{destination.name}.partial")
        shutil.move(source, partial)
        partial.replace(destination)


def remove_staging(directory: Path) -> None:
    """Remove a job's staging directory and whatever is left in it."""
    shutil.rmtree(directory, ignore_errors=True)
