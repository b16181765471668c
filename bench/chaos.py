"""The fault run: each process of the stack killed in turn (SIGKILL, as a crash) under supervisord,
in the middle of live conversations and of a notification wave.

`make chaos` (= `.venv/bin/python -m bench.chaos`) starts rasa, actions, web and scheduler under
supervisord with the shipped deploy/supervisord.conf (`bot.processes.devstack.SupervisedStack`). Then, for
rasa, actions, web and scheduler in turn:

1. a wave of out-for-delivery notifications starts, and conversations over SMS, web chat and REST
   each get as far as "Move parcel … to …? YES or NO" (a reschedule waiting for its confirmation),
   while a few other customers keep talking;
2. once the wave is sending, the process is killed with SIGKILL; supervisord starts it again;
3. once it answers again, each waiting conversation says "yes": it must go on where it was (the
   move is confirmed, done once);
4. the wave must finish with every message sent exactly once (one per parcel, none twice in the
   outbox, checked by address and text, and by dedupe key and provider id).

Reports each kill: seconds until the process answered again, conversations continued, wave sent /
lost / duplicated, what the other customers saw meanwhile. Writes bench/chaos_results.json; exit 0
when every conversation continued and nothing was lost or sent twice.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select, update

from bench import cli
from bench.customers import (
    CHANNELS,
    Conversation,
    Parcel,
    Tally,
    Turn,
    TurnFailed,
    WebChatConversation,
    new_conversation,
    sender_loop,
    track_parcel,
)
from bench.soak import notification_check, start_wave, wait_for_wave
from bot.core.clock import sim_now
from bot.core.models import AuditLog, Notification, Shipment, ShipmentStatus
from bot.core.runtime import Runtime
from bot.processes.devstack import SupervisedStack

BENCH = Path(__file__).resolve().parent
WORK = BENCH / ".work" / "chaos"
RESULTS = BENCH / "chaos_results.json"
VICTIMS = ("rasa", "actions", "web", "scheduler")
COME_BACK = 300.0
WAVE_DEADLINE = 900.0  # a wave message not sent this long after the kill is lost, not late

BEFORE_THE_KILL = [
    Turn("can you deliver it another day", ("tracking number",)),
    Turn("{tracking_number}", ("postcode",)),
    Turn("{postcode}", ("When should parcel",)),
    Turn("2", ("Move parcel",)),
]
# Either is said only inside the confirmation: the conversation kept its context.
AFTER_THE_KILL = Turn("yes", ("Done", "no longer available"))


async def say(conversation: Conversation, turn: Turn, parcel: Parcel, attempts: int = 3) -> str | None:
    """One customer message; a customer whose message failed sends it again a little later."""
    text = turn.text.format(tracking_number=parcel.tracking_number, postcode=parcel.postcode)
    for _ in range(attempts):
        try:
            replies = await conversation.say(text)
        except TurnFailed:
            await asyncio.sleep(5)
            continue
        return " ".join(replies) if replies else None
    return None


def changeable_parcels(runtime: Runtime) -> list[Parcel]:
    with runtime.sessions() as session:
        rows = session.execute(select(Shipment.tracking_number, Shipment.postcode).where(
            Shipment.status.in_((ShipmentStatus.IN_TRANSIT, ShipmentStatus.AT_DEPOT)),
            Shipment.eta_start.is_not(None), Shipment.carrier == "sandbox")).all()
    return [Parcel(row.tracking_number, row.postcode) for row in rows]


def moves(runtime: Runtime, parcel: Parcel) -> int:
    with runtime.sessions() as session:
        shipment_id = session.scalar(select(Shipment.id).where(Shipment.tracking_number == parcel.tracking_number))
        return session.scalar(select(func.count()).select_from(AuditLog).where(
            AuditLog.entity == "shipment", AuditLog.action == "reschedule",
            AuditLog.entity_id == str(shipment_id))) or 0


def retire_wave(runtime: Runtime, ids: list[int]) -> None:
    """Mark a finished wave's parcels delivered long ago, so later passes no longer plan them."""
    with runtime.sessions() as session:
        long_ago = sim_now(session) - timedelta(days=1)
        session.execute(update(Shipment).where(Shipment.id.in_(ids))
                        .values(status=ShipmentStatus.DELIVERED, status_at=long_ago))
        session.commit()


