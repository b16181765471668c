"""One running stack (rasa, actions, web) for the end-to-end tests of a session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.devstack import Stack
from bot.model_files import model_path
from bot.runtime import Runtime


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not model_path().exists():
        pytest.fail(f"no trained model at {model_path()}: `make test` trains it first")
    running = Stack(Path(tmp_path_factory.mktemp("stack")))
    try:
        running.start()
    except Exception:
        running.stop()
        raise
    yield running
    running.stop()


@pytest.fixture(scope="session")
def stack_runtime(stack: Stack) -> Iterator[Runtime]:
    runtime = Runtime.build(stack.settings)
    yield runtime
    runtime.engine.dispose()
