"""The web app factory (uvicorn bot.web.app:create_app --factory)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse
from fastapi.staticfiles import StaticFiles
from starlette.requests import ClientDisconnect

from bot.core.runtime import Runtime
from bot.core.settings import ROOT, Settings, get_settings
from bot.web import (
    api_changes,
    api_intake,
    carrier_webhooks,
    chat,
    console,
    console_claims,
    dashboard,
    delivery_status,
    demo,
    health,
    mailbox,
    notifications_ops,
    profile_page,
    security_txt,
    tracking,
    tracking_actions,
    webhooks,
)
from bot.web.body_limit import BodySizeLimit
from bot.web.headers import SecurityHeaders
from bot.web.pages import render


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Doorstep", docs_url="/api/docs", openapi_url="/api/openapi.json")
    app.state.runtime = Runtime.build(settings)
    app.include_router(health.router)
    app.include_router(security_txt.router)
    app.include_router(tracking.router)
    app.include_router(tracking_actions.router)  # issue 16: the page's own changes
    app.include_router(webhooks.router)
    app.include_router(carrier_webhooks.router)  # issue 7: Onfleet, generic REST
    app.include_router(demo.router)
    app.include_router(demo.twilio_api)
    app.include_router(chat.router)
    app.include_router(delivery_status.router)
    app.include_router(mailbox.router)
    app.include_router(notifications_ops.router)
    # issue 5: agent console and operations dashboard (tracking pages above)
    app.include_router(console.router)
    app.include_router(dashboard.router)
    app.include_router(console_claims.router)  # issue 15: claims after delivery
    app.include_router(api_changes.router)  # issue 13: the change service over HTTP
    app.include_router(api_intake.router)  # issue 16: shippers announce new parcels
    app.include_router(profile_page.router)  # issue 16: the recipient profile page
    app.add_exception_handler(api_changes.ApiProblem, api_changes.problem_handler)
    app.mount("/static", StaticFiles(directory=ROOT / "bot" / "web" / "static"), name="static")
    app.add_middleware(BodySizeLimit)  # refuses before any route reads the body
    app.add_middleware(SecurityHeaders)  # the last added is the outermost: a 413 gets the headers too

    @app.exception_handler(ClientDisconnect)
    async def client_gone(request: Request, exc: ClientDisconnect) -> PlainTextResponse:
        """A client that hung up before its body arrived (a provider's callback giving up) is its
        fault, not ours: a 400 nobody reads, and no traceback logged as a server error."""
        return PlainTextResponse("the client disconnected before the request body arrived", status_code=400)

    @app.get("/", response_class=HTMLResponse)
    def index(request: Request) -> HTMLResponse:
        return render("index.html", outbox=request.app.state.runtime.settings.demo_enabled)

    return app
