"""Types for values that come from outside, so that a value out of range is a clear 4xx, never a 500:
ids the database can hold, times a carrier can mean, JSON the parser can read without running out of
stack."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Path, Query
from pydantic import ValidationError

MAX_ROW_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL (bigint) hold

RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="a row id (1 to 2^63-1)")]
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="only rows with a larger id (0 to 2^63-1)")]
BeforeId = Annotated[int | None, Query(ge=1, le=MAX_ROW_ID, description="only rows with a smaller id (1 to 2^63-1)")]



def row_id(text: str) -> int | None:
    """A row id written as decimal digits (a form field or a query value we read ourselves), or None."""
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 1 <= value <= MAX_ROW_ID else None


def load_json(raw: bytes | str) -> Any:
    """`json.loads`, but nesting too deep for the parser is a ValueError like any other bad JSON."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def describe(error: ValueError) -> str:
    """One line for a 4xx body: which field is wrong and why (a ValidationError's first error)."""
    if isinstance(error, ValidationError) and error.errors():
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        return f"{where}: {message}"[:200] if where else message[:200]
    return str(error).splitlines()[0][:200] if str(error) else "invalid"
