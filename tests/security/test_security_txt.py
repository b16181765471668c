"""/.well-known/security.txt names the configured contact, or is absent without one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from bot.core.schema import migrate
from tests.conftest import make_settings
from tests.test_web import LiveServer


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    migrate(url)
    return url


def test_security_txt_names_the_contact_and_expires_within_a_year(database: str) -> None:
    with LiveServer(make_settings(database, security_contact="mailto:security@doorstep.example")) as server:
        response = httpx.get(f"{server.url}/.well-known/security.txt")
    assert response.status_code == 200
    fields = dict(line.split(": ", 1) for line in response.text.splitlines())
    assert fields["Contact"] == "mailto:security@doorstep.example"
    expires = datetime.fromisoformat(fields["Expires"].replace("Z", "+00:00"))
    assert timedelta(days=300) < expires - datetime.now(UTC) <= timedelta(days=366)


def test_without_a_contact_there_is_no_security_txt(database: str) -> None:
    with LiveServer(make_settings(database)) as server:
        assert httpx.get(f"{server.url}/.well-known/security.txt").status_code == 404


def test_a_contact_must_be_mailto_or_https(database: str) -> None:
    with pytest.raises(ValidationError):
        make_settings(database, security_contact="javascript:alert(1)\nContact: evil")
