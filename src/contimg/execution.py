"""Running one command in the worker: streamed output, a trustworthy exit code.

Uses the engine's low-level exec calls (create, start with the raw stream,
inspect): the convenience call reports no exit code while streaming, and a
stream cut short by a broken connection must not pass for a finished command.

Every command runs under a small supervisor that holds the exec's standard
input open: when the job's process ends for any reason (Ctrl-C, SIGTERM,
SIGKILL, a Snakemake timeout), its connection closes, the supervisor reads
end-of-file and terminates the command inside the worker. Killing a
`docker exec` client alone would leave WSClean running.
"""

from __future__ import annotations

import codecs
import logging
import signal
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import docker.errors
from docker.models.containers import Container

from contimg.engine import command_of
from contimg.errors import WorkerEndedError, WorkerError, WSCleanError

logger = logging.getLogger(__name__)

TAIL_LINES = 25
STATE_CHECK_S = 5.0
"""How often a silent command's worker is looked at (paused, killed, gone)."""

# The command's words arrive as "$@": the shell never interprets them.
# The watcher's output goes to /dev/null so that it never holds the exec's
# output open once the command has ended. The sampler keeps the command's
# peak resident memory (VmHWM, a high-water mark) in a file every half second;
# at the end the supervisor prints it and `times` (CPU time of its children,
# that is of the command) on a line the reader takes out of the output.
SUPERVISOR = """exec 3<&0
"$@" &
child=$!
{ cat <&3; kill -TERM "$child"; } >/dev/null 2>&1 &
watcher=$!
exec 3<&-
peakfile="${TMPDIR:-/tmp}/contimg-peak.$$"
{ while kill -0 "$child"; do
    while read -r key value _; do
      [ "$key" = VmHWM: ] && echo "$value" >"$peakfile"
    done <"/proc/$child/status"
    sleep 0.5
  done; } >/dev/null 2>&1 &
sampler=$!
wait "$child"
status=$?
kill "$watcher" "$sampler" 2>/dev/null
peak=$(cat "$peakfile" 2>/dev/null)
rm -f "$peakfile"
printf '%s %s ' "$USAGE_MARK" "${peak:-0}"
times
exit "$status"
"""
USAGE_MARK = "contimg-usage-7f3a"
"""Starts the supervisor's own line; the next line holds the command's CPU times."""
SUPERVISOR_NAME = "contimg-job"

LineSink = Callable[[str], None]


def supervised(arguments: Sequence[str]) -> list[str]:
    """The argument list that runs `arguments` under the supervisor."""
    return ["sh", "-c", SUPERVISOR, SUPERVISOR_NAME, *arguments]


@dataclass(frozen=True)
class Usage:
    """What one command used inside the worker, measured there."""

    cpu_user_s: float
    cpu_system_s: float
    peak_rss_mb: float
    """Peak resident memory (VmHWM), sampled every half second: a command's
    last half second of growth can be missed."""
    wall_s: float
    """From the exec's start to its end, seen by the client."""


def seconds(text: str) -> float:
    """A `times` figure such as 1m2.340000s in seconds."""
    minutes, _, rest = text.partition("m")
    return float(minutes) * 60 + float(rest.rstrip("s"))


class UsageReader:
    """Takes the supervisor's usage lines out of a command's output."""

    def __init__(self, on_line: LineSink) -> None:
        self.on_line = on_line
        self.peak_kb: float | None = None
        self.cpu: tuple[float, float] | None = None
        self.expect_times = False
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        """The command's last lines, without the supervisor's."""

    def __call__(self, line: str) -> None:
        if USAGE_MARK in line:
            # A command whose output lacks a final newline shares its last line.
            before, _, line = line.partition(USAGE_MARK)
            if before:
                self.forward(before)
            fields = [USAGE_MARK, *line.split()]
            self.peak_kb = float(fields[1]) if fields[1:2] else 0.0
            self.expect_times = True
            return
        if self.expect_times:
            self.expect_times = False
            fields = line.split()
            if len(fields) == 2:
                self.cpu = (seconds(fields[0]), seconds(fields[1]))
                return
        self.forward(line)

    def forward(self, line: str) -> None:
        self.tail.append(line)
        self.on_line(line)

    def usage(self, wall_s: float) -> Usage | None:
        if self.peak_kb is None or self.cpu is None:
            return None
        return Usage(self.cpu[0], self.cpu[1], round(self.peak_kb / 1024, 1), wall_s)


