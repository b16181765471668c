"""Changing a delivery: confirming and committing (reschedule, locker, instructions, neighbour or address, return).

One form (`change_form`) whose questions depend on the change asked for (`pending_request`). Every
change ends with an explicit confirmation; nothing is committed without "yes". "cancel" / "never
mind" leaves with nothing changed; "no, Sunday" at the confirmation is taken as a correction.
"""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import texts
from actions.change_common import (
    CAPABILITY,
    FORM_SLOTS,
    carrier_down,
    change_kind,
    context_and_parcel,
    decode_window,
    end_form,
    refusal,
    too_late,
    with_agent,
)
from actions.context import Context, Parcel, forget_context
from actions.language import reply_language
from actions.runtime import off_loop, runtime
from bot.carriers import CarrierError, ChangeRefused, Refusal
from bot.text import N_, t
from bot.timefmt import window as window_text


class AskConfirmChange(Action):
    def name(self) -> str:
        return "action_ask_confirm_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ctx, parcel = await context_and_parcel(tracker)
        if parcel is None:
            return end_form()
        lang = reply_language(tracker)
        if (stop := too_late(change_kind(tracker), parcel, dispatcher, lang)) is not None:
            return stop
        dispatcher.utter_message(text=t(lang, "{change}? Reply YES or NO.",
                                        change=describe_change(tracker, ctx, parcel, lang)))
        return []


RETURN_HOW = {"locker": N_("drop-off at a locker"), "pickup": N_("pickup"), "label": N_("an email label")}


def describe_change(tracker: Tracker, ctx: Context, parcel: Parcel, lang: str = "en") -> str:
    kind = change_kind(tracker)
    ref = parcel.short
    if kind == "reschedule":
        w = decode_window(tracker.get_slot("window_choice"))
        return t(lang, "Move parcel …{ref} to {window}", ref=ref,
                 window=window_text(w.start, w.end, ctx.now, ctx.tz, lang))
    if kind == "locker":
        name = next((o["name"] for o in tracker.get_slot("offered") or []
                     if o["code"] == tracker.get_slot("locker_choice")), tracker.get_slot("locker_choice"))
        return t(lang, "Send parcel …{ref} to the {locker} locker", ref=ref, locker=name)
    if kind == "instructions":
        return t(lang, "Tell the driver for parcel …{ref}: \"{note}\"", ref=ref,
                 note=tracker.get_slot("instructions_text"))
    if kind == "address":
        value = str(tracker.get_slot("address_text"))
        if value.startswith("N:"):
            return t(lang, "Leave parcel …{ref} with a neighbour if you're out (your note: \"{note}\")", ref=ref,
                     note=value[2:])
        line, postcode = value[2:].split("|")
        return t(lang, "Deliver parcel …{ref} to {line}, {postcode}", ref=ref, line=line, postcode=postcode)
    if kind == "return":
        skus = str(tracker.get_slot("return_items") or "").split(",")
        names = [i["name"] for i in parcel.items if i["sku"] in skus] or [
            i["name"] for i in parcel.items if i.get("returnable")]
        method = tracker.get_slot("return_method")
        how = t(lang, RETURN_HOW[str(method)])
        if method == "locker":
            name = next((o["name"] for o in tracker.get_slot("offered") or []
                         if o["code"] == tracker.get_slot("return_option")), None)
            if name:
                how = t(lang, "drop-off at the {locker} locker", locker=name)
        if method == "pickup":
            w = decode_window(tracker.get_slot("return_option"))
            how = t(lang, "pickup {window}", window=window_text(w.start, w.end, ctx.now, ctx.tz, lang))
        return t(lang, "Return {items} by {how}", items=", ".join(names), how=how)
    return t(lang, "Make this change")


def _reset() -> list[EventType]:
    return [SlotSet(slot, None) for slot in [*FORM_SLOTS, "offered", "pending_request"]] + [
        SlotSet("change_blocked", False), SlotSet("change_cancelled", False), SlotSet("wants_change", False)]


class CommitChange(Action):
    """The form is done: make the change through the carrier, or say why not. Nothing half-done."""

    def name(self) -> str:
        return "action_commit_change"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if tracker.get_slot("change_blocked"):
            return _reset()
        ctx, parcel = await context_and_parcel(tracker)
        lang = reply_language(tracker)
        if not ctx.verified:
            dispatcher.utter_message(text=t(lang, texts.VERIFY_LOCKED))
            return _reset()
        if tracker.get_slot("change_cancelled"):
            dispatcher.utter_message(text=t(lang, "OK, nothing was changed."))
            return _reset()
        if tracker.get_slot("confirm_change") is not True or parcel is None:
            dispatcher.utter_message(text=t(lang, "OK, I've left it as it was."))
            return _reset()
        kind = change_kind(tracker)
        try:
            text = await off_loop(_commit, kind, tracker.current_slot_values(), parcel, ctx, lang)
            forget_context(tracker)
        except ChangeRefused as refused:
            dispatcher.utter_message(text=with_agent(lang, t(lang, "Sorry, that didn't work: {reason} Nothing was changed.",
                                                          reason=refusal(lang, refused.code))))
            return _reset()
        except CarrierError:
            events = await carrier_down(dispatcher, tracker, parcel)
            return [*_reset(), *[e for e in events if e.get("name") not in ("change_blocked", "requested_slot")]]
        await off_loop(_replan, parcel.id, kind)
        dispatcher.utter_message(text=text)
        return [*_reset(), SlotSet("shipment_id", str(parcel.id))]