def wave_started(runtime: Runtime, ids: list[int]) -> bool:
    with runtime.sessions() as session:
        return bool(session.scalar(select(func.count()).select_from(Notification).where(
            Notification.shipment_id.in_(ids), Notification.status.in_(("sending", "sent", "delivered")))))


async def one_kill(stack: SupervisedStack, runtime: Runtime, victim: str, parcels: list[Parcel],
                   others: list[Parcel], args: argparse.Namespace) -> dict[str, Any]:
    print(f"==> {datetime.now(UTC):%H:%M:%S} {victim}", flush=True)
    result: dict[str, Any] = {"process": victim}
    async with httpx.AsyncClient(limits=httpx.Limits(max_connections=40)) as client:
        # Conversations waiting for their "yes".
        waiting: list[tuple[Conversation, Parcel]] = []
        for n, parcel in enumerate(parcels):
            conversation = new_conversation(CHANNELS[n % len(CHANNELS)], client, runtime)
            try:
                await conversation.open()
                for turn in BEFORE_THE_KILL:
                    reply = await say(conversation, turn, parcel)
                    if reply is None or not turn.answered_by(reply):
                        raise TurnFailed(f"{turn.text!r} got {reply!r}")
                waiting.append((conversation, parcel))
            except TurnFailed as exc:
                print(f"    could not set up a {conversation.channel} conversation: {exc}", flush=True)
                await conversation.close(Tally())
        result["conversations_waiting"] = len(waiting)

        # Other customers keep talking through the kill.
        background = Tally()
        end = time.monotonic() + 3600
        talkers = [asyncio.create_task(sender_loop(CHANNELS[n % len(CHANNELS)],
                                                   (track_parcel(p) for p in itertools.cycle(others[n::3])),
                                                   client, runtime, background, end, think=1.0))
                   for n in range(3)]

        wave_ids = await asyncio.to_thread(start_wave, runtime, args.wave)
        deadline = time.monotonic() + 120
        while not await asyncio.to_thread(wave_started, runtime, wave_ids) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        killed_pid = stack.kill(victim)
        killed_at = time.monotonic()
        print(f"    killed {victim} (pid {killed_pid}) with the wave sending", flush=True)
        back_after = await asyncio.to_thread(stack.wait_ready, COME_BACK, [victim], not_pid=killed_pid)
        result["seconds_to_come_back"] = round(back_after, 1)
        result["new_pid"] = stack.pid(victim)
        print(f"    {victim} answers again after {back_after:.1f} s", flush=True)

        continued = 0
        for conversation, parcel in waiting:
            if isinstance(conversation, WebChatConversation):
                await conversation.reconnect()  # as the widget does after a lost socket: same session id
            reply = await say(conversation, AFTER_THE_KILL, parcel)
            done_once = await asyncio.to_thread(moves, runtime, parcel)
            ok = reply is not None and AFTER_THE_KILL.answered_by(reply) and done_once <= 1
            continued += ok
            if not ok:
                print(f"    {conversation.channel} did not continue: {reply!r} (moved {done_once}x)", flush=True)
            await conversation.close(background)
        result["conversations_continued"] = continued

        for task in talkers:
            task.cancel()
        await asyncio.gather(*talkers, return_exceptions=True)
        took = await wait_for_wave(runtime, wave_ids, timeout=WAVE_DEADLINE - (time.monotonic() - killed_at))
        result["wave_sent_seconds_after_kill"] = round(time.monotonic() - killed_at, 1) if took is not None else None
        print(f"    wave sent {result['wave_sent_seconds_after_kill']} s after the kill", flush=True)
    check = await asyncio.to_thread(notification_check, runtime, wave_ids)
    await asyncio.to_thread(retire_wave, runtime, wave_ids)
    result["wave"] = {"size": args.wave, "sent": check["wave_sent"], "lost": check["wave_lost"]}
    result["duplicated_in_outbox"] = check["duplicated_in_outbox"]
    result["missing_from_outbox"] = check["missing_from_outbox"]
    result["provider_id_twice"] = check["provider_id_twice"]
    result["others"] = {"turns": sum(background.turns.values()), "errors": sum(background.errors.values()),
                        "lost": sum(background.lost.values()), "duplicated": sum(background.duplicated.values()),
                        "examples": background.examples[:5]}
    return result