def run_in_worker(
    client: docker.DockerClient,
    container: Container,
    arguments: Sequence[str],
    *,
    workdir: Path,
    on_line: LineSink,
) -> Usage | None:
    """Run an argument list in the worker, its output line by line into `on_line`.

    Returns what the command used inside the worker (None if the supervisor
    could not say). Raises WSCleanError on a non-zero exit, WorkerError when
    the worker or the engine fails.
    """
    api = client.api
    logger.debug("exec in %s: %r", container.name, list(arguments))
    started = time.monotonic()
    started_epoch = time.time()
    try:
        exec_id = api.exec_create(
            container.id,
            supervised(arguments),
            environment={"USAGE_MARK": USAGE_MARK},
            workdir=str(workdir),
            stdin=True,
            stdout=True,
            stderr=True,
        )["Id"]
        stream = api.exec_start(exec_id, socket=True)
    except docker.errors.APIError as error:
        ended = not_running(container)
        if ended is not None:
            raise ended from error
        raise WorkerError(
            f"the container engine could not run {arguments[0]!r} in worker "
            f"{container.name}: {error.explanation or error}; check the worker with "
            f"`{command_of(container)} inspect {container.name}` and rerun"
        ) from error

    reader = UsageReader(on_line)
    stream_lines(stream, reader, lambda: check_worker(container))
    tail = reader.tail
    details = inspect_exec(api, exec_id, container)
    logger.debug(
        "exec finished in %.2f s with exit code %s",
        time.monotonic() - started,
        details.get("ExitCode"),
    )
    if details.get("Running"):
        check_worker(container)
        raise WorkerError(
            f"the output of {arguments[0]!r} in worker {container.name} ended while "
            "the command was still running (the connection to the engine broke); "
            "the step's outputs were not kept; rerun it"
        )
    exit_code = details.get("ExitCode")
    if exit_code != 0:
        if exit_code == 128 + signal.SIGKILL:
            time.sleep(0.5)  # a killed worker takes a moment to read as stopped
        check_worker(container)  # a worker killed or paused under the command
        out_of_memory = exit_code == 128 + signal.SIGKILL and oom_event_since(
            client, container, started_epoch
        )
        raise WSCleanError(
            explain_exit(exit_code, container, out_of_memory=out_of_memory),
            arguments=arguments,
            exit_code=-1 if exit_code is None else int(exit_code),
            output_tail=list(tail),
        )
    return reader.usage(round(time.monotonic() - started, 2))


def inspect_exec(api: Any, exec_id: str, container: Container) -> dict[str, Any]:
    """The engine's record of a finished exec; the worker's fate if it has none."""
    try:
        details: dict[str, Any] = api.exec_inspect(exec_id)
    except docker.errors.NotFound as error:
        raise worker_gone(container) from error
    return details


def stream_lines(
    stream: Any, on_line: LineSink, check: Callable[[], None]
) -> deque[str]:
    """Hand each whole line of a multiplexed exec stream on; keep the last few."""
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    decoders = {
        number: codecs.getincrementaldecoder("utf-8")("replace") for number in (1, 2)
    }
    pending = {1: "", 2: ""}

    def emit(line: str) -> None:
        tail.append(line)
        on_line(line)

    try:
        for number, chunk in frames(stream, check):
            decoder = decoders.get(number, decoders[1])
            text = pending.get(number, "") + decoder.decode(chunk)
            *lines, pending[number] = text.replace("\r", "\n").split("\n")
            for line in lines:
                emit(line)
    finally:
        stream.close()
    for rest in pending.values():
        if rest:
            emit(rest)
    return tail


def frames(stream: Any, check: Callable[[], None]) -> Any:
    """(stream number, bytes) frames of the engine's multiplexed exec protocol.

    Each frame is an 8-byte header (stream number, three zero bytes, payload
    size as a big-endian 32-bit number) and its payload. While the command is
    silent, `check` looks at the worker every few seconds.
    """
    raw: socket.socket = getattr(stream, "_sock", stream)
    raw.settimeout(STATE_CHECK_S)
    buffer = b""
    while True:
        try:
            chunk = raw.recv(65536)
        except TimeoutError:
            check()
            continue
        if not chunk:
            return
        buffer += chunk
        while len(buffer) >= 8:
            size = int.from_bytes(buffer[4:8], "big")
            if len(buffer) < 8 + size:
                break
            yield buffer[0], buffer[8 : 8 + size]
            buffer = buffer[8 + size :]


def not_running(container: Container) -> WorkerEndedError | None:
    """Why a command could not start in the worker, if the worker has ended.

    A paused worker is not ended: check_worker gives it its own error.
    """
    try:
        container.reload()
    except docker.errors.NotFound:
        return WorkerEndedError(f"the worker {container.name} is gone")
    state = container.attrs["State"]
    if state.get("Paused") or state.get("Running"):
        check_worker(container)
        return None
    return WorkerEndedError(
        f"the worker {container.name} has ended (state {state.get('Status')})"
    )


