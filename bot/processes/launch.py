"""How each process of the stack is started: command line and environment, from the one settings
object. The Procfile, `make run` and the end-to-end tests all start processes through this."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

from bot.core.settings import ROOT, Settings
from bot.processes.model_files import model_path

RASA_PYTHON = ROOT / ".venv-rasa" / "bin" / "python"
# Largest request body Rasa reads (Sanic's default is 100 MB): a Twilio webhook is a few KB (1,600
# characters, URL-encoded, plus media URLs), a REST or web chat message at most 1,600 characters.
RASA_MAX_REQUEST_BYTES = 64 * 1024
PROCESSES = ("rasa", "actions", "web", "scheduler")


def lock_store_env(settings: Settings) -> dict[str, str]:
    """endpoints.yml's `lock_store`: Redis when several Rasa replicas share conversations
    (RASA_REDIS_URL), else Rasa's in-memory one."""
    if not settings.rasa_redis_url:
        return {"RASA_LOCK_STORE_TYPE": "in_memory", "RASA_LOCK_STORE_HOST": "", "RASA_LOCK_STORE_PORT": "0",
                "RASA_LOCK_STORE_DB": "0", "RASA_LOCK_STORE_PASSWORD": "", "RASA_LOCK_STORE_PREFIX": "doorstep"}
    url = urlsplit(settings.rasa_redis_url)
    database = url.path.strip("/") or "0"
    return {
        # Rasa's Redis lock store with atomic changes (RasaHQ/rasa#11256)
        "RASA_LOCK_STORE_TYPE": "addons.lock_store.AtomicRedisLockStore",
        "RASA_LOCK_STORE_HOST": url.hostname or "127.0.0.1",
        "RASA_LOCK_STORE_PORT": str(url.port or 6379),
        "RASA_LOCK_STORE_DB": database,
        "RASA_LOCK_STORE_PASSWORD": url.password or "",
        # Rasa takes only letters and digits here; one prefix per deployment sharing the Redis.
        "RASA_LOCK_STORE_PREFIX": re.sub(r"[^A-Za-z0-9]", "", settings.celery_queue_prefix) or "doorstep",
    }


def rasa_env(settings: Settings) -> dict[str, str]:
    tracker_url = settings.rasa_tracker_url
    dialect = tracker_url.split(":", 1)[0].split("+", 1)[0]
    if dialect.startswith("postgres"):
        dialect = "postgresql"
        tracker_url = tracker_url.replace("postgresql+psycopg://", "postgresql://")
    if dialect == "sqlite":
        Path(tracker_url.split("///", 1)[-1]).parent.mkdir(parents=True, exist_ok=True)
    return {
        "TWILIO_ACCOUNT_SID": settings.sms_account_sid,
        "TWILIO_AUTH_TOKEN": settings.sms_auth_token,
        "TWILIO_FROM_NUMBER": settings.sms_from,
        "TWILIO_MESSAGING_SERVICE_SID": settings.twilio_messaging_service_sid,
        "TWILIO_WHATSAPP_FROM": settings.whatsapp_from,
        "TWILIO_WEBHOOK_URL": settings.sms_webhook_url,
        "TWILIO_API_BASE": settings.twilio_api_base,
        "TWILIO_STATUS_CALLBACK": f"{settings.public_base_url}/webhooks/twilio/status"
        if settings.sms_provider == "twilio" else "",
        "ACTION_SERVER_URL": settings.action_server_url,
        "ACTION_SERVER_SECRET": settings.action_server_secret,  # endpoints.yml: the Authorization header
        "ACTION_TIMEOUT_SECONDS": str(settings.action_timeout_seconds),
        "ACTION_COOL_OFF_SECONDS": str(settings.action_cool_off_seconds),
        "RASA_TRACKER_TYPE": "addons.tracker_store.LocalTrackerStore" if dialect == "sqlite" else "SQL",
        "RASA_TRACKER_DIALECT": dialect,
        "RASA_TRACKER_URL": tracker_url,
        "RASA_TRACKER_DB": "rasa",
        "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "TF_INTRA_OP_PARALLELISM_THREADS": "1",
        "TF_INTER_OP_PARALLELISM_THREADS": "1",
        "PYTHONPATH": str(ROOT),
        "RASA_TELEMETRY_ENABLED": "false",
        "RASA_MAX_CONCURRENT_TURNS": str(settings.rasa_max_concurrent_turns),
        # REST and web chat channels (addons/): per-client message limits, web chat origins and sessions.
        "CHAT_MESSAGES_PER_MINUTE": str(settings.chat_messages_per_minute),
        "CHAT_BURST": str(settings.chat_burst),
        "WEBCHAT_ALLOWED_ORIGINS": ",".join(settings.webchat_origins),
        "WEBCHAT_SESSION_KEY": settings.webchat_session_key,
        # addons/run_rasa.py hands the API token to rasa in-process: never on a command line (`ps`).
        "RASA_TOKEN": settings.rasa_token,
        "SANIC_REQUEST_MAX_SIZE": str(RASA_MAX_REQUEST_BYTES),
        "SANIC_WEBSOCKET_MAX_SIZE": str(RASA_MAX_REQUEST_BYTES),
        # Web chat's socket.io rooms across replicas (addons/webchat_channel.py); empty: this process only.
        "WEBCHAT_REDIS_URL": settings.rasa_redis_url,
        "WEBCHAT_REDIS_CHANNEL": f"{settings.celery_queue_prefix}-webchat",
        **lock_store_env(settings),
        **({"SANIC_PROXIES_COUNT": str(settings.rasa_proxies_count)} if settings.rasa_proxies_count else {}),
    }


