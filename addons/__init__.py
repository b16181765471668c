"""Rasa runtime add-ons (custom channels). Import only rasa, sanic, twilio and the standard library."""
