"""Carrier errors, next to the interface. Edges turn them into messages, handoffs or retries."""


class CarrierError(Exception):
    """The carrier call failed; nothing was changed. `retryable` for timeouts, 5xx and 429."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class UnsupportedOperation(CarrierError):
    """The shipment's carrier cannot do this at all (a capability flag is off)."""


class ChangeRefused(CarrierError):
    """The carrier can do this in general but not for this shipment now; `reason` is customer-safe."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnknownShipment(CarrierError):
    """No shipment with that tracking number at this carrier."""


class CarrierUnavailable(CarrierError):
    """The carrier did not answer (timeout, 5xx, 429, connection) or its circuit is open: say so at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
