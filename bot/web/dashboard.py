"""The operations dashboard at /agent/dashboard (behind the console login)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from bot.core.runtime import Runtime
from bot.desk.ops_stats import dashboard
from bot.notify import goodwill
from bot.notify.rules import cached_rules
from bot.web.auth import CurrentAgent
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.pages import render
from bot.web.svgplot import stacked_bars

router = APIRouter(prefix="/agent")
STATE_COLOUR = {"delivered": "ok", "at_locker": "ok", "out_for_delivery": "info", "failed_attempt": "bad",
                "returned": "muted"}
MESSAGE_COLOUR = {"delivered": "ok", "sent": "info", "queued": "info", "failed": "bad", "undelivered": "bad",
                  "cancelled": "muted", "superseded": "muted", "planned": "muted"}


def _data(session: Session, runtime: Runtime) -> dict[str, Any]:
    """The day's figures, and the goodwill given for broken promises (issue 16)."""
    rules = cached_rules(runtime.settings.notification_rules)
    return {**dashboard(session, runtime.clock), "goodwill": goodwill.summary(session, rules)}


@router.get("/dashboard")
def dashboard_page(me: CurrentAgent, session: SessionDep, runtime: RuntimeDep) -> Response:
    data = _data(session, runtime)
    deliveries = stacked_bars(
        [(state.replace("_", " "), [(state, n, STATE_COLOUR.get(state, "warn"))]) for state, n in data["deliveries"].items()],
        title="Today's deliveries by state")
    messages = stacked_bars(
        [(channel, [(status, n, MESSAGE_COLOUR.get(status, "warn")) for status, n in statuses.items()])
         for channel, statuses in data["messages"].items()], title="Messages per channel by status")
    conv = data["conversations"]
    contained = stacked_bars([("conversations", [("contained by the bot", conv["contained"], "ok"),
                                                 ("handed off", conv["handed_off"], "warn")])],
                             title="Conversations contained vs handed off")
    eta_rows = [(f"{hour:02d}:00", [("inside the window", v["inside"], "ok"), ("outside", v["outside"], "bad")])
                for hour, v in data["eta"]["by_hour"].items()]
    eta = stacked_bars(eta_rows, title="Deliveries inside the promised window, by hour")
    response = render("agent_dashboard.html", me=me, data=data, charts={
        "deliveries": deliveries, "messages": messages, "contained": contained, "eta": eta})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/dashboard.json")
def dashboard_json(me: CurrentAgent, session: SessionDep, runtime: RuntimeDep) -> JSONResponse:
    return JSONResponse(jsonable_encoder(_data(session, runtime)), headers={"Cache-Control": "no-store"})