def command(process: str, settings: Settings) -> tuple[list[str], dict[str, str]]:
    """argv and extra environment for one process."""
    python = sys.executable
    if process == "rasa":
        model = model_path()
        if not model.exists():
            raise SystemExit(f"no trained model at {model.relative_to(ROOT)}: run `make model`")
        argv = [str(RASA_PYTHON), "-m", "addons.run_rasa", "run", "--model", str(model), "--enable-api",
                "--interface", settings.rasa_host, "--port", str(settings.rasa_port),
                "--credentials", str(ROOT / "credentials.yml"), "--endpoints", str(ROOT / "endpoints.yml"),
                "--cors", settings.public_base_url, settings.public_base_url.replace("localhost", "127.0.0.1")]
        return argv, rasa_env(settings)
    if process == "actions":
        return [python, "-m", "bot.processes.action_server"], {}  # host, port and secret from the settings
    if process == "web":
        # X-Forwarded-For names the client only when it comes from a configured proxy (uvicorn would
        # otherwise believe it from 127.0.0.1, and anyone could pick their address for the rate limits).
        proxies = settings.trusted_proxy_list
        forwarded = ["--proxy-headers", "--forwarded-allow-ips", ",".join(proxies)] if proxies \
            else ["--no-proxy-headers"]
        return [python, "-m", "uvicorn", "bot.web.app:create_app", "--factory", "--host", settings.web_host,
                "--port", str(settings.web_port), "--no-access-log", *forwarded,
                # live streams (console, tracking) never end by themselves: don't wait on them at stop
                "--timeout-graceful-shutdown", "3"], {}
    if process == "scheduler":
        return [python, "-m", "bot", "scheduler"], {}
    raise SystemExit(f"unknown process {process!r}; one of {', '.join(PROCESSES)}")


def exec_process(process: str, settings: Settings) -> None:
    """Replace this process with the requested one, so signals from honcho reach it directly."""
    os.umask(0o077)  # databases and directories this process creates are its owner's alone
    argv, extra = command(process, settings)
    env = {**os.environ, **extra}
    env.setdefault("PYTHONPATH", str(ROOT))
    os.chdir(ROOT)
    os.execvpe(argv[0], argv, env)
