"""Ports for the processes tests start: under pytest-xdist each worker takes them from its own range
(tests/conftest.py), so two workers starting stacks at the same moment never share one."""

from __future__ import annotations

import os
import socket

import pytest

from bot.processes import devstack
from bot.processes.devstack import PORT_RANGE, free_port


def test_ports_come_from_the_range_in_turn_and_skip_one_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PORT_RANGE, "31950-31953")
    monkeypatch.setattr(devstack, "_port_cursor", {"31950-31953": 0})
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 31951))
        busy.listen()
        taken = [free_port() for _ in range(3)]
    assert taken == [31950, 31952, 31953]  # in turn, not the same one twice, and never the one in use
    assert free_port() in (31950, 31951)  # round again from the start of the range


def test_an_xdist_worker_has_a_range_of_its_own_below_the_kernels_ports() -> None:
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:  # a serial run: the kernel picks
        assert PORT_RANGE not in os.environ
        return
    first, last = (int(p) for p in os.environ[PORT_RANGE].split("-"))
    assert first == 20_000 + 2_000 * int(worker.removeprefix("gw")) and last - first == 1_999 and last < 32_768
