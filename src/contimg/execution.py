"""Running one command in the worker: streamed output, a trustworthy exit code.

Uses the engine's low-level exec calls (create, start with the raw stream,
inspect): the convenience call reports no exit code while streaming, and a
stream cut short by a broken connection must not pass for a finished command.
"""

from __future__ import annotations

import codecs
import logging
import signal
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

import docker
import docker.errors
from docker.models.containers import Container
from docker.utils.socket import frames_iter

from contimg.errors import WorkerError, WSCleanError

logger = logging.getLogger(__name__)

TAIL_LINES = 25

LineSink = Callable[[str], None]


def run_in_worker(
    client: docker.DockerClient,
    container: Container,
    arguments: Sequence[str],
    *,
    workdir: Path,
    on_line: LineSink,
) -> None:
    """Run an argument list in the worker, its output line by line into `on_line`.

    Raises WSCleanError on a non-zero exit, WorkerError when the engine fails.
    """
    api = client.api
    logger.debug("exec in %s: %r", container.name, list(arguments))
    started = time.monotonic()
    try:
        exec_id = api.exec_create(
            container.id,
            list(arguments),
            workdir=str(workdir),
            stdout=True,
            stderr=True,
        )["Id"]
        stream = api.exec_start(exec_id, socket=True)
    except docker.errors.APIError as error:
        raise WorkerError(
            f"the container engine could not start {arguments[0]!r} in worker "
            f"{container.name}: {error.explanation or error}; check that the worker "
            "is running (`docker ps`) and that the image has the program"
        ) from error

    tail = stream_lines(stream, on_line)
    details = api.exec_inspect(exec_id)
    logger.debug("exec finished in %.2f s: %s", time.monotonic() - started, details)
    if details.get("Running"):
        raise WorkerError(
            f"the output stream of {arguments[0]!r} in worker {container.name} ended "
            "while the command was still running (the connection to the engine "
            "broke); the step's outputs were not kept; rerun it"
        )
    exit_code = details.get("ExitCode")
    if exit_code != 0:
        raise WSCleanError(
            explain_exit(exit_code, container),
            arguments=arguments,
            exit_code=-1 if exit_code is None else int(exit_code),
            output_tail=list(tail),
        )


def stream_lines(stream: object, on_line: LineSink) -> deque[str]:
    """Hand each whole line of a demultiplexed exec stream on; keep the last few."""
    raw = getattr(stream, "_sock", stream)
    # Long silent stretches (gridding, cleaning) are normal: no read timeout here.
    raw.settimeout(None)  # type: ignore[attr-defined]
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    decoders = {
        1: codecs.getincrementaldecoder("utf-8")("replace"),
        2: codecs.getincrementaldecoder("utf-8")("replace"),
    }
    pending = {1: "", 2: ""}
    try:
        for stream_number, chunk in frames_iter(stream, tty=False):
            text = pending[stream_number] + decoders[stream_number].decode(chunk)
            *lines, pending[stream_number] = text.replace("\r", "\n").split("\n")
            for line in lines:
                tail.append(line)
                on_line(line)
    finally:
        stream.close()  # type: ignore[attr-defined]
    for rest in pending.values():
        if rest:
            tail.append(rest)
            on_line(rest)
    return tail


def explain_exit(exit_code: int | None, container: Container) -> str:
    """A message telling WSClean's own errors from crashes, kills and the runtime's."""
    if exit_code is None:
        return f"the command in worker {container.name} reported no exit code"
    if exit_code in (126, 127):
        return (
            f"the worker {container.name} could not execute the command (exit code "
            f"{exit_code}: {'not executable' if exit_code == 126 else 'not found'}); "
            "check that the worker image has WSClean"
        )
    # 128 + N means "ended by signal N"; 255 is WSClean's own exit after an exception.
    if 128 < exit_code <= 128 + 64:
        return explain_signal(exit_code - 128, container)
    return (
        f"WSClean failed in worker {container.name} (exit code {exit_code}); its own "
        "message is in the last lines below and in the rule's log"
    )


def explain_signal(number: int, container: Container) -> str:
    """A message for a command ended by a signal."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL:
        container.reload()
        if container.attrs["State"].get("OOMKilled"):
            return (
                f"WSClean was killed for running out of memory in worker "
                f"{container.name}; raise worker.memory_mb (or the rule's mem_mb)"
            )
        return f"WSClean was killed ({name}) in worker {container.name}"
    if number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGILL, signal.SIGBUS):
        return (
            f"WSClean crashed ({name}) in worker {container.name}; this is a fault "
            "in WSClean or its input, not in contimg: see its last lines below"
        )
    return f"WSClean was ended by {name} in worker {container.name}"
