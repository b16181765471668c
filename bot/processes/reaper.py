"""A supervisord event listener: when a program exits, kill what is left of its process group.

supervisord starts each program in its own process group, but only stops that group when it stops
the program itself. A program that dies on its own (a crash, an OOM kill, SIGKILL) can leave children
behind: rasa-sdk's Sanic runner keeps a worker process that still holds the port, so the restarted
action server cannot bind ("Address already in use") while the orphan answers with stale code. This
is what systemd's KillMode=control-group does; deploy/supervisord.conf runs it as [eventlistener:reaper].
A group whose processes are all gone is left alone (the kill finds nobody).
"""

from __future__ import annotations

import os
import signal
import sys

from supervisor import childutils


def reap(payload: str) -> str | None:
    """Kill the exited program's process group; returns a line for the log, None if nothing was left."""
    fields = childutils.get_headers(payload)
    pid = int(fields.get("pid", "0"))
    if pid <= 1:
        return None
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        return None
    return f"{fields.get('processname', '?')} exited (pid {pid}): killed what was left of its process group\n"


def main() -> None:
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        if headers.get("eventname") == "PROCESS_STATE_EXITED":
            line = reap(payload)
            if line:
                sys.stderr.write(line)
                sys.stderr.flush()
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