def _replan(shipment_id: int, kind: str) -> None:
    from bot.db import transaction
    from bot.notify import replan_after_change

    if kind != "return":
        with transaction(runtime().sessions) as session:
            replan_after_change(session, shipment_id=shipment_id, change=kind)


def _commit(kind: str, slots: dict[str, Any], parcel: Parcel, ctx: Context, lang: str = "en") -> str:
    """One carrier call; it either happens whole or raises (the carrier commits in one transaction)."""
    carrier = runtime().carrier(parcel.carrier)
    if CAPABILITY[kind] not in carrier.capabilities:
        raise ChangeRefused(Refusal.NOT_OFFERED)
    ref = parcel.short
    if kind == "reschedule":
        window = carrier.reschedule(parcel.tracking_number, decode_window(slots["window_choice"]))
        return t(lang, "Done: parcel …{ref} now comes {window}. We'll text you on the day.", ref=ref,
                 window=window_text(window.start, window.end, ctx.now, ctx.tz, lang))
    if kind == "locker":
        locker = carrier.redirect_to_locker(parcel.tracking_number, slots["locker_choice"])
        return t(lang, "Done: parcel …{ref} goes to the {locker} locker ({address}). "
                       "You'll get the pickup code when it's there.", ref=ref, locker=locker.name,
                 address=locker.address)
    if kind == "instructions":
        carrier.set_instructions(parcel.tracking_number, slots["instructions_text"])
        return t(lang, "Done: the driver will see \"{note}\".", note=slots["instructions_text"])
    if kind == "address":
        value = str(slots["address_text"])
        if value.startswith("N:"):
            carrier.deliver_to_neighbour(parcel.tracking_number, value[2:])
            return t(lang, "Done: if you're out, the driver leaves parcel …{ref} with a neighbour (note: \"{note}\").",
                     ref=ref, note=value[2:])
        line, postcode = value[2:].split("|")
        carrier.change_address(parcel.tracking_number, address_line=line, postcode=postcode)
        return t(lang, "Done: parcel …{ref} will go to {line}, {postcode}.", ref=ref, line=line, postcode=postcode)
    if kind == "return":
        skus = [s for s in str(slots.get("return_items") or "").split(",") if s] or [
            i["sku"] for i in parcel.items if i.get("returnable")]
        method = str(slots["return_method"])
        option = slots.get("return_option")
        label = carrier.create_return(
            parcel.tracking_number, items=skus, reason=str(slots["return_reason"]), method=method,
            locker_code=option if method == "locker" else None,
            pickup=decode_window(option) if method == "pickup" and option else None,
        )
        if method == "locker":
            return t(lang, "Return {rma} booked. At the {locker} locker, scan code {code} and put the parcel in. "
                           "No printer needed.", rma=label.rma, locker=label.locker_name, code=label.label_code)
        if method == "pickup" and label.pickup:
            return t(lang, "Return {rma} booked: pickup {window}. Have the parcel ready; the driver brings the label "
                           "({code}).", rma=label.rma, code=label.label_code,
                     window=window_text(label.pickup.start, label.pickup.end, ctx.now, ctx.tz, lang))
        _email_label(parcel, label.rma, label.label_code)
        return t(lang, "Return {rma} booked. The label ({code}) is on its way to your email.", rma=label.rma,
                 code=label.label_code)
    raise ChangeRefused(Refusal.NOT_OFFERED, kind)


def _email_label(parcel: Parcel, rma: str, code: str) -> None:
    from bot.db import transaction
    from bot.models import Shipment
    from bot.outbox import record

    rt = runtime()
    if rt.settings.email_provider != "outbox":
        return  # SendGrid delivery of labels comes with the notification service
    with transaction(rt.sessions) as session:
        shipment = session.get(Shipment, parcel.id)
        assert shipment is not None
        record(session, channel="email", to=shipment.customer.email, sender=rt.settings.email_from,
               subject=f"Your return label {rma}", body=f"Return {rma}: print label {code} and drop the parcel at any shop.")
