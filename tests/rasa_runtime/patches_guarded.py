"""Runs in the Rasa runtime (.venv-rasa): what importing our add-ons changes in Rasa, and what
`speedups.restore()` gives back. One line per finding.

    patches_guarded.py version V   Rasa says it is release V (as another release would), then the
                                   add-ons are imported: refused or not, and whether Rasa was touched.
    patches_guarded.py restore     the add-ons are imported, then restored: what was patched, what is left.
"""

import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import rasa
import rasa.core.run
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.core.events import Event
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

# Every class and module an add-on may patch, with everything in it before any add-on is imported.
OWNERS = [rasa.core.run, RemoteAction, EndpointConfig, Event, DaskGraphRunner, DialogueStateTracker, Slot,
          LogisticRegressionClassifier, Agent, MessageProcessor]


def name_of(owner: Any) -> str:
    return getattr(owner, "__qualname__", None) or owner.__name__


def snapshot() -> dict[str, dict[str, Any]]:
    return {name_of(owner): dict(vars(owner)) for owner in OWNERS}


def changed(before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]]) -> list[str]:
    found = []
    for owner, attributes in before.items():
        now = after[owner]
        for name in sorted(set(attributes) | set(now)):
            if attributes.get(name, "<missing>") is not now.get(name, "<missing>"):
                found.append(f"{owner}.{name}")
    return found


before = snapshot()
mode = sys.argv[1]
if mode == "version":
    rasa.__version__ = sys.argv[2]
    try:
        import addons  # noqa: F401
        outcome = "refused=no"
    except Exception as e:
        outcome = f"refused={type(e).__name__} message={e}"
    print(f"guard {outcome}")
    print(f"guard changed={changed(before, snapshot())}")
elif mode == "restore":
    from addons import speedups

    patched = changed(before, snapshot())
    for name in patched:
        print(f"patched {name}")
    speedups.restore()
    print(f"restored leftover={changed(before, snapshot())}")
else:
    sys.exit(f"unknown mode {mode}")
