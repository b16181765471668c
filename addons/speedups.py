"""Rasa 3.6 re-checks its whole events schema against the JSON Schema meta-schema on every action
server reply (`RemoteAction._validate_action_result` calls `jsonschema.validate`): about 14 ms per
call, two or three calls per turn, most of the Rasa server's CPU per turn (measured with cProfile by
`make bench`). The same validation with a validator built once takes 0.2 ms. Behaviour is the same:
a bad reply still raises `jsonschema.ValidationError` with Rasa's message.

Imported from `addons/__init__.py`, so it applies whenever Rasa loads our channels. It uses
jsonschema, which is Rasa's own dependency, exactly as Rasa does.
"""

from functools import lru_cache
from typing import Any, Dict

from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    try:
        _validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise e


def install() -> None:
    RemoteAction._validate_action_result = _validate_action_result  # type: ignore[method-assign]
