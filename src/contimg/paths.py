"""Paths handed to the worker: they must lie under a mounted data root."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

from contimg.errors import PathOutsideRootsError, StepOutputError


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


def new_staging_directory(scratch: Path, label: str) -> Path:
    """A fresh directory of the job's own under the scratch root."""
    directory = scratch / "staging" / f"{label}-{uuid.uuid4().hex[:12]}"
    directory.mkdir(parents=True)
    return directory


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