def check_worker(container: Container) -> None:
    """Raise a specific error when the worker is paused, stopped or gone."""
    try:
        container.reload()
    except docker.errors.NotFound as error:
        raise worker_gone(container) from error
    state = container.attrs["State"]
    if state.get("Paused"):
        raise WorkerError(
            f"the worker {container.name} was paused while WSClean ran in it; the "
            f"step was abandoned (WSClean is stopped once the worker resumes); "
            f"resume it with `{command_of(container)} unpause {container.name}` and "
            "rerun"
        )
    if not state.get("Running"):
        raise stopped_worker(container)


def stopped_worker(container: Container) -> WorkerError:
    """The error for a worker that stopped (or was killed) under a running step."""
    state = container.attrs["State"]
    if state.get("OOMKilled"):
        return WorkerError(
            f"the worker {container.name} was killed for running out of memory; raise "
            "worker.memory_mb in the config (or the rule's mem_mb) and rerun"
        )
    return WorkerError(
        f"the worker {container.name} stopped while WSClean ran in it (state "
        f"{state.get('Status')}, exit code {state.get('ExitCode')}): it was stopped "
        f"or killed from outside (`{command_of(container)} kill` or `stop`, the "
        "engine); rerun, and a new worker is started"
    )


def worker_gone(container: Container) -> WorkerError:
    """The error for a worker that no longer exists."""
    return WorkerError(
        f"the worker {container.name} disappeared while WSClean ran in it (it was "
        "killed or removed from outside, or it ended after being idle); rerun, and "
        "a new worker is started"
    )


def oom_event_since(
    client: docker.DockerClient, container: Container, since_epoch: float
) -> bool:
    """Whether the worker ran out of memory since a moment.

    The container's OOMKilled flag is only set when the container itself
    ends; a command killed inside a running worker shows only as an event
    (Docker) or in the worker's memory cgroup (Podman sends no such event).
    """
    try:
        container.reload()
        if container.attrs["State"].get("OOMKilled"):
            return True
        events = client.events(
            since=int(since_epoch) - 1,
            until=int(time.time()) + 1,
            filters={"container": container.id, "event": "oom"},
            decode=True,
        )
        return any(True for _ in events) or oom_kills_in_worker(container) > 0
    except docker.errors.DockerException:
        return False


# cgroup v2 and v1 spellings of the memory cgroup's count of OOM kills.
OOM_COUNTERS = (
    "/sys/fs/cgroup/memory.events",
    "/sys/fs/cgroup/memory/memory.oom_control",
)


def oom_kills_in_worker(container: Container) -> int:
    """How many processes the worker's memory limit has killed since it started.

    The count covers the worker's whole life: a kill after an earlier OOM kill
    in the same worker is taken for one too, which only a per-exec cgroup
    would avoid.
    """
    result = container.exec_run(["cat", *OOM_COUNTERS])
    for line in result.output.decode(errors="replace").splitlines():
        name, _, value = line.partition(" ")
        if name == "oom_kill" and value.strip().isdigit():
            return int(value)
    return 0


def explain_exit(
    exit_code: int | None, container: Container, *, out_of_memory: bool = False
) -> str:
    """A message telling WSClean's own errors from crashes, kills and the runtime's."""
    if exit_code is None:
        return f"the command in worker {container.name} reported no exit code"
    if exit_code in (126, 127):
        reason = "not executable" if exit_code == 126 else "not found"
        return (
            f"the worker {container.name} could not execute the command (exit code "
            f"{exit_code}: {reason}); check that the worker image has WSClean"
        )
    # 128 + N means "ended by signal N"; 255 is WSClean's own exit after an exception.
    if 128 < exit_code <= 128 + 64:
        return explain_signal(exit_code - 128, container, out_of_memory)
    return (
        f"WSClean failed in worker {container.name} (exit code {exit_code}); its own "
        "message is in the last lines below and in the rule's log"
    )


def explain_signal(number: int, container: Container, out_of_memory: bool) -> str:
    """A message for a command ended by a signal."""
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if number == signal.SIGKILL and out_of_memory:
        limit = (container.attrs.get("HostConfig") or {}).get("Memory") or 0
        held = f" (its limit: {limit // 2**20} MB)" if limit else ""
        return (
            f"WSClean was killed for running out of memory in worker "
            f"{container.name}{held}; raise worker.memory_mb (under SLURM, the "
            "rule's mem_mb, which sets the worker's limit there), keep "
            "wsclean.mem_mb (WSClean's -abs-mem) below the worker's limit, and rerun"
        )
    if number == signal.SIGKILL:
        return f"WSClean was killed ({name}) in worker {container.name}"
    if number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGILL, signal.SIGBUS):
        return (
            f"WSClean crashed ({name}) in worker {container.name}; this is a fault "
            "in WSClean or its input, not in contimg: see its last lines below"
        )
    return f"WSClean was ended by {name} in worker {container.name}"
