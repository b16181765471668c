"""The operations dashboard at /agent/dashboard (behind the console login)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, Response

from bot.desk.ops_stats import dashboard
from bot.web.auth import CurrentAgent
from bot.web.deps import RuntimeDep, SessionDep
from bot.web.pages import render
from bot.web.svgplot import stacked_bars

router = APIRouter(prefix="/agent")
STATE_COLOUR = {"delivered": "ok", "at_locker": "ok", "out_for_delivery": "info", "failed_attempt": "bad",
                "returned": "muted"}
MESSAGE_COLOUR = {"delivered": "ok", "sent": "info", "queued": "info", "failed": "bad", "undelivered": "bad",
                  "cancelled": "muted", "superseded": "muted", "planned": "muted"}


@router.get("/dashboard")
def dashboard_page(me: CurrentAgent, session: SessionDep, runtime: RuntimeDep) -> Response:
    data = dashboard(session, runtime.clock)
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
    return JSONResponse(jsonable_encoder(dashboard(session, runtime.clock)), headers={"Cache-Control": "no-store"})
