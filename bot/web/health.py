"""/healthz: every component of the stack, each with its own verdict."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from bot.core.models import Heartbeat, utcnow
from bot.web.deps import RuntimeDep

router = APIRouter()
HEARTBEAT_MAX_AGE = timedelta(seconds=30)


async def _http_ok(client: httpx.AsyncClient, url: str, **params: str) -> dict[str, Any]:
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as exc:
        return {"up": False, "error": type(exc).__name__}
    return {"up": response.status_code == 200, "status_code": response.status_code}


@router.get("/healthz")
async def healthz(runtime: RuntimeDep) -> JSONResponse:
    settings = runtime.settings

    def database_and_scheduler() -> tuple[dict[str, Any], dict[str, Any]]:
        try:
            with runtime.sessions() as session:
                session.execute(text("SELECT 1"))
                beat = session.get(Heartbeat, "scheduler")
        except Exception as exc:  # any driver error means the database is down for us
            return {"up": False, "error": type(exc).__name__}, {"up": False, "error": "database down"}
        if beat is None:
            return {"up": True}, {"up": False, "error": "no heartbeat yet"}
        age = utcnow() - beat.beat_at
        return {"up": True}, {"up": age < HEARTBEAT_MAX_AGE, "last_beat_seconds": round(age.total_seconds(), 1)}

    actions_base = settings.action_server_url.rsplit("/webhook", 1)[0]
    async with httpx.AsyncClient(timeout=2.0) as client:
        (database, scheduler), rasa, actions = await asyncio.gather(
            asyncio.to_thread(database_and_scheduler),
            _http_ok(client, f"{settings.rasa_url}/status", token=settings.rasa_token),
            _http_ok(client, f"{actions_base}/health"),
        )
    components = {"web": {"up": True}, "database": database, "rasa": rasa, "actions": actions,
                  "scheduler": scheduler}
    healthy = all(c["up"] for c in components.values())
    return JSONResponse({"status": "ok" if healthy else "degraded", "components": components},
                        status_code=200 if healthy else 503)