async def chaos(stack: SupervisedStack, runtime: Runtime, args: argparse.Namespace) -> list[dict[str, Any]]:
    parcels = changeable_parcels(runtime)
    per_kill = args.conversations
    if len(parcels) < per_kill * len(VICTIMS) + 3:
        raise SystemExit(f"only {len(parcels)} changeable parcels for {per_kill} conversations per kill")
    others = parcels[per_kill * len(VICTIMS):]
    kills = []
    for n, victim in enumerate(VICTIMS):
        mine = parcels[n * per_kill:(n + 1) * per_kill]
        kills.append(await one_kill(stack, runtime, victim, mine, others, args))
    return kills


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--conversations", type=int, default=6, help="conversations waiting for a 'yes' per kill")
    parser.add_argument("--wave", type=int, default=200, help="parcels in each kill's notification wave")
    args = parser.parse_args(argv)
    load_before = os.getloadavg()[0]
    shutil.rmtree(WORK, ignore_errors=True)
    # The sandbox clock at real speed: the parcels stay changeable during the run.
    stack = SupervisedStack(WORK, extra_env={"SANDBOX_SPEED": "1", "NOTIFY_TICK_SECONDS": "1"})
    started = time.monotonic()
    try:
        stack.start(timeout=COME_BACK)
        runtime = Runtime.build(stack.settings)
        try:
            kills = asyncio.run(chaos(stack, runtime, args))
        finally:
            runtime.engine.dispose()
    finally:
        stack.stop()
    result = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "cpu_count": os.cpu_count(),
              "load_average_1m_before": round(load_before, 2), "load_average_1m_after": round(os.getloadavg()[0], 2),
              "minutes": round((time.monotonic() - started) / 60, 1), "settings": vars(args), "kills": kills}
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    head = (f"{'killed':<10} {'back s':>7} {'continued':>9} {'wave sent':>10} {'lost':>5} {'dup':>4} "
            f"{'others: turns':>13} {'errors':>6} {'lost':>5} {'dup':>4}")
    print("\n" + head + "\n" + "-" * len(head))
    for k in kills:
        o = k["others"]
        dup = k["duplicated_in_outbox"] + k["provider_id_twice"]
        print(f"{k['process']:<10} {k['seconds_to_come_back']:>7.1f} "
              f"{k['conversations_continued']:>4}/{k['conversations_waiting']:<4} "
              f"{k['wave']['sent']:>5}/{k['wave']['size']:<4} {k['wave']['lost'] + k['missing_from_outbox']:>5} "
              f"{dup:>4} {o['turns']:>13} {o['errors']:>6} {o['lost']:>5} {o['duplicated']:>4}")
    print(f"\nwrote {RESULTS.relative_to(BENCH.parent)}; logs in {WORK.relative_to(BENCH.parent)}/log")
    ok = all(k["conversations_continued"] == k["conversations_waiting"] == args.conversations
             and k["wave"]["lost"] == 0 and k["missing_from_outbox"] == 0
             and k["duplicated_in_outbox"] == 0 and k["provider_id_twice"] == 0 and k["others"]["duplicated"] == 0
             for k in kills)
    return 0 if ok else 1


if __name__ == "__main__":
    cli.run(main)
