"""A slow or dead action server must not stall the bot.

Rasa 3.6 waits up to `DEFAULT_REQUEST_TIMEOUT` (300 s, fixed) for every call to the action server,
and while it waits the turn keeps its place among the few worked on at once (speedups.handle_message),
so one frozen action server froze every conversation, unrelated ones too. Here:

- A call gets ACTION_TIMEOUT_SECONDS (setting `action_timeout_seconds`, default 12: longer than
  one carrier call, so a change the carrier is still making is not abandoned half-way). After
  RELEASE_AFTER seconds of waiting the turn gives its place back to the others and takes it again
  when the answer comes: a greeting answered by a domain response never waits behind stuck calls.
- A call that timed out or could not connect opens a breaker: for ACTION_COOL_OFF_SECONDS the
  following calls fail at once instead of waiting again; the first call after that tries again.
- A turn whose call failed (timed out, refused, or the action failed) tells the customer once that
  the bot can't check right now, with a way out, and listens: one reply, nothing else said or
  called in that turn, and the turn and the customer's message are kept in the tracker.
- A session start that fails is Rasa's own session start instead (slots carried over), so the
  customer's first message is still understood.

Imported from `addons/__init__.py` with the other add-ons, and checked against Rasa's own code by
tests/rasa_runtime/action_guard_agrees.py.
"""

import asyncio
import logging
import os
import time
from contextvars import ContextVar
from typing import Any, List

import aiohttp
from rasa.core.actions.action import (
    ActionExecutionRejection,
    ActionSessionStart,
    RemoteAction,
    action_for_name_or_text,
)
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.events import BotUttered, Event
from rasa.shared.exceptions import RasaException

from addons import speedups
from bot.text import N_, translate

logger = logging.getLogger(__name__)

SORRY = N_("Sorry, I can't check that right now. Please try again in a few minutes, or reply AGENT for a person.")
RELEASE_AFTER = 1.0  # seconds an action call may keep the turn's place before giving it to others


class ActionServerUnavailable(RasaException):
    """The action server did not answer in time, could not be reached, or failed the action."""


def timeout_seconds() -> float:
    return float(os.environ.get("ACTION_TIMEOUT_SECONDS", "12"))


def cool_off_seconds() -> float:
    return float(os.environ.get("ACTION_COOL_OFF_SECONDS", "10"))


class Breaker:
    """Open for the cool-off after a call timed out or could not connect: calls fail at once."""

    def __init__(self) -> None:
        self.open_until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.open_until

    def trip(self) -> None:
        self.open_until = time.monotonic() + cool_off_seconds()

    def close(self) -> None:
        self.open_until = 0.0


breaker = Breaker()


class Turn:
    def __init__(self) -> None:
        self.failed = False  # a call to the action server failed in this turn
        self.told = False  # ... and the customer was told


current_turn: ContextVar[Turn | None] = ContextVar("doorstep_turn", default=None)


async def _bounded(call: "asyncio.Future[Any]") -> Any:
    """The call's result within the timeout; after RELEASE_AFTER the turn's place goes to others."""
    timeout = timeout_seconds()
    first = min(RELEASE_AFTER, timeout)
    slot = speedups.current_slot.get()
    try:
        done, _ = await asyncio.wait({call}, timeout=first)
        if not done and timeout > first:
            if slot is not None:
                slot.give_back()
            try:
                done, _ = await asyncio.wait({call}, timeout=timeout - first)
            finally:
                if slot is not None:
                    await slot.take()
    except asyncio.CancelledError:
        call.cancel()
        raise
    if not done:
        call.cancel()
        raise TimeoutError()
    return call.result()


_run_remote = RemoteAction.run


async def run_remote(self: RemoteAction, output_channel: Any, nlg: Any, tracker: Any, domain: Any) -> List[Event]:
    """`RemoteAction.run`, bounded in time; a failure is `ActionServerUnavailable` (see above)."""
    cause: BaseException | None = None
    if breaker.is_open():
        cause = RuntimeError("the action server failed a moment ago (cool-off)")
    else:
        call = asyncio.ensure_future(_run_remote(self, output_channel, nlg, tracker, domain))
        try:
            events = await _bounded(call)
            breaker.close()
            return events
        except ActionExecutionRejection:
            raise
        except TimeoutError as e:
            breaker.trip()
            cause = e
        except RasaException as e:
            if isinstance(e.__cause__ or e.__context__, aiohttp.ClientConnectionError):
                breaker.trip()
            cause = e
    if self.name() == ACTION_SESSION_START_NAME:
        logger.warning(f"action server unavailable ({cause!r}): Rasa's own session start instead")
        return await ActionSessionStart().run(output_channel, nlg, tracker, domain)
    turn = current_turn.get()
    if turn is not None:
        turn.failed = True
    raise ActionServerUnavailable(f"action '{self.name()}' not run: {cause!r}") from cause


_handle_message = MessageProcessor.handle_message


async def handle_message(self: MessageProcessor, message: Any) -> Any:
    """`MessageProcessor.handle_message`, with this turn's record of a failed call."""
    token = current_turn.set(Turn())
    try:
        return await _handle_message(self, message)
    finally:
        current_turn.reset(token)


_run_action = MessageProcessor._run_action


async def run_action(self: MessageProcessor, action: Any, tracker: Any, output_channel: Any, nlg: Any,
                     prediction: Any) -> bool:
    """`MessageProcessor._run_action`; after an action whose call failed: the apology once, then listen."""
    go_on = await _run_action(self, action, tracker, output_channel, nlg, prediction)
    turn = current_turn.get()
    if turn is None or not turn.failed or turn.told:
        return go_on
    turn.told = True
    sorry = BotUttered(translate(tracker.get_slot("language"), SORRY), metadata={"action_server": "unavailable"})
    tracker.update(sorry, self.domain)
    await self.execute_side_effects([sorry], tracker, output_channel)
    listen = action_for_name_or_text(ACTION_LISTEN_NAME, self.domain, self.action_endpoint)
    return await _run_action(self, listen, tracker, output_channel, nlg,
                             PolicyPrediction.for_action_name(self.domain, ACTION_LISTEN_NAME))


def install() -> None:
    speedups._replace(RemoteAction, "run", run_remote)
    speedups._replace(MessageProcessor, "handle_message", handle_message)
    speedups._replace(MessageProcessor, "_run_action", run_action)
