"""Logging for contimg's entry points: one set-up, at the entry point only."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure(log_path: Path | None = None, level: int = logging.INFO) -> TextIO | None:
    """Send contimg's records to stderr and, when given, to the rule's log file.

    Returns the open log file, so that a tool's own output can be streamed into
    the same file line by line.
    """
    package_logger = logging.getLogger("contimg")
    package_logger.setLevel(logging.DEBUG)
    package_logger.handlers.clear()

    console = logging.StreamHandler(sys.stderr)
    console.setLevel(level)
    console.setFormatter(logging.Formatter(FORMAT))
    package_logger.addHandler(console)
    if log_path is None:
        return None

    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file = open(log_path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
    file_handler = logging.StreamHandler(log_file)
    file_handler.setLevel(logging.DEBUG)
    file_handler.setFormatter(logging.Formatter(FORMAT))
    package_logger.addHandler(file_handler)
    return log_file
