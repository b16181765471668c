"""Rasa 3.6 re-checks its whole events schema against the JSON Schema meta-schema on every action
server reply (`RemoteAction._validate_action_result` calls `jsonschema.validate`): about 14 ms per
call, two or three calls per turn, most of the Rasa server's CPU per turn (measured with cProfile by
`make bench`). Here the validators are built once, and each event is checked against the one
branch of the events schema's `oneOf` whose `event` constant it names, instead of trying all 23:
the same verdicts, a bad reply still raises `jsonschema.ValidationError` with Rasa's message.

Also: Rasa opens a new aiohttp session, so a new TCP connection, for every call to the action
server; here each endpoint keeps one session (and its connection pool) per event loop.

The same session serializes the request body (the whole tracker, 15-25 KB) with ujson, a Rasa
dependency, about three times faster than the standard library's json.

And: turning a stored event back into an object looks its class up by walking every subclass of
`Event` (`Event.resolve_by_type` → `all_subclasses`, with `inspect.isabstract` on each), for every
event of every tracker read: about 5% of the server's CPU per turn (py-spy under `make bench`). Here
the name → class table is built once, and rebuilt if a name is not in it (a class imported later).

And: every NLU parse and every action prediction runs a graph of Rasa components through
`DaskGraphRunner.run`, which recomputes the subgraph the targets need by walking the schema without
memo (each shared node again for each path to it) and hands the result to dask's scheduler: about a
tenth of the server's CPU per turn, for graphs of 8 to 15 nodes that can only run one after another
in one process anyway. Here the subgraph is computed once per set of targets and the nodes are
called in dependency order: the same nodes, the same inputs, the same outputs.

And three more, each found by py-spy under `make bench`:
- Each prediction asks the tracker for its past states three times (the memoization policy, the rule
  policy with text and with intent), and each time every event is replayed: here the states are kept
  on the tracker until its events change, and each caller gets its own copy (callers edit them).
- Every tracker copies every slot with `copy.copy`, the generic (reduce-protocol) way: here slots
  copy themselves the same way, shallowly, directly (`Slot.__copy__`).
- The logistic regression classifier combines all of a message's sparse features (sequence ones
  too, which it does not use) pair by pair and stacks them with an empty dense matrix; with one
  message and no dense features it stacks the sentence features once.

And the garbage collector: the loaded model leaves about 580,000 long-lived objects that every full
collection walks again, about 250 ms each with the whole server stopped (measured with gc callbacks
under `make bench` at 20 concurrent conversations: four such pauses in 25 s), the slowest turns of
all. Once the model is loaded they are moved out of the collector's sight (`gc.freeze()`), as
CPython's documentation suggests for a server's start-up state.

And admission: Rasa starts every arriving message at once, so under load 20 turns interleave, each
waiting behind the others' work after every call to the action server, and a turn that makes two
calls waits three times (at 20 concurrent conversations in `make bench`: p50 190 ms, p95 330-390 ms).
Here at most RASA_MAX_CONCURRENT_TURNS turns (setting `rasa_max_concurrent_turns`, default 4: enough
to keep the CPU busy while some wait for the action server) are worked on at once and the others
wait their turn in arrival order (p50 176 ms, p95 254 ms, and more turns per second).

Imported from `addons/__init__.py`, so it applies whenever Rasa loads our channels. It uses
jsonschema, which is Rasa's own dependency, exactly as Rasa does.
"""

import asyncio
import gc
import os
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Dict, List, Tuple

import aiohttp
import numpy as np
import rasa.core.run
import scipy.sparse
import ujson
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.core.slots import Slot
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import TEXT
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig


def _build(schema: Dict[str, Any]) -> Any:
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


@lru_cache(maxsize=1)
def _validators() -> Tuple[Any, Any, Dict[Any, List[Any]]]:
    """The reply without its events, the part every event shares, and each event type's branch."""
    spec = RemoteAction.action_response_format_spec()
    events = spec["properties"]["events"]
    items = events["items"]
    shell = dict(spec, properties={**spec["properties"], "events": {"type": events["type"]}})
    common = {k: v for k, v in items.items() if k != "oneOf"}
    branches: Dict[Any, List[Any]] = {}
    for branch in items["oneOf"]:
        name = branch.get("properties", {}).get("event", {}).get("const")
        branches.setdefault(name, []).append(_build(branch))
    return _build(shell), _build(common), branches


