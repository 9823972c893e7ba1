"""Exit codes, the exec stream's framing, and the supervisor's argument list."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest

from contimg import execution
from contimg.execution import explain_exit, stream_lines, supervised


@dataclass
class StoppedWorker:
    """Stands in for a container in pure message logic: a name and a state."""

    name: str = "contimg-run-1000"
    attrs: dict[str, Any] = field(default_factory=lambda: {"State": {}})

    def reload(self) -> None:
        pass


@pytest.mark.parametrize(
    ("exit_code", "out_of_memory", "expected"),
    [
        (255, False, "WSClean failed"),
        (1, False, "WSClean failed"),
        (134, False, "crashed (SIGABRT)"),
        (139, False, "crashed (SIGSEGV)"),
        (132, False, "crashed (SIGILL)"),
        (137, True, "running out of memory"),
        (137, False, "was killed (SIGKILL)"),
        (143, False, "ended by SIGTERM"),
        (126, False, "could not execute"),
        (127, False, "could not execute"),
    ],
)
def test_exit_codes_are_told_apart(
    exit_code: int, out_of_memory: bool, expected: str
) -> None:
    worker = StoppedWorker()

    message = explain_exit(exit_code, worker, out_of_memory=out_of_memory)  # type: ignore[arg-type]

    assert expected in message


def frame(stream: int, payload: bytes) -> bytes:
    return struct.pack(">BxxxL", stream, len(payload)) + payload


def test_frames_split_anywhere_give_whole_lines_in_order() -> None:
    ours, theirs = socket.socketpair()
    data = frame(1, b"first li") + frame(1, "ne\nsecond ünï".encode())
    data += frame(2, b"an error\n") + frame(1, b"code\nlast without newline")
    lines: list[str] = []

    def send() -> None:
        for start in range(0, len(data), 5):  # cut through headers and characters
            theirs.sendall(data[start : start + 5])
            time.sleep(0.001)
        theirs.close()

    sender = threading.Thread(target=send)
    sender.start()
    tail = stream_lines(ours, lines.append, lambda: None)
    sender.join()

    assert lines == [
        "first line",
        "an error",
        "second ünïcode",
        "last without newline",
    ]
    assert list(tail) == lines


def test_a_silent_stream_has_its_worker_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(execution, "STATE_CHECK_S", 0.05)
    ours, theirs = socket.socketpair()
    checks: list[float] = []

    def check() -> None:
        checks.append(time.monotonic())
        if len(checks) == 3:
            raise RuntimeError("worker paused")

    with pytest.raises(RuntimeError, match="paused"):
        stream_lines(ours, lambda line: None, check)
    theirs.close()
    assert len(checks) == 3


def test_the_supervisor_passes_arguments_as_words() -> None:
    arguments = ["wsclean", "-name", "/data/a b/'q' $HOME", "-j", "2"]

    command = supervised(arguments)

    assert command[:2] == ["sh", "-c"]
    assert '"$@" &' in command[2]
    assert command[4:] == arguments
