"""Issue 12 re-test, finding 6: the web app read a huge body whole before its 413 (8 parallel 30 MB
posts took the process from 269 to 428 MB). Now a body over the limit is refused by its declared
length, or as soon as a streamed one passes the limit. Measured on the real web process: its peak
resident memory (VmHWM) must not grow by the body's size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.processes.devstack import Stack

pytestmark = pytest.mark.e2e
MB = 1024 * 1024
BODY_MB = 30


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    with Stack(Path(tmp_path_factory.mktemp("retest-body")), processes=("web",)) as running:
        yield running


def peak_memory_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def chunks() -> Iterator[bytes]:
    for _ in range(BODY_MB * 16):
        yield b"x" * (MB // 16)


FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize(("path", "content_type"), [("/webhooks/carriers/sandbox", "application/json"),
                                                    ("/agent/login", FORM), ("/t/lookup", FORM)])
def test_a_30_mb_body_is_refused_without_being_read(stack: Stack, path: str, content_type: str) -> None:
    url = stack.settings.web_internal_url + path
    before = peak_memory_kb(stack.pid("web"))
    declared = httpx.post(url, content=b"x" * (BODY_MB * MB), headers={"Content-Type": content_type},
                          timeout=120)
    assert declared.status_code == 413
    streamed = httpx.post(url, content=chunks(), headers={"Content-Type": content_type}, timeout=120)
    assert streamed.status_code == 413
    grown_mb = (peak_memory_kb(stack.pid("web")) - before) / 1024
    assert grown_mb < 10, f"peak memory grew by {grown_mb:.0f} MB"
    assert httpx.get(stack.settings.web_internal_url + "/chat", timeout=30).status_code == 200
