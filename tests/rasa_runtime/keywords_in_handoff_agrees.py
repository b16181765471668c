"""Run in the Rasa runtime with the trained model: addons/keywords_in_handoff.py against Rasa 3.6's own
MessageProcessor, whole turns (`handle_message`) with a local HTTP server as the action server that
notes which actions it was asked to run and answers each with one message. One line per case."""

import asyncio
import inspect
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from aiohttp import web
from rasa.core.agent import Agent
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.core.events import (
    ActionExecuted,
    BotUttered,
    ConversationPaused,
    SessionStarted,
    SlotSet,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from addons import keywords_in_handoff, speedups

PATCHED = ("_should_handle_message", "_handle_message_with_tracker")
failures = 0
called: list[str] = []


OURS = {name: MessageProcessor.__dict__[name] for name in PATCHED}


def use(ours: bool) -> None:
    for name in PATCHED:
        setattr(MessageProcessor, name, OURS[name] if ours else speedups.originals[(MessageProcessor, name)])


async def action_server(request: web.Request) -> web.Response:
    name = (await request.json())["next_action"]
    called.append(name)
    return web.json_response({"events": [], "responses": [{"text": f"<{name}>"}]})


def user(text: str, intent: str) -> UserUttered:
    return UserUttered(text, {"name": intent, "confidence": 1.0}, [], input_channel="twilio")


def handoff(*later: UserUttered) -> list[Any]:
    """A conversation just handed to an agent, as action_handoff leaves it (paused before listening)."""
    return [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
            user("I want to talk to a person", "talk_to_human"), ActionExecuted("action_handoff"),
            BotUttered("A person will reply here soon."), SlotSet("handoff_reason", "request"),
            ConversationPaused(), *later]


NOT_PAUSED = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")]
# case: (events before, [(text, input channel)] one turn each, Rasa's actions, ours)
CASES = {
    "stop_in_handoff": (handoff(), [("/opt_out", "twilio")], [],
                        ["action_confirm_opt_out", "action_record_opt_out"]),
    "start_in_handoff": (handoff(), [("/opt_in", "twilio")], [], ["action_opt_in"]),
    "stop_after_words_in_handoff": (handoff(user("hello?", "greet")), [("/opt_out", "twilio")], [],
                                    ["action_confirm_opt_out", "action_record_opt_out"]),
    "stop_then_hello_in_handoff": (handoff(), [("/opt_out", "twilio"), ("hello", "twilio")], [],
                                   ["action_confirm_opt_out", "action_record_opt_out"]),
    "help_in_handoff": (handoff(), [("/help", "twilio")], [], []),
    "words_in_handoff": (handoff(), [("please stop texting me", "twilio")], [], []),
    "opt_out_not_from_sms_in_handoff": (handoff(), [("/opt_out", "rest")], [], []),
    "stop_not_paused": (NOT_PAUSED, [("/opt_out", "twilio")], ["action_confirm_opt_out", "action_record_opt_out"],
                        ["action_confirm_opt_out", "action_record_opt_out"]),
}


async def conversation(agent: Agent, sender: str, before: list[Any],
                       turns: list[tuple[str, str]]) -> tuple[list[str], list[str], bool]:
    """The actions the action server was asked for, what was said, and whether it is still paused."""
    await agent.tracker_store.save(DialogueStateTracker.from_events(sender, before, slots=agent.domain.slots))
    called.clear()
    said: list[str] = []
    for text, channel in turns:
        output = CollectingOutputChannel()
        await agent.processor.handle_message(UserMessage(text, output, sender, input_channel=channel,
                                                         metadata={"text": text.lstrip("/").upper()}))
        said += [m.get("text", "") for m in output.messages]
    tracker = await agent.tracker_store.retrieve(sender)
    return list(called), said, bool(tracker and tracker.is_paused())


async def main() -> None:
    global failures
    app = web.Application()
    app.router.add_post("/webhook", action_server)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    agent = Agent.load(sys.argv[1], action_endpoint=EndpointConfig(f"http://127.0.0.1:{port}/webhook"))
    binding = sorted(keywords_in_handoff.BINDING)
    failures += binding != ["/opt_in", "/opt_out"]
    print(f"keywords binding={binding} ok={binding == ['/opt_in', '/opt_out']}")
    for name in PATCHED:
        same = (list(inspect.signature(speedups.originals[(MessageProcessor, name)].__get__(None, MessageProcessor))
                     .parameters) == list(inspect.signature(getattr(MessageProcessor, name)).parameters))
        failures += not same
        print(f"keywords signature {name} ok={same}")
    for case, (before, turns, rasas_expected, ours_expected) in CASES.items():
        use(False)
        rasas = await conversation(agent, f"rasa-{case}", before, turns)
        use(True)
        ours = await conversation(agent, f"ours-{case}", before, turns)
        paused_before = DialogueStateTracker.from_events("probe", before).is_paused()
        ok = (rasas[0] == rasas_expected and ours[0] == ours_expected
              and ours[1] == [f"<{name}>" for name in ours_expected]  # nothing else said
              and ours[2] == rasas[2] == paused_before)  # a handoff stays paused
        failures += not ok
        print(f"keywords {case} rasa={rasas[0]} ours={ours[0]} said={ours[1]} paused={ours[2]} ok={ok}")
    await speedups.close_sessions()
    await runner.cleanup()


asyncio.run(main())
sys.exit(1 if failures else 0)
