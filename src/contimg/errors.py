"""The errors contimg raises: one root class and a few specific kinds.

Every message names the input, what was expected and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence


class ContimgError(Exception):
    """Root of every error contimg raises on purpose."""


class ConfigError(ContimgError):
    """A configuration value is missing, malformed or inconsistent."""


class MeasurementSetError(ContimgError):
    """A Measurement Set cannot be used as it is."""


class SkyModelError(ContimgError):
    """A catalogue or a sky model cannot be used as it is."""


class ImageError(ContimgError):
    """A FITS image cannot be read as one celestial plane."""


class PathOutsideRootsError(ContimgError):
    """A path handed to the worker does not lie under a mounted data root."""


class WorkerError(ContimgError):
    """The worker container cannot be started, reached or used."""


class WorkerEndedError(WorkerError):
    """The worker had ended (idle, or stopped from outside) before a command
    could start in it: nothing ran, so the command may be retried."""


class WorkerImageError(WorkerError):
    """The worker image is missing or its WSClean lacks an option contimg uses."""


class StepOutputError(ContimgError):
    """A step finished but did not produce every file it promised."""


class WSCleanError(ContimgError):
    """WSClean ran in the worker and exited with a non-zero status."""

    def __init__(
        self,
        message: str,
        *,
        arguments: Sequence[str],
        exit_code: int,
        output_tail: Sequence[str],
    ) -> None:
        self.arguments = list(arguments)
        self.exit_code = exit_code
        self.output_tail = list(output_tail)
        tail = "\n".join(f"  | {line}" for line in self.output_tail)
        super().__init__(
            f"{message}\n  command: {self.arguments!r}\n  exit code: {exit_code}\n"
            f"  last lines of its output:\n{tail}"
        )
