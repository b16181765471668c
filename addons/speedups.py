"""Rasa 3.6 re-checks its whole events schema against the JSON Schema meta-schema on every action
server reply (`RemoteAction._validate_action_result` calls `jsonschema.validate`): about 14 ms per
call, two or three calls per turn, most of the Rasa server's CPU per turn (measured with cProfile by
`make bench`). Here the validators are built once, and each event is checked against the one
branch of the events schema's `oneOf` whose `event` constant it names, instead of trying all 23:
the same verdicts, a bad reply still raises `jsonschema.ValidationError` with Rasa's message.

Also: Rasa opens a new aiohttp session, so a new TCP connection, for every call to the action
server; here each endpoint keeps one session (and its connection pool) per event loop.

And: turning a stored event back into an object looks its class up by walking every subclass of
`Event` (`Event.resolve_by_type` → `all_subclasses`, with `inspect.isabstract` on each), for every
event of every tracker read: about 5% of the server's CPU per turn (py-spy under `make bench`). Here
the name → class table is built once, and rebuilt if a name is not in it (a class imported later).

Imported from `addons/__init__.py`, so it applies whenever Rasa loads our channels. It uses
jsonschema, which is Rasa's own dependency, exactly as Rasa does.
"""

import asyncio
from functools import lru_cache
from typing import Any, Dict, List, Tuple

import aiohttp
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
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


_new_session = EndpointConfig.session
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


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
    EndpointConfig.session = _kept_session  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
