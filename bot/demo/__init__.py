"""The embedded demo: the outbox that answers as Twilio and SendGrid do, the demo phone, the demo
report."""
