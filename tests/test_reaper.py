"""bot.processes.reaper: what a dead program leaves in its process group is killed (supervisord alone does not)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from bot.processes.reaper import reap

# A program that starts a worker and dies, the worker left running in the program's process group
# (as rasa-sdk's Sanic worker outlived a killed action server, holding its port).
LEAVES_A_WORKER = (
    "import subprocess, sys\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
    "print(worker.pid, flush=True)\n"
)


def running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def test_the_workers_a_dead_program_left_behind_are_killed() -> None:
    program = subprocess.Popen([sys.executable, "-c", LEAVES_A_WORKER], stdout=subprocess.PIPE, text=True,
                               start_new_session=True)  # its own process group, as supervisord starts it
    assert program.stdout is not None
    with program.stdout:
        worker = int(program.stdout.readline())
    program.wait(timeout=30)
    assert running(worker)

    line = reap(f"processname:actions groupname:doorstep from_state:RUNNING expected:0 pid:{program.pid}")

    assert line is not None and "actions" in line
    deadline = time.monotonic() + 30
    while running(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not running(worker)


def test_an_event_without_a_pid_kills_nothing() -> None:
    assert reap("processname:actions groupname:doorstep from_state:STARTING expected:0 pid:0") is None
