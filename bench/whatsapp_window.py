"""What WhatsApp's 24-hour window costs a sender: `python -m bench.whatsapp_window [--n 200]`.

Serves the web app (its outbox answers Twilio's API) on a free port with a fresh SQLite database,
then sends N messages each way through the real twilio library's async client and prints the
median and p95 time per message:
- SMS: one `POST Messages.json`;
- WhatsApp inside the window: the window check (`GET Messages.json?From=`) and the free text;
- WhatsApp outside the window: the window check and the template (`ContentSid`).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

from bot.core.runtime import Runtime
from bot.core.schema import migrate
from bot.core.settings import Settings
from bot.demo.outbox import record
from bot.notify.providers import TwilioSms
from bot.notify.whatsapp import TwilioWhatsApp, WhatsAppMessage
from bot.notify.whatsapp_templates import load_templates
from bot.processes.devstack import free_port
from bot.web.app import create_app

CONTEXT = {"tracking_number": "DS123456", "window": "today 14:00-15:00", "link": "https://example.test/t/x"}


def _serve(app: object, port: int):  # type: ignore[no-untyped-def]
    import threading

    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.02)
    return server


async def _timed(n: int, send) -> list[float]:  # type: ignore[no-untyped-def]
    times = []
    for i in range(n):
        start = time.perf_counter()
        await send(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


async def _measure(settings: Settings, base: str, n: int) -> dict[str, list[float]]:
    api = f"{base}/outbox/twilio"
    sms = TwilioSms(account_sid=settings.outbox_account_sid, auth_token=settings.outbox_auth_token, api_base=api,
                    from_number=settings.outbox_from_number)
    wa = TwilioWhatsApp(account_sid=settings.outbox_account_sid, auth_token=settings.outbox_auth_token, api_base=api,
                        from_address=settings.outbox_whatsapp_from, templates=load_templates())
    try:
        return {
            "sms": await _timed(n, lambda i: sms.send(f"+49151{i:08d}", "Your parcel comes today", None)),
            "whatsapp inside": await _timed(n, lambda i: wa.send(WhatsAppMessage(
                f"whatsapp:+49151{i:08d}", "Your parcel comes today", "out_for_delivery", "en", CONTEXT), None)),
            "whatsapp outside": await _timed(n, lambda i: wa.send(WhatsAppMessage(
                f"whatsapp:+49152{i:08d}", "Your parcel comes today", "out_for_delivery", "en", CONTEXT), None)),
        }
    finally:
        await sms.close()
        await wa.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        settings = Settings(_env_file=None, database_url=url, web_internal_url=base, public_base_url=base)  # type: ignore[call-arg]
        app = create_app(settings)
        runtime: Runtime = app.state.runtime
        with runtime.sessions() as session, session.begin():  # the "inside" customers wrote to us just now
            for i in range(args.n):
                record(session, channel="whatsapp", to=settings.outbox_whatsapp_from, sender=f"whatsapp:+49151{i:08d}",
                       body="hi", direction="inbound")
        server = _serve(app, port)
        try:
            results = asyncio.run(_measure(settings, base, args.n))
        finally:
            server.should_exit = True
    for kind, times in results.items():
        times.sort()
        print(f"{kind:18} median {statistics.median(times):6.1f} ms   p95 {times[int(len(times) * 0.95) - 1]:6.1f} ms"
              f"   (n={len(times)})")


if __name__ == "__main__":
    main()
