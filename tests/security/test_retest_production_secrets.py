"""Issue 12 re-test, finding 3: production took one-character secrets. Each secret we choose ourselves
must now be at least 32 characters when ENVIRONMENT=production, refused in one line naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.settings import ConfigError, Settings, load_settings

LONG = {"rasa_token": "r" * 32, "link_secret": "l" * 32, "carrier_webhook_secret": "c" * 32,
        "outbox_auth_token": "o" * 32, "session_secret": "s" * 32, "action_server_secret": "a" * 32}
PRODUCTION = {"environment": "production", "database_url": "postgresql+psycopg://u:p@db.example.com/doorstep",
              "sms_provider": "twilio", "twilio_account_sid": "AC" + "1" * 32, "twilio_auth_token": "t" * 32,
              "twilio_webhook_url": "https://bot.example.com/webhooks/twilio/webhook", "twilio_from_number": "+15550100",
              "email_provider": "sendgrid", "sendgrid_api_key": "SG.real", "sendgrid_webhook_public_key": "MFkw", **LONG}
REST_CARRIER = {"carriers": "rest", "rest_carrier_base_url": "https://carrier.example.com",
                "rest_carrier_api_key": "key"}


@pytest.fixture(autouse=True)
def no_env_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(__file__).parent)


def test_long_secrets_are_accepted() -> None:
    settings = Settings(_env_file=None, **PRODUCTION)  # type: ignore[arg-type]
    assert settings.rasa_token == "r" * 32


@pytest.mark.parametrize("name", ["rasa_token", "link_secret", "session_secret", "carrier_webhook_secret",
                                  "action_server_secret"])
def test_a_short_secret_is_refused_in_production(name: str) -> None:
    with pytest.raises(ValueError, match=f"{name.upper()} must be at least 32 characters"):
        Settings(_env_file=None, **{**PRODUCTION, name: "x" * 31})  # type: ignore[arg-type]
    assert len(getattr(Settings(_env_file=None, **{**PRODUCTION, name: "x" * 32}), name)) == 32  # type: ignore[arg-type]


def test_a_one_character_secret_is_named_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in {**PRODUCTION, "session_secret": "s"}.items():
        monkeypatch.setenv(key.upper(), value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert "SESSION_SECRET" in str(caught.value) and "\n" not in str(caught.value)


def test_the_rest_carrier_webhook_secret_is_long_when_that_carrier_is_on() -> None:
    with pytest.raises(ValueError, match="REST_CARRIER_WEBHOOK_SECRET must be at least 32 characters"):
        Settings(_env_file=None, **PRODUCTION, **REST_CARRIER, rest_carrier_webhook_secret="secret")  # type: ignore[arg-type]
    on = Settings(_env_file=None, **PRODUCTION, **REST_CARRIER, rest_carrier_webhook_secret="w" * 32)  # type: ignore[arg-type]
    assert "rest" in on.enabled_carrier_adapters


def test_local_settings_keep_their_short_defaults() -> None:
    assert Settings(_env_file=None).rasa_token == "local-rasa-token"  # type: ignore[call-arg]
