"""SIGTERM reaches every process a run started, grandchildren included."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from contimg.interrupts import descendants, terminate_descendants


def test_descendants_include_grandchildren_and_terminate_reaches_them() -> None:
    # A shell that starts a sleeping child, as Snakemake's shell starts a job.
    shell = subprocess.Popen(["sh", "-c", "sleep 60 & wait"])
    try:
        deadline = time.monotonic() + 5
        while not descendants(shell.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        (sleeper,) = descendants(shell.pid)
        assert shell.pid in descendants(os.getpid())
        assert sleeper in descendants(os.getpid())

        assert terminate_descendants(shell.pid) == 1
        shell.wait(timeout=5)
        stat = Path(f"/proc/{sleeper}/stat")
        assert not stat.exists() or stat.read_text().split()[2] == "Z"
    finally:
        shell.kill()


def test_the_sigterm_handler_stops_jobs_then_calls_the_previous_one() -> None:
    script = (
        "import os, signal, subprocess, sys, time\n"
        "from contimg.interrupts import stop_jobs_on_sigterm\n"
        "calls = []\n"
        "signal.signal(signal.SIGTERM, lambda n, f: calls.append(n))\n"
        "stop_jobs_on_sigterm()\n"
        "job = subprocess.Popen(['sleep', '60'])\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "print(calls == [signal.SIGTERM], job.wait(timeout=5) == -signal.SIGTERM)\n"
    )

    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30
    )

    assert result.stdout.split() == ["True", "True"], result.stderr
