"""Run in the Rasa runtime: addons/action_guard.py against Rasa 3.6's own RemoteAction, with a local
HTTP server as the action server (one that never answers, one that refuses with 400). One line per case."""

import asyncio
import contextlib
import inspect
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ["ACTION_TIMEOUT_SECONDS"] = "2.5"
os.environ["ACTION_COOL_OFF_SECONDS"] = "30"

from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, ActionSessionStart, RemoteAction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons import action_guard, speedups

failures = 0


def report(name: str, ok: bool, detail: str = "") -> None:
    global failures
    failures += not ok
    print(f"guard {name} ok={ok} {detail}".rstrip())


for cls, attr in ((RemoteAction, "run"), (MessageProcessor, "handle_message"), (MessageProcessor, "_run_action")):
    original = speedups.originals[(cls, attr)]
    same = list(inspect.signature(original).parameters) == list(inspect.signature(getattr(cls, attr)).parameters)
    report(f"signature {cls.__name__}.{attr}", same)


async def never_answers(request: web.Request) -> web.Response:
    await asyncio.sleep(3600)
    return web.json_response({})


async def refuses(request: web.Request) -> web.Response:
    return web.json_response({"action_name": "validate_x", "error": "no"}, status=400)


async def main() -> None:
    app = web.Application()
    app.router.add_post("/stuck/webhook", never_answers)
    app.router.add_post("/refuse/webhook", refuses)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    stuck = EndpointConfig(f"http://127.0.0.1:{port}/stuck/webhook")
    refusing = EndpointConfig(f"http://127.0.0.1:{port}/refuse/webhook")
    domain = Domain.empty()

    def tracker() -> DialogueStateTracker:
        return DialogueStateTracker("probe", [])

    # Rasa's own call to a frozen action server is still waiting after twice our timeout.
    rasa_run = speedups.originals[(RemoteAction, "run")]
    began = time.monotonic()
    try:
        await asyncio.wait_for(rasa_run(RemoteAction("action_track", stuck), None, None, tracker(), domain), 5.0)
        rasa_waits = False
    except asyncio.TimeoutError:  # noqa: UP041 - not the builtin one on Python 3.10
        rasa_waits = True
    report("rasa_waits", rasa_waits, f"seconds={time.monotonic() - began:.1f}")

    # Ours gives up after the timeout, marks the turn, and opens the breaker.
    turn = action_guard.Turn()
    token = action_guard.current_turn.set(turn)
    began = time.monotonic()
    try:
        await RemoteAction("action_track", stuck).run(None, None, tracker(), domain)
        raised = False
    except action_guard.ActionServerUnavailable:
        raised = True
    took = time.monotonic() - began
    report("timeout", raised and 2.0 < took < 4.5 and turn.failed and action_guard.breaker.is_open(),
           f"seconds={took:.1f}")

    # While the breaker is open, the next call fails at once.
    began = time.monotonic()
    try:
        await RemoteAction("action_fallback", stuck).run(None, None, tracker(), domain)
        raised = False
    except action_guard.ActionServerUnavailable:
        raised = True
    took = time.monotonic() - began
    report("cool_off", raised and took < 0.5, f"seconds={took:.2f}")
    action_guard.current_turn.reset(token)

    # A session start that fails is Rasa's own session start.
    ours = await RemoteAction("action_session_start", stuck).run(None, None, tracker(), domain)
    rasas = await ActionSessionStart().run(None, None, tracker(), domain)
    def shape(events: list) -> list:
        return [(type(e).__name__, getattr(e, "action_name", None)) for e in events]

    report("session_start", shape(ours) == shape(rasas) != [], str(shape(ours)))

    # A refusal (400: a form's validation rejects) is Rasa's rejection, as before, and opens nothing.
    action_guard.breaker.close()
    outcomes = []
    for run in (rasa_run, RemoteAction.run):
        try:
            await run(RemoteAction("validate_x", refusing), None, None, tracker(), domain)
            outcomes.append("ran")
        except ActionExecutionRejection:
            outcomes.append("rejected")
    report("rejection", outcomes == ["rejected", "rejected"] and not action_guard.breaker.is_open(), str(outcomes))

    # Admission: two places; two turns stuck on the action server give theirs back after
    # RELEASE_AFTER, so a third turn that needs no action call is done long before they are.
    os.environ["RASA_MAX_CONCURRENT_TURNS"] = "2"
    speedups._turns.clear()
    finished: dict[str, float] = {}
    start = time.monotonic()

    async def a_turn(agent: object, name: str) -> None:
        if name.startswith("stuck"):
            with contextlib.suppress(TimeoutError):
                await action_guard._bounded(asyncio.get_running_loop().create_future())
        finished[name] = time.monotonic() - start

    speedups._handle_message = a_turn
    await asyncio.gather(speedups.handle_message(None, "stuck1"), speedups.handle_message(None, "stuck2"),
                         speedups.handle_message(None, "greeting"))
    report("admission", finished["greeting"] < 2.0 < min(finished["stuck1"], finished["stuck2"]),
           " ".join(f"{k}={v:.1f}" for k, v in sorted(finished.items())))
    for session in speedups._sessions.values():
        await session.close()
    await runner.cleanup()


asyncio.run(main())
sys.exit(1 if failures else 0)
