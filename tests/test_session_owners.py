"""Who opens database sessions: the entry points (one unit of work per web request, job, action call or
command), the services that are their own unit of work, the carriers' side, and the clock. Every other
module (conversation/, desk/, eta/, text/, the notification planner and rules, ingestion, proofs…) is
handed the session of its caller and never opens one, so one request or job has one owner of its work."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

ENTRY_POINTS = {
    "bot/__main__.py",  # the command line
    "bot/core/schema.py",  # migrations and the demo world at set-up
    "bot/demo/sms_sim.py",  # the demo phone's own sends
    "bot/processes/jobs.py",  # each scheduler job
    "bot/workers/tasks.py",  # each Celery task
    "bot/web/deps.py",  # one session per request (SessionDep)
    "bot/web/console.py",  # ... and the live streams, one per poll
    "bot/web/tracking.py",
    "bot/web/health.py",
    "bot/web/notifications_ops.py",
    "bot/web/api_changes.py",
    "bot/web/tracking_actions.py",
    "bot/web/profile_page.py",
    "bot/web/demo.py",  # the demo's "a new parcel arrives"
}
SERVICES = {
    "bot/changes/service.py",  # the change service: check, make, options
    "bot/aftercare/claims.py",
    "bot/aftercare/chat_notice.py",
    "bot/notify/service.py",  # planning, dispatch and recording steps
    "bot/notify/planning.py",
    "bot/notify/dispatch.py",
    "bot/notify/conversation.py",
    "bot/notify/agent_reply.py",  # an agent's WhatsApp reply after the window: planned, then sent at once
    "bot/parcels/intake.py",  # a new parcel: registered, then its customer's profile and hold applied
    "bot/profile/apply.py",  # ... through the change service, each outcome recorded
    "bot/changes/hold.py",  # a hold: its plan, then each parcel's change through the change service
    "bot/holds/__init__.py",  # ... and a new parcel during it
}
CARRIER_SIDE = {
    "bot/carriers/local.py",  # what a remote adapter reads of ours; events it polled, through ingestion
    "bot/carriers/sandbox/carrier.py",  # the simulated carrier's own world
}
CLOCK = {"bot/core/clock.py"}  # the sandbox clock's row
NEVER = ("bot/conversation/", "bot/desk/", "bot/eta/", "bot/text/", "bot/carriers/ingest.py", "bot/notify/planner.py",
         "bot/notify/rules.py", "bot/notify/render.py", "bot/notify/replan.py", "bot/aftercare/proof.py")


def opens_a_session(path: Path) -> bool:
    """A call of `<x>.sessions()` or `transaction(...)` anywhere in the module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
            if name == "transaction" or (name == "sessions" and isinstance(func, ast.Attribute)):
                return True
    return False


def openers() -> set[str]:
    modules = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("actions").glob("*.py")]
    return {str(path.relative_to(ROOT)) for path in modules if opens_a_session(path)} - {"bot/core/db.py"}


def test_only_entry_points_services_the_carriers_side_and_the_clock_open_sessions() -> None:
    found = openers()
    actions = {module for module in found if module.startswith("actions/")}  # each action call, its own work
    unexpected = found - actions - ENTRY_POINTS - SERVICES - CARRIER_SIDE - CLOCK
    assert not unexpected, f"these modules open sessions; hand them their caller's instead: {sorted(unexpected)}"


def test_the_layers_below_the_services_never_open_one() -> None:
    assert not [module for module in openers() if module.startswith(NEVER)]


def test_the_check_sees_a_session_being_opened(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f(runtime):\n    with runtime.sessions() as s:\n        return s\n", encoding="utf-8")
    assert opens_a_session(module)
    module.write_text("def f(session):\n    return session.get(1)\n", encoding="utf-8")
    assert not opens_a_session(module)
