"""The one settings object, read from the environment and an optional `.env`.

Defaults are the embedded ones (SQLite under `var/`, outbox providers, sandbox carrier), so a fresh
clone runs with nothing configured. A provider that is switched on must have its settings: a missing
one fails at start with one line that names the variable (`ConfigError`), not a traceback later.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ROOT = Path(__file__).resolve().parent.parent.parent
VAR_DIR = ROOT / "var"

# Local-only defaults: fine on a laptop, refused when ENVIRONMENT=production.
LOCAL_SECRETS = {
    "rasa_token": "local-rasa-token",
    "link_secret": "local-link-secret",
    "carrier_webhook_secret": "local-carrier-secret",
    "outbox_auth_token": "local-outbox-token",
    "session_secret": "local-session-secret",
}


# Secrets we choose ourselves (not a vendor's) must be long in production: a guessable one opens the Rasa
# API, forges tracking links or agent sessions, or fakes carrier events (REST_CARRIER_WEBHOOK_SECRET too,
# when that carrier is on).
PRODUCTION_SECRETS = ("rasa_token", "link_secret", "session_secret", "carrier_webhook_secret",
                      "action_server_secret")
MIN_PRODUCTION_SECRET_CHARS = 32


def local_action_server_secret() -> str:
    """The action server's secret when none is set (local only): random, made once per checkout and
    kept in `var/` (mode 0600), so every process of this checkout agrees on it and nobody who only
    reads the code knows it. Production must set ACTION_SERVER_SECRET."""
    path = VAR_DIR / "action-server.secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    draft = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    with os.fdopen(os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as out:
        out.write(secrets.token_urlsafe(32))
    try:
        os.link(draft, path)  # appears whole; when another process was first, theirs is kept
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return path.read_text().strip()


class ConfigError(RuntimeError):
    """A setting is missing or invalid; the message is one line naming the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_default=True)

    environment: Literal["local", "production"] = "local"
    # Where to report a vulnerability (mailto: or https:), published in /.well-known/security.txt.
    security_contact: str = Field(default="", pattern=r"^$|^(mailto:|https://)\S+$")

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
    # Interfaces the internal HTTP servers listen on (loopback: reachable from this machine only).
    rasa_host: str = "127.0.0.1"
    actions_host: str = "127.0.0.1"
    # Rasa sends it with every action call (Authorization: Bearer …); the action server refuses calls without it.
    action_server_secret: str = Field(default_factory=local_action_server_secret, min_length=16)
    # How long Rasa waits for one action call before telling the customer it can't check right now
    # (addons/action_guard.py); after a failed call, calls fail fast for the cool-off. Longer than
    # one carrier call, so a change the carrier is still making is not abandoned half-way.
    action_timeout_seconds: float = Field(default=12.0, gt=0, le=300)
    action_cool_off_seconds: float = Field(default=10.0, ge=0, le=600)
    # Turns one Rasa process works on at once; the rest wait in arrival order (addons/speedups.py).
    rasa_max_concurrent_turns: int = Field(default=4, ge=1, le=256)

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
    # Numbers the outbox accepts but reports "undelivered" (error 30003), to see the email fallback.
    outbox_undeliverable: str = ""
    # WhatsApp through the same Twilio account (issue 16): the WhatsApp sender (`whatsapp:+E164`, the
    # Twilio sandbox's or your approved sender; empty: no WhatsApp), and the approved templates.
    twilio_whatsapp_from: str = ""
    outbox_whatsapp_from: str = "whatsapp:+4930901820"
    whatsapp_templates: str = ""  # trigger x locale -> ContentSid; empty: config/whatsapp_templates.yml

    # Email (SendGrid or the outbox)
    email_provider: Literal["outbox", "sendgrid"] = "outbox"
    sendgrid_api_key: str = ""
    # The "Signed Event Webhook" verification key (base64 DER, from SendGrid's Mail Settings).
    sendgrid_webhook_public_key: str = ""
    # Signed events older than this (by their signed timestamp) are refused as replays (403).
    sendgrid_event_max_age_seconds: int = Field(default=600, ge=60)
    email_from: str = "updates@doorstep.example"

    # Notifications (rules are data: config/notifications.yml or your copy)
    notification_rules: str = ""
    notify_tick_seconds: float = 2.0
    notify_batch: int = 500
    notify_concurrency: int = 32
    # Batches one dispatcher works on at once (PostgreSQL; SQLite: one): while one batch is in the
    # database, another's messages are on their way to the provider.
    notify_lanes: int = Field(default=2, ge=1, le=8)
    notify_claim_lease_seconds: float = 60.0  # a claim older than this is presumed dead and reconciled
    # SMS per second per sender pool (a Twilio number or Messaging Service: a long code sends about one
    # segment a second, a short code 100 or more), shared by every worker through Redis when REDIS_URL
    # is set; 0: no limit.
    sms_per_second: float = Field(default=0.0, ge=0)

    # Issue 17: workers. Unset (the default): the scheduler runs planning, dispatch and recording in
    # its own process. Set (e.g. amqp://guest:guest@127.0.0.1:5672//): Celery workers run them.
    celery_broker_url: str = ""
    # The workers' queues are named <prefix>.planning, <prefix>.essential, ... (several deployments,
    # or test runs, can share one broker).
    celery_queue_prefix: str = Field(default="doorstep", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    # Shared state between processes: the sender pools' rate, the scheduler's leader lock.
    redis_url: str = ""
    # Issue 17: Redis shared by several Rasa replicas: their lock store (one conversation's turns one at
    # a time, whichever replica takes them) and web chat's socket.io messages (an agent's reply reaches
    # the browser whichever replica holds its socket). Empty (one Rasa): both in memory.
    rasa_redis_url: str = Field(default="", pattern=r"^$|^redis://\S+$")
    worker_max_retries: int = Field(default=5, ge=0)  # then the task goes to the dead letters (failed_tasks)
    worker_retry_backoff_seconds: float = Field(default=2.0, gt=0)  # doubled on every retry, jittered

    # Carrier
    carrier: Literal["sandbox"] = "sandbox"
    carrier_webhook_secret: str = LOCAL_SECRETS["carrier_webhook_secret"]
    sandbox_speed: float = 30.0  # simulated seconds per real second
    sandbox_tick_seconds: float = 2.0
    sandbox_seed: int = 7
    # Tracking numbers whose changes fail as if the carrier timed out (comma-separated): to see and
    # test that a carrier failure changes nothing and hands the customer to a person.
    sandbox_faults: str = ""
    # After delivery (issue 15): how often the sandbox's drivers ignore the instructions in force, and
    # how often they leave a parcel far from the door; what "far" means for the comparison.
    sandbox_ignore_instructions_rate: float = Field(default=0.1, ge=0.0, le=1.0)
    sandbox_far_drop_rate: float = Field(default=0.05, ge=0.0, le=1.0)
    proof_max_distance_m: int = Field(default=50, ge=1)
    claim_answer_hours: int = Field(default=48, ge=1)  # the customer is promised an answer within this

    # Real carrier adapters (issue 7), besides the sandbox: each shipment's `carrier` names its adapter.
    carriers: str = ""  # comma-separated: karrio, onfleet, rest
    carrier_timeout_seconds: float = 10.0
    carrier_retry_attempts: int = 3  # idempotent calls only (reads), with exponential backoff
    carrier_breaker_failures: int = 5  # failures in a row before a carrier counts as down
    carrier_breaker_cool_off_seconds: float = 60.0
    carrier_time_zone: str = "Europe/Berlin"  # for day-level ETAs and the windows offered for Onfleet
    karrio_carriers: str = ""  # comma-separated karrio carrier names: ups, fedex, dhl_express
    karrio_test_mode: bool = False  # the carriers' own sandbox servers
    karrio_ups_client_id: str = ""
    karrio_ups_client_secret: str = ""
    karrio_ups_account_number: str = ""
    karrio_ups_server_url: str = ""  # override (a proxy or a local test server); empty = karrio's
    karrio_fedex_api_key: str = ""
    karrio_fedex_secret_key: str = ""
    karrio_fedex_account_number: str = ""
    karrio_fedex_server_url: str = ""
    karrio_dhl_express_site_id: str = ""
    karrio_dhl_express_password: str = ""
    karrio_dhl_express_account_number: str = ""
    karrio_dhl_express_server_url: str = ""
    # Where karrio return labels send parcels back to (the shop's returns desk).
    karrio_return_name: str = "Doorstep Returns"
    karrio_return_street: str = "Lagerstraße 1"
    karrio_return_postcode: str = "10245"
    karrio_return_city: str = "Berlin"
    karrio_return_country: str = "DE"
    karrio_return_phone: str = "+4930901820"
    karrio_return_email: str = "returns@doorstep.example"
    onfleet_api_key: str = ""
    onfleet_webhook_secret: str = ""  # hex, from the Onfleet dashboard (API & Webhooks)
    onfleet_api_url: str = "https://onfleet.com/api/v2"
    rest_carrier_name: str = "rest"  # the `carrier` value of shipments served by the REST adapter
    rest_carrier_base_url: str = ""
    rest_carrier_api_key: str = ""
    rest_carrier_webhook_secret: str = ""
    # Issue 16: shippers announce new parcels (POST /api/v1/shipments), HMAC-signed with this secret as the
    # REST carrier's webhook is; empty: the endpoint is off (404).
    shipper_api_secret: str = ""
    rest_carrier_capabilities: str = "track,windows,reschedule,redirect,lockers,instructions,change_address,returns"

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
    change_api_requests_per_hour: int = Field(default=120, ge=1)  # /api/v1 per client address, reads and changes
    # Failed agent logins per 15 minutes, per account (the email typed) and per client address.
    login_attempts_per_account: int = Field(default=10, ge=1)
    login_attempts_per_client: int = Field(default=30, ge=1)
    # ... and per device cookie (a browser that logged in before skips the per-account count until then).
    login_attempts_per_device: int = Field(default=10, ge=1)
    # Proxies whose X-Forwarded-For the web process believes (comma-separated IP addresses or networks).
    # Empty (the default): none; the client is the address that connected.
    trusted_proxies: str = ""

    # Issue 12: tracking number + postcode guesses, across conversations and processes (bot/conversation/verify_limits.py).
    verify_failures_per_tracking_number: int = Field(default=3, ge=1)  # wrong pairs, then a lock
    verify_failures_per_client: int = Field(default=10, ge=1)  # wrong pairs from one client, then a lock
    verify_first_lock_minutes: float = Field(default=15.0, gt=0)  # each further lock lasts twice as long
    verify_max_lock_hours: float = Field(default=24.0, gt=0)
    verify_forget_after_hours: float = Field(default=48.0, gt=0)  # no failure this long: counts start over
    # REST and web chat messages per client (token bucket in the Rasa channels): sustained rate, burst.
    chat_messages_per_minute: float = Field(default=20.0, gt=0)
    chat_burst: int = Field(default=10, ge=1)
    # Origins whose pages may open web chat (comma-separated); empty: PUBLIC_BASE_URL (and 127.0.0.1 for localhost).
    webchat_allowed_origins: str = ""
    # Proxies in front of Rasa whose X-Forwarded-For it may believe (0: none; the peer is the client).
    rasa_proxies_count: int = Field(default=0, ge=0)

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
            if self.twilio_whatsapp_from and not self.twilio_whatsapp_from.startswith("whatsapp:+"):
                raise ValueError("TWILIO_WHATSAPP_FROM must look like whatsapp:+14155238886")
        if self.email_provider == "sendgrid":
            for name in ("sendgrid_api_key", "sendgrid_webhook_public_key"):
                if not getattr(self, name):
                    raise ValueError(f"{name.upper()} is required when EMAIL_PROVIDER=sendgrid")
        if self.environment == "production":
            for name, local_value in LOCAL_SECRETS.items():
                if getattr(self, name) == local_value:
                    raise ValueError(f"{name.upper()} must be set (not the local default) when ENVIRONMENT=production")
            if self.database_url.startswith("sqlite"):
                raise ValueError("DATABASE_URL must be a server database when ENVIRONMENT=production")
            if "action_server_secret" not in self.model_fields_set:
                raise ValueError("ACTION_SERVER_SECRET must be set when ENVIRONMENT=production")
            rest_carrier = ("rest_carrier_webhook_secret",) if "rest" in self.enabled_carrier_adapters else ()
            shipper = ("shipper_api_secret",) if self.shipper_api_secret else ()
            for name in (*PRODUCTION_SECRETS, *rest_carrier, *shipper):
                if len(getattr(self, name)) < MIN_PRODUCTION_SECRET_CHARS:
                    raise ValueError(f"{name.upper()} must be at least {MIN_PRODUCTION_SECRET_CHARS} characters "
                                     "when ENVIRONMENT=production (e.g. `openssl rand -hex 32`)")
        _check_carriers(self)
        _check_trusted_proxies(self)
        if self.action_timeout_seconds <= self.carrier_timeout_seconds:
            raise ValueError("ACTION_TIMEOUT_SECONDS must be longer than CARRIER_TIMEOUT_SECONDS")
        if self.sandbox_speed <= 0:
            raise ValueError("SANDBOX_SPEED must be positive")
        for name in ("sms_provider", "email_provider"):
            if self.environment == "production" and getattr(self, name) == "outbox":
                raise ValueError(f"{name.upper()}=outbox is the local demo's and is refused when ENVIRONMENT=production"
                                 f" (set {name.upper()}={'twilio' if name == 'sms_provider' else 'sendgrid'})")
        return self

    # Derived values: one place decides them.
    @property
    def enabled_carrier_adapters(self) -> set[str]:
        return {name.strip().lower() for name in self.carriers.split(",") if name.strip()}

    @property
    def karrio_names(self) -> list[str]:
        return [name.strip().lower() for name in self.karrio_carriers.split(",") if name.strip()]

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [item.strip() for item in self.trusted_proxies.split(",") if item.strip()]

    @property
    def webchat_origins(self) -> list[str]:
        """Origins allowed to open a web chat socket: as configured, or the web app's own."""
        configured = [o.strip().rstrip("/") for o in self.webchat_allowed_origins.split(",") if o.strip()]
        if configured:
            return configured
        base = self.public_base_url.rstrip("/")
        return list(dict.fromkeys([base, base.replace("localhost", "127.0.0.1")]))

    @property
    def webchat_session_key(self) -> str:
        """Signs the web chat session ids Rasa issues (derived: Rasa never sees LINK_SECRET itself)."""
        return hmac.new(self.link_secret.encode(), b"webchat-session", hashlib.sha256).hexdigest()

    @property
    def outbox_enabled(self) -> bool:
        """The outbox answers Twilio's API (for the dispatcher and Rasa) while it is the SMS provider."""
        return self.sms_provider == "outbox"

    @property
    def demo_enabled(self) -> bool:
        """The demo pages (phone, mailbox, /api/demo, /api/outbox, `bot sms`) show every customer's messages
        without a login: they exist only when the whole deployment is the demo (local, outbox SMS and
        email, the sandbox carrier alone)."""
        return (self.environment == "local" and self.sms_provider == "outbox" and self.email_provider == "outbox"
                and self.carrier == "sandbox" and not self.enabled_carrier_adapters)

    @property
    def sms_account_sid(self) -> str:
        return self.twilio_account_sid if self.sms_provider == "twilio" else self.outbox_account_sid

    @property
    def sms_auth_token(self) -> str:
        """The token that signs inbound webhooks and authenticates outbound API calls."""
        return self.twilio_auth_token if self.sms_provider == "twilio" else self.outbox_auth_token

    @property
    def sms_sender_pool(self) -> str:
        """The pool SMS leave from, whose rate `sms_per_second` limits: the Messaging Service, else the number."""
        if self.sms_provider == "twilio":
            return self.twilio_messaging_service_sid or self.twilio_from_number
        return self.outbox_from_number

    @property
    def sms_from(self) -> str:
        return self.twilio_from_number if self.sms_provider == "twilio" else self.outbox_from_number

    @property
    def whatsapp_from(self) -> str:
        """The WhatsApp sender (`whatsapp:+E164`), or "" when WhatsApp is not switched on."""
        return self.twilio_whatsapp_from if self.sms_provider == "twilio" else self.outbox_whatsapp_from

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

    @property
    def twilio_status_callback_url(self) -> str:
        """Where Twilio reports each message's status; its signature is computed over this URL."""
        return f"{self.public_base_url.rstrip('/')}/webhooks/twilio/status"

    @property
    def email_api_key(self) -> str:
        return self.sendgrid_api_key if self.email_provider == "sendgrid" else self.outbox_auth_token

    @property
    def sendgrid_api_base(self) -> str:
        if self.email_provider == "sendgrid":
            return "https://api.sendgrid.com"
        return f"{self.web_internal_url}/outbox/sendgrid"

    @property
    def email_webhook_public_key(self) -> str:
        """SendGrid's key, or the outbox's own (derived from its token) that signs its events."""
        if self.email_provider == "sendgrid":
            return self.sendgrid_webhook_public_key
        from bot.notify.signing import outbox_public_key

        return outbox_public_key(self.outbox_auth_token)


KARRIO_REQUIRED = {
    "ups": ("karrio_ups_client_id", "karrio_ups_client_secret"),
    "fedex": ("karrio_fedex_api_key", "karrio_fedex_secret_key"),
    "dhl_express": ("karrio_dhl_express_site_id", "karrio_dhl_express_password"),
}
ADAPTERS = ("karrio", "onfleet", "rest")


def _check_carriers(settings: Settings) -> None:
    """Issue 7: an adapter switched on must have its settings (one line naming the variable)."""
    enabled = settings.enabled_carrier_adapters
    for name in enabled - set(ADAPTERS):
        raise ValueError(f"CARRIERS: unknown adapter {name!r} (known: {', '.join(ADAPTERS)})")
    if "karrio" in enabled:
        if not settings.karrio_names:
            raise ValueError("KARRIO_CARRIERS is required when CARRIERS includes karrio")
        for carrier in settings.karrio_names:
            if carrier not in KARRIO_REQUIRED:
                raise ValueError(f"KARRIO_CARRIERS: {carrier!r} is not supported (supported: {', '.join(KARRIO_REQUIRED)})")
            for name in KARRIO_REQUIRED[carrier]:
                if not getattr(settings, name):
                    raise ValueError(f"{name.upper()} is required when KARRIO_CARRIERS includes {carrier}")
    if "onfleet" in enabled:
        for name in ("onfleet_api_key", "onfleet_webhook_secret"):
            if not getattr(settings, name):
                raise ValueError(f"{name.upper()} is required when CARRIERS includes onfleet")
        try:
            bytes.fromhex(settings.onfleet_webhook_secret)
        except ValueError:
            raise ValueError("ONFLEET_WEBHOOK_SECRET must be the hex secret from the Onfleet dashboard") from None
    if "rest" in enabled:
        for name in ("rest_carrier_base_url", "rest_carrier_api_key", "rest_carrier_webhook_secret"):
            if not getattr(settings, name):
                raise ValueError(f"{name.upper()} is required when CARRIERS includes rest")
    if settings.carrier_timeout_seconds <= 0:
        raise ValueError("CARRIER_TIMEOUT_SECONDS must be positive")


def _check_trusted_proxies(settings: Settings) -> None:
    for item in settings.trusted_proxy_list:
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise ValueError(f"TRUSTED_PROXIES: {item!r} is not an IP address or network (e.g. 10.0.0.5 or "
                             "10.0.0.0/24)") from None


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
