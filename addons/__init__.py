"""Rasa runtime add-ons (custom channels). Import only rasa, sanic, twilio, Rasa's own dependencies,
lingua (language_id.py), the standard library and bot/text.py (Babel and the standard library: the
bot's texts in the customer's language): this package runs in the Rasa runtime, not the app's."""

from addons import rasa_version

rasa_version.require_supported()  # before anything below imports or patches Rasa internals

from addons import action_guard, keywords_in_handoff, speedups  # noqa: E402

speedups.install()
action_guard.install()
keywords_in_handoff.install()
