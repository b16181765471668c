"""Issue 12 re-test, findings 2 and 4: what another local user of the machine can read. Rasa's API
token was on its command line (/proc/<pid>/cmdline and `ps` are world-readable), and the SQLite
databases were created 0644 (an agent's session id, with the local session secret, forged a cookie)."""

from __future__ import annotations

import secrets
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.processes.devstack import Stack

pytestmark = pytest.mark.e2e
TOKEN = secrets.token_urlsafe(32)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("retest-local")), processes=("rasa", "web"),
               extra_env={"RASA_TOKEN": TOKEN}) as running:
        yield running


def session_of(pid: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(status[status.rindex(")") + 2:].split()[3])  # state ppid pgrp session


def command_lines(session: int) -> list[str]:
    """The command lines of every process in one session (the stack starts each in its own)."""
    lines = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and session_of(entry.name) == session:
            try:
                lines.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                continue
    return lines


def test_the_rasa_token_is_on_no_command_line(stack: Stack) -> None:
    seen = [line for name in stack.processes for line in command_lines(stack.pid(name))]
    assert any("--enable-api" in line for line in seen), seen  # Rasa's own process was looked at
    assert not [line for line in seen if TOKEN in line]


def test_the_rasa_api_still_takes_the_token_and_only_the_token(stack: Stack) -> None:
    url = f"{stack.settings.rasa_url}/status"
    assert httpx.get(url, params={"token": TOKEN}, timeout=30).status_code == 200
    assert httpx.get(url, timeout=30).status_code == 401
    assert httpx.get(url, params={"token": "local-rasa-token"}, timeout=30).status_code == 401


def test_the_databases_are_readable_by_their_owner_only(stack: Stack) -> None:
    databases = sorted(stack.workdir.glob("*.db*"))
    assert {"doorstep.db", "tracker.db"} <= {path.name for path in databases}
    loose = {path.name: oct(stat.S_IMODE(path.stat().st_mode)) for path in databases
             if stat.S_IMODE(path.stat().st_mode) & 0o077}
    assert loose == {}
