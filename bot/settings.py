"""The one settings object, read from the environment and an optional `.env`.

Defaults are the embedded ones (SQLite under `var/`, outbox providers, sandbox carrier), so a fresh
clone runs with nothing configured. A provider that is switched on must have its settings: a missing
one fails at start with one line that names the variable (`ConfigError`), not a traceback later.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = ROOT / "var"

# Local-only defaults: fine on a laptop, refused when ENVIRONMENT=production.
LOCAL_SECRETS = {
    "rasa_token": "local-rasa-token",
    "link_secret": "local-link-secret",
    "carrier_webhook_secret": "local-carrier-secret",
    "outbox_auth_token": "local-outbox-token",
    "session_secret": "local-session-secret",
}


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_default=True)

    environment: Literal["local", "production"] = "local"

    # Data
    database_url: str = f"sqlite:///{VAR_DIR / 'doorstep.db'}"
    rasa_tracker_url: str = f"sqlite:///{VAR_DIR / 'rasa-tracker.db'}"

    # Processes
    web_host: str = "127.0.0.1"
    web_port: int = 8000
    rasa_port: int = 5005
    actions_port: int = 5055
    public_base_url: str = "http://localhost:8000"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_public_url: str = "http://localhost:5005"  # where browsers reach Rasa's socket.io (web chat)
    web_internal_url: str = "http://127.0.0.1:8000"
    action_server_url: str = "http://127.0.0.1:5055/webhook"
    rasa_token: str = LOCAL_SECRETS["rasa_token"]

    # SMS (Twilio or the local outbox, which speaks Twilio's REST API)
    sms_provider: Literal["outbox", "twilio"] = "outbox"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_from_number: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_webhook_url: str = ""  # the exact inbound URL configured in Twilio (signature base)
    outbox_account_sid: str = "ACoutbox0000000000000000000000000"
    outbox_auth_token: str = LOCAL_SECRETS["outbox_auth_token"]
    outbox_from_number: str = "+4930901820"

    # Email (SendGrid or the outbox)
    email_provider: Literal["outbox", "sendgrid"] = "outbox"
    sendgrid_api_key: str = ""
    email_from: str = "updates@doorstep.example"

    # Carrier
    carrier: Literal["sandbox"] = "sandbox"
    carrier_webhook_secret: str = LOCAL_SECRETS["carrier_webhook_secret"]
    sandbox_speed: float = 30.0  # simulated seconds per real second
    sandbox_tick_seconds: float = 2.0
    sandbox_seed: int = 7
    # Tracking numbers whose changes fail as if the carrier timed out (comma-separated): to see and
    # test that a carrier failure changes nothing and hands the customer to a person.
    sandbox_faults: str = ""

    # Links and tokens
    link_secret: str = LOCAL_SECRETS["link_secret"]
    link_max_age_days: int = 14

    # Tracking page and agent console (issue 5)
    session_secret: str = LOCAL_SECRETS["session_secret"]  # signs agent session cookies
    agent_session_hours: float = 8.0  # an agent session ends this long after login
    agent_idle_minutes: float = 60.0  # ... or after this long without a request
    map_tile_url: str = ""  # e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png; empty: no tiles
    map_tile_attribution: str = ""
    lookup_attempts_per_hour: int = 10  # tracking number + postcode lookups per client address

    @model_validator(mode="after")
    def _check_switched_on_providers(self) -> Settings:
        if self.sms_provider == "twilio":
            for name in ("twilio_account_sid", "twilio_auth_token", "twilio_webhook_url"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()} is required when SMS_PROVIDER=twilio")
            if not (self.twilio_from_number or self.twilio_messaging_service_sid):
                raise ValueError(
                    "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required when SMS_PROVIDER=twilio"
                )
            if not self.twilio_account_sid.startswith("AC"):
                raise ValueError("TWILIO_ACCOUNT_SID must start with AC")
        if self.email_provider == "sendgrid" and not self.sendgrid_api_key:
            raise ValueError("SENDGRID_API_KEY is required when EMAIL_PROVIDER=sendgrid")
        if self.environment == "production":
            for name, local_value in LOCAL_SECRETS.items():
                if getattr(self, name) == local_value:
                    raise ValueError(f"{name.upper()} must be set (not the local default) when ENVIRONMENT=production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("DATABASE_URL must be a server database when ENVIRONMENT=production")
        if self.sandbox_speed <= 0:
            raise ValueError("SANDBOX_SPEED must be positive")
        return self

    # Derived values: one place decides them.
    @property
    def outbox_enabled(self) -> bool:
        """The demo phone, `bot sms` and the outbox pages exist only while the outbox is the SMS provider."""
        return self.sms_provider == "outbox"

    @property
    def sms_account_sid(self) -> str:
        return self.twilio_account_sid if self.sms_provider == "twilio" else self.outbox_account_sid

    @property
    def sms_auth_token(self) -> str:
        """The token that signs inbound webhooks and authenticates outbound API calls."""
        return self.twilio_auth_token if self.sms_provider == "twilio" else self.outbox_auth_token

    @property
    def sms_from(self) -> str:
        return self.twilio_from_number if self.sms_provider == "twilio" else self.outbox_from_number

    @property
    def sms_webhook_url(self) -> str:
        """The URL Twilio (or the demo phone) posts inbound SMS to; signatures are computed over it."""
        return self.twilio_webhook_url or f"{self.rasa_url}/webhooks/twilio/webhook"

    @property
    def twilio_api_base(self) -> str:
        """Where the Twilio SDK sends requests: the real API, or the outbox that answers like it."""
        if self.sms_provider == "twilio":
            return "https://api.twilio.com"
        return f"{self.web_internal_url}/outbox/twilio"


def load_settings() -> Settings:
    """Build settings or raise `ConfigError` with one line naming the bad variable."""
    try:
        return Settings()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())).upper()
        message = first.get("msg", "invalid").removeprefix("Value error, ")
        raise ConfigError(f"configuration error: {where + ': ' if where else ''}{message}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings for process entry points; library code takes a `Settings` argument instead."""
    return load_settings()
