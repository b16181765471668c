"""`python -m bot …`: set up, start processes, and script against the demo."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from bot.core.settings import VAR_DIR, ConfigError, load_settings

if TYPE_CHECKING:
    from bot.core.runtime import Runtime


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Doorstep command line")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("check-config", help="validate settings; one line per problem")
    sub.add_parser("setup", help="migrate the database and build the demo world if it has none")
    demo = sub.add_parser("demo", help="the demo customers and shipments")
    demo.add_argument("--json", action="store_true", required=True)
    outbox = sub.add_parser("outbox", help="what the outbox has sent")
    outbox.add_argument("--json", action="store_true", required=True)
    outbox.add_argument("--to", help="only messages to/from this phone or email")
    sms = sub.add_parser("sms", help="text the bot as a customer's phone (outbox mode only)")
    sms.add_argument("--from", dest="phone", required=True)
    sms.add_argument("text")
    sms.add_argument("--whatsapp", action="store_true", help="as the same phone on WhatsApp")
    sub.add_parser("whatsapp-templates", help="the WhatsApp template texts to submit for approval, per trigger and locale")
    arrive = sub.add_parser("new-parcel", help="a new sandbox parcel for a demo customer (their profile applies)")
    arrive.add_argument("--for", dest="phone", required=True)
    launch = sub.add_parser("launch", help="start one process of the stack")
    launch.add_argument("process", choices=["rasa", "actions", "web", "scheduler"])
    sub.add_parser("scheduler", help="run the scheduler in the foreground")
    # issue 5: support agents for the console
    agent = sub.add_parser("agent", help="support agents for the console")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    create = agent_sub.add_parser("create", help="create an agent (password from DOORSTEP_AGENT_PASSWORD or a prompt)")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default="")
    create.add_argument("--role", choices=["agent", "supervisor"], default="agent")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.umask(0o077)  # databases and secrets this creates are the owner's alone
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "check-config":
        print("configuration ok")
        return 0
    if args.command == "setup":
        from bot.core.schema import is_ready

        if is_ready(settings.database_url, needs_world=settings.carrier == "sandbox"):
            print("configuration ok; database ready")
            return 0
    if args.command == "launch":
        from bot.processes.launch import exec_process

        exec_process(args.process, settings)
        return 0
    if args.command == "whatsapp-templates":
        from bot.notify.whatsapp_templates import cached_templates

        for template in cached_templates(settings.whatsapp_templates):
            print(f"{template.trigger}\t{template.locale}\t{template.content_sid}\t{template.approval_text()}")
        return 0
    if args.command == "scheduler":
        from bot.processes.scheduler import run

        run(settings)
        return 0

    from bot.core.runtime import Runtime

    runtime = Runtime.build(settings)
    if args.command == "setup":
        from bot.core.schema import ensure_demo, migrate

        VAR_DIR.mkdir(mode=0o700, exist_ok=True)
        VAR_DIR.chmod(0o700)  # a checkout set up before files were private: nobody else reads what is inside

        migrate(settings.database_url)
        built = ensure_demo(runtime)
        print("configuration ok; database ready" + ("; demo world built" if built else ""))
        return 0
    if args.command == "demo":
        from bot.demo.demo_report import demo_report

        with runtime.sessions() as session:
            print(json.dumps(demo_report(session, runtime.clock.now()), indent=2))
        return 0
    if args.command == "outbox":
        from sqlalchemy import select

        from bot.core.models import OutboxMessage
        from bot.demo.outbox import as_dict, conversation

        with runtime.sessions() as session:
            rows = (conversation(session, args.to, limit=10_000) if args.to
                    else session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all())
            print(json.dumps([as_dict(m) for m in rows if m.direction == "outbound"], indent=2))
        return 0
    if args.command == "agent":
        return _create_agent(runtime, args)
    if args.command == "new-parcel":
        return _new_parcel(runtime, args.phone)
    if args.command == "sms":
        from bot.conversation.identity import normalise_phone
        from bot.demo.sms_sim import SimulatorDisabled, send_as_customer

        phone = normalise_phone(args.phone)
        if phone is None:
            print(f"not a phone number: {args.phone}", file=sys.stderr)
            return 2
        try:
            exchange = send_as_customer(runtime, f"whatsapp:{phone}" if args.whatsapp else phone, args.text)
        except SimulatorDisabled as exc:
            print(exc, file=sys.stderr)
            return 2
        if exchange.status_code >= 300:
            print(f"webhook answered {exchange.status_code}", file=sys.stderr)
            return 1
        for reply in exchange.replies:
            print(reply)
        return 0
    return 1


def _new_parcel(runtime: Runtime, raw_phone: str) -> int:
    """Issue 16: a shipper's pre-advice for a demo customer, through the intake; prints what the profile did."""
    from sqlalchemy import select

    from bot.conversation.identity import normalise_phone
    from bot.core.models import Customer
    from bot.parcels import register
    from bot.parcels.sandbox_arrival import sandbox_parcel

    phone = normalise_phone(raw_phone)
    now = runtime.clock.now()
    with runtime.sessions() as session:
        customer = session.scalar(select(Customer).where(Customer.phone == phone)) if phone else None
        if customer is None:
            print(f"no demo customer with the number {raw_phone}", file=sys.stderr)
            return 2
        parcel = sandbox_parcel(session, customer, now)
    registered = register(runtime, parcel, now=now)
    print(json.dumps({"shipment_id": registered.shipment_id, "tracking_number": parcel.tracking_number,
                      "profile": [{"item": a.item, "outcome": a.outcome} for a in registered.applied]}, indent=2))
    return 0


def _create_agent(runtime: Runtime, args: argparse.Namespace) -> int:
    import getpass
    import os

    from bot.core.db import transaction
    from bot.desk.agents import AgentError, create_agent

    password = os.environ.get("DOORSTEP_AGENT_PASSWORD")
    if password is None:
        password = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ", file=sys.stderr)
            return 2
    try:
        with transaction(runtime.sessions) as session:
            agent = create_agent(session, email=args.email, name=args.name, password=password, role=args.role)
            print(f"agent {agent.id} created: {agent.email} ({agent.role})")
    except AgentError as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
