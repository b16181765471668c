"""After an SMS goes out, the customer's Rasa conversation records it, and which parcel it was about,
so that an answer ("yes", "2", "can it come tomorrow instead") is understood in context.

Through Rasa's tracker events API, the message is appended as a bot utterance (its metadata names the
parcel, which the session-start action keeps as the parcel under discussion) plus the `shipment_id`
slot. A conversation that never started is started first, by our own session-start action, which
identifies the phone. No database transaction stays open across these calls: the action server
writes to the same database. Rasa being down delays this, never the message: rows keep
`recorded_at` empty and a later pass tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.core.models import Notification, utcnow
from bot.core.settings import Settings

logger = logging.getLogger("doorstep.notify")
RETRY_FOR = timedelta(hours=2)


# Messages that ask the customer something: the conversation marks the question (the rules send the answer
# to the action that asked it: "NO" to "All OK? Reply NO to raise it." raises a complaint).
QUESTIONS = {"delivery_check": "delivery_check"}
# An agent's reply sent after WhatsApp's window: the console puts it in the conversation itself, as the agent's
# line marked with how it went (bot/web/console.py), so it is not recorded a second time as the bot's.
RECORDED_BY_THE_CONSOLE = ("agent_reply",)


def tracker_events(row: Notification) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [
        {"event": "bot", "text": row.body, "timestamp": (row.sent_at or utcnow()).timestamp(),
         "metadata": {"notification": row.trigger, "notification_id": row.id,
                      "notification_shipment_id": row.shipment_id}},
        {"event": "slot", "name": "shipment_id", "value": str(row.shipment_id)},
    ]
    if row.trigger in QUESTIONS:
        events.append({"event": "slot", "name": "claim_question", "value": QUESTIONS[row.trigger]})
    return events


class ConversationRecorder:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.sessions, self.settings = sessions, settings
        self.client = client or httpx.AsyncClient(timeout=5.0)
        self._started: set[str] = set()

    async def record(self, notification_ids: list[int]) -> int:
        """Record these sent notifications (SMS and WhatsApp: their conversations are the phone's and
        `whatsapp:+…`); returns how many Rasa took."""
        with self.sessions() as session:  # read, then let go: the action server writes meanwhile
            rows = session.scalars(
                select(Notification).where(Notification.id.in_(notification_ids), Notification.channel.in_(("sms", "whatsapp")),
                                           Notification.recorded_at.is_(None), Notification.shipment_id.is_not(None),
                                           Notification.trigger.notin_(RECORDED_BY_THE_CONSOLE))
            ).all()
            pending = [(row.id, row.to_address, tracker_events(row)) for row in rows]
        recorded: list[int] = []
        token = {"token": self.settings.rasa_token}
        for notification_id, phone, events in pending:
            # Rasa's router does not unquote path parameters: an E.164 number (or `whatsapp:+…`) goes as it is.
            base = f"{self.settings.rasa_url}/conversations/{quote(phone, safe='+:')}"
            try:
                await self._ensure_session(base, token)
                # No output_channel: the message went out already; this only records it.
                response = await self.client.post(f"{base}/tracker/events", json=events,
                                                  params={**token, "include_events": "NONE"})
            except httpx.HTTPError as exc:
                logger.info("Rasa not reachable to record notification %s: %r", notification_id, exc)
                break
            if response.status_code == 200:
                recorded.append(notification_id)
            else:
                logger.warning("Rasa refused notification %s: %s %s", notification_id, response.status_code,
                               response.text[:200])
        if recorded:
            with self.sessions() as session:
                session.execute(update(Notification).where(Notification.id.in_(recorded)).values(recorded_at=utcnow()))
                session.commit()
        return len(recorded)

    async def record_sent(self, notification_ids: list[int]) -> None:
        """The dispatcher's after-send hook: record what it just sent."""
        await self.record(notification_ids)

    async def _ensure_session(self, base: str, token: dict[str, str]) -> None:
        """A conversation that never started gets its session started first (our session-start
        action identifies the phone): events appended to an empty tracker would skip it. Asked
        once per conversation for the life of this recorder (one pass)."""
        if base in self._started:
            return
        tracker = await self.client.get(f"{base}/tracker", params={**token, "include_events": "ALL"})
        tracker.raise_for_status()
        if not any(e.get("event") == "session_started" for e in tracker.json().get("events") or []):
            started = await self.client.post(f"{base}/execute", json={"name": "action_session_start"}, params=token)
            started.raise_for_status()
        self._started.add(base)

    async def record_pending(self, now: datetime) -> int:
        """Catch up after Rasa was down: recent SMS not yet in their conversation."""
        with self.sessions() as session:
            ids = list(session.scalars(
                select(Notification.id).where(Notification.channel.in_(("sms", "whatsapp")), Notification.recorded_at.is_(None),
                                              Notification.trigger.notin_(RECORDED_BY_THE_CONSOLE),
                                              Notification.status.in_(("sent", "delivered")),
                                              Notification.sent_at >= now - RETRY_FOR).limit(200)
            ))
        return await self.record(ids) if ids else 0

    async def close(self) -> None:
        await self.client.aclose()