def check(result: Dict[str, Any]) -> None:
    """Raise `ValidationError` for a reply the full events schema would refuse."""
    shell, common, branches = _validators()
    shell.validate(result)
    for event in result.get("events") or []:
        common.validate(event)
        candidates = branches.get(event.get("event"), [])
        if sum(1 for validator in candidates if validator.is_valid(event)) != 1:
            raise ValidationError(f"{event!r} is not valid under exactly one of the event schemas")


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    try:
        check(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


class _KeptSession:
    """`async with endpoint.session() as s` without closing s at the end."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc: Any) -> bool:
        return False


def _new_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """`EndpointConfig.session()`, with ujson for request bodies."""
    auth = None
    if endpoint.basic_auth:
        auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
    return aiohttp.ClientSession(headers=endpoint.headers, auth=auth, json_serialize=ujson.dumps,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT))


_sessions: Dict[Tuple[int, int], aiohttp.ClientSession] = {}


def _kept_session(self: EndpointConfig) -> Any:
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return _new_session(self)
    key = (id(loop), id(self))
    session = _sessions.get(key)
    if session is None or session.closed:
        session = _sessions[key] = _new_session(self)
    return _KeptSession(session)


_event_classes: Dict[str, Any] = {}
_resolve_by_type = Event.resolve_by_type


def _event_class_table() -> Dict[str, Any]:
    table: Dict[str, Any] = {}
    for cls in all_subclasses(Event):  # the order Rasa's own lookup uses: the first match wins
        table.setdefault(cls.type_name, cls)
    return table


def resolve_by_type(type_name: str, default: Any = None) -> Any:
    """`Event.resolve_by_type` from a table: same answers, including its errors and defaults."""
    cls = _event_classes.get(type_name)
    if cls is None:
        _event_classes.clear()
        _event_classes.update(_event_class_table())
        cls = _event_classes.get(type_name)
    if cls is not None:
        return cls
    return _resolve_by_type(type_name, default)


def _subgraph(runner: DaskGraphRunner, targets: Tuple[str, ...]) -> Dict[str, Tuple[str, ...]]:
    """Node name -> the names it needs, for every node the targets depend on (memoized per runner)."""
    cache = runner.__dict__.setdefault("_doorstep_subgraphs", {})
    if targets not in cache:
        nodes = runner._graph_schema.nodes
        needed: Dict[str, Tuple[str, ...]] = {}
        pending = [t for t in targets if t in nodes]
        while pending:
            name = pending.pop()
            if name not in needed:
                needed[name] = tuple(nodes[name].needs.values())
                pending.extend(d for d in needed[name] if d in nodes)
        cache[targets] = needed
    return cache[targets]


def run_graph(self: DaskGraphRunner, inputs: Dict[str, Any] | None = None,
              targets: List[str] | None = None) -> Dict[str, Any]:
    """`DaskGraphRunner.run` without dask: the needed nodes called in dependency order."""
    run_targets = list(targets) if targets else list(self._graph_schema.target_names)
    needs = _subgraph(self, tuple(run_targets))
    results: Dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and value in needs:
            raise GraphRunError(f"Input value '{value}' clashes with a node name. Make sure that none of the "
                                "input names passed to the `run` method are the same as node names in the graph schema.")
        results[name] = (name, value)  # what dask hands on for an input: (name, value), like a node's output

    def compute(name: str) -> Any:
        if name not in results:
            if name not in needs:
                raise GraphRunError(f"Graph has no node and no input named '{name}'.")
            results[name] = self._instantiated_nodes[name](*(compute(d) for d in needs[name]))
        return results[name]

    try:
        return dict(compute(t) for t in run_targets)
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


_past_states = DialogueStateTracker.past_states


def past_states(self: DialogueStateTracker, domain: Any, omit_unset_slots: bool = False,
                ignore_rule_only_turns: bool = False, rule_only_data: Dict[str, Any] | None = None) -> List[Any]:
    """`DialogueStateTracker.past_states`, computed once per (arguments, events so far)."""
    events = self.events
    version = (len(events), id(events[-1]) if events else None)
    memo = self.__dict__.get("_doorstep_states")
    if memo is None or memo[0] != version:
        memo = self.__dict__["_doorstep_states"] = (version, {})
    key = (id(domain), omit_unset_slots, ignore_rule_only_turns, id(rule_only_data) if rule_only_data else None)
    states = memo[1].get(key)
    if states is None:
        states = memo[1][key] = _past_states(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    # A state is {"user": {...}, "prev_action": {...}, "slots": {name: tuple}, ...}: two levels deep.
    return [{part: dict(value) if isinstance(value, dict) else value for part, value in state.items()}
            for state in states]


def copy_slot(self: Slot) -> Slot:
    """What `copy.copy` does for a plain object, without the reduce protocol."""
    clone = object.__new__(type(self))
    clone.__dict__.update(self.__dict__)
    return clone


_create_X = LogisticRegressionClassifier._create_X


def create_x(self: LogisticRegressionClassifier, messages: List[Any]) -> Any:
    """`LogisticRegressionClassifier._create_X` for one message with only sparse features: its
    sentence features side by side, in one step (Rasa combines sequence and sentence features pair
    by pair, copies the first, then stacks the result with an empty dense matrix)."""
    if len(messages) == 1:
        _, sentence = messages[0]._filter_sparse_features(TEXT, [])
        if sentence and messages[0].get_dense_features(attribute=TEXT)[1] is None:
            return scipy.sparse.hstack([f.features for f in sentence], format="csr", dtype=np.float64)
    return _create_X(self, messages)


_load_agent_on_start = rasa.core.run.load_agent_on_start


async def load_agent_on_start(*args: Any, **kwargs: Any) -> Any:
    """Rasa's `load_agent_on_start`, then the start-up state frozen out of garbage collection."""
    agent = await _load_agent_on_start(*args, **kwargs)
    gc.collect()
    gc.freeze()
    return agent


_handle_message = Agent.handle_message
_turns: Dict[int, asyncio.Semaphore] = {}


class Slot:
    """One turn's place among the turns worked on at once. A turn waiting long on another process
    (addons/action_guard.py) gives it back meanwhile and takes it again before going on."""

    def __init__(self, turns: asyncio.Semaphore) -> None:
        self.turns = turns
        self.held = False

    async def take(self) -> None:
        await self.turns.acquire()
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self.turns.release()


current_slot: ContextVar[Slot | None] = ContextVar("doorstep_turn_slot", default=None)


async def handle_message(self: Agent, message: Any) -> Any:
    """`Agent.handle_message`, at most RASA_MAX_CONCURRENT_TURNS turns at once, the others queued in
    arrival order (see the module docstring)."""
    loop = id(asyncio.get_running_loop())
    turns = _turns.get(loop)
    if turns is None:
        turns = _turns[loop] = asyncio.Semaphore(max(1, int(os.environ.get("RASA_MAX_CONCURRENT_TURNS", "4"))))
    slot = Slot(turns)
    await slot.take()
    token = current_slot.set(slot)
    try:
        return await _handle_message(self, message)
    finally:
        current_slot.reset(token)
        slot.give_back()


# What install() replaced, by (class, attribute): the agreement tests run Rasa's own against ours.
originals: Dict[Tuple[Any, str], Any] = {}


def _replace(cls: Any, name: str, value: Any) -> None:
    originals.setdefault((cls, name), cls.__dict__.get(name))
    setattr(cls, name, value)


def install() -> None:
    _replace(RemoteAction, "_validate_action_result", _validate_action_result)
    _replace(EndpointConfig, "session", _kept_session)
    _replace(Event, "resolve_by_type", staticmethod(resolve_by_type))
    _replace(DaskGraphRunner, "run", run_graph)
    _replace(DialogueStateTracker, "past_states", past_states)
    _replace(Slot, "__copy__", copy_slot)  # Slot has none of its own: None in `originals`
    _replace(LogisticRegressionClassifier, "_create_X", create_x)
    _replace(Agent, "handle_message", handle_message)
    # `serve_application` looks the listener up by its module-level name after our channels (and so
    # this module) are imported.
    rasa.core.run.load_agent_on_start = load_agent_on_start


def restore() -> None:
    """Rasa's own behaviour again (for the agreement tests)."""
    for (cls, name), value in originals.items():
        if value is None:
            delattr(cls, name)
        else:
            setattr(cls, name, value)
