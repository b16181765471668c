"""After an SMS goes out, the customer's Rasa conversation records it, and which parcel it was about,
so that an answer ("yes", "2", "can it come tomorrow instead") is understood in context.

Two records: the conversation link in our database (the session-start action reads the parcel from
it) and, through Rasa's tracker events API, the message itself as a bot utterance plus the
`shipment_id` and `tracking_number` slots. Rasa being down delays this, never the message: rows keep
`recorded_at` empty and a later pass tries again.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import quote

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from bot.identity import link_conversation
from bot.models import Notification, utcnow
from bot.settings import Settings

logger = logging.getLogger("doorstep.notify")
SMS_CHANNEL = "twilio"  # the Rasa input channel SMS conversations run on
RETRY_FOR = timedelta(hours=2)


def tracker_events(row: Notification) -> list[dict[str, object]]:
    return [
        {"event": "bot", "text": row.body, "timestamp": (row.sent_at or utcnow()).timestamp(),
         "metadata": {"notification": row.trigger, "notification_id": row.id}},
        {"event": "slot", "name": "shipment_id", "value": str(row.shipment_id)},
    ]


class ConversationRecorder:
    def __init__(self, sessions: sessionmaker[Session], settings: Settings, client: httpx.AsyncClient | None = None) -> None:
        self.sessions, self.settings = sessions, settings
        self.client = client or httpx.AsyncClient(timeout=5.0)

    async def record(self, notification_ids: list[int]) -> int:
        """Record these sent notifications (SMS only); returns how many Rasa took."""
        with self.sessions() as session:
            rows = session.scalars(
                select(Notification).where(Notification.id.in_(notification_ids), Notification.channel == "sms",
                                           Notification.recorded_at.is_(None), Notification.shipment_id.is_not(None))
            ).all()
            done = 0
            for row in rows:
                link_conversation(session, channel=SMS_CHANNEL, sender_id=row.to_address,
                                  customer_id=row.customer_id, shipment_id=row.shipment_id)
                url = (f"{self.settings.rasa_url}/conversations/{quote(row.to_address, safe='')}/tracker/events"
                       "?include_events=NONE")  # no output_channel: it is sent already
                try:
                    response = await self.client.post(url, json=tracker_events(row),
                                                      params={"token": self.settings.rasa_token})
                except httpx.HTTPError as exc:
                    logger.info("Rasa not reachable to record notification %s: %r", row.id, exc)
                    break
                if response.status_code == 200:
                    row.recorded_at = utcnow()
                    done += 1
                else:
                    logger.warning("Rasa refused notification %s: %s %s", row.id, response.status_code,
                                   response.text[:200])
            session.commit()
            return done

    async def record_pending(self, now: datetime) -> int:
        """Catch up after Rasa was down: recent SMS not yet in their conversation."""
        with self.sessions() as session:
            ids = list(session.scalars(
                select(Notification.id).where(Notification.channel == "sms", Notification.recorded_at.is_(None),
                                              Notification.status.in_(("sent", "delivered")),
                                              Notification.sent_at >= now - RETRY_FOR).limit(200)
            ))
        return await self.record(ids) if ids else 0

    async def close(self) -> None:
        await self.client.aclose()
