"""The generic REST carrier: our own small contract (docs/carrier-api/openapi.yaml) over HTTP."""

from bot.carriers.rest.adapter import RestCarrier

__all__ = ["RestCarrier"]
