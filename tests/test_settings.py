"""Settings: embedded defaults work; a provider switched on without its settings fails in one line."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bot.core.settings import ROOT, ConfigError, Settings, load_settings


def test_defaults_are_the_embedded_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "tests")  # no .env here
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url.startswith("sqlite:///") and settings.database_url.endswith("var/doorstep.db")
    assert (settings.sms_provider, settings.email_provider, settings.carrier) == ("outbox", "outbox", "sandbox")
    assert settings.outbox_enabled
    assert settings.twilio_api_base.endswith("/outbox/twilio")


@pytest.mark.parametrize(("env", "named"), [
    ({"SMS_PROVIDER": "twilio"}, "TWILIO_ACCOUNT_SID"),
    ({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC123"}, "TWILIO_AUTH_TOKEN"),
    ({"SMS_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC1", "TWILIO_AUTH_TOKEN": "t",
      "TWILIO_WEBHOOK_URL": "https://x/webhooks/twilio/webhook"}, "TWILIO_FROM_NUMBER"),
    ({"EMAIL_PROVIDER": "sendgrid"}, "SENDGRID_API_KEY"),
    ({"ENVIRONMENT": "production"}, "RASA_TOKEN"),
    ({"SANDBOX_SPEED": "fast"}, "SANDBOX_SPEED"),
])
def test_a_missing_or_invalid_setting_is_named_in_one_line(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], named: str
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(ROOT / "tests")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert named in str(caught.value) and "\n" not in str(caught.value)


def test_the_command_line_stops_with_that_line_and_status_2() -> None:
    result = subprocess.run([sys.executable, "-m", "bot", "check-config"], cwd=ROOT / "tests",
                            env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "SMS_PROVIDER": "twilio"},
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "TWILIO_ACCOUNT_SID" in result.stderr
    assert "Traceback" not in result.stderr


def test_real_twilio_switches_on_with_its_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "tests")
    settings = Settings(_env_file=None, sms_provider="twilio", twilio_account_sid="AC" + "0" * 32,  # type: ignore[call-arg]
                        twilio_auth_token="secret", twilio_webhook_url="https://bot.example.com/webhooks/twilio/webhook",
                        twilio_messaging_service_sid="MG" + "0" * 32)
    assert not settings.outbox_enabled
    assert settings.twilio_api_base == "https://api.twilio.com"
    assert settings.sms_webhook_url == "https://bot.example.com/webhooks/twilio/webhook"
