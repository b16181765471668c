"""Carrier errors, next to the interface. Edges turn them into messages, handoffs or retries.

Adapters say *why* a change was refused with a `Refusal` code, never in customer words: the change
service turns codes into text in the customer's language (the catalogues), the console shows them to
agents, and the HTTP API returns them as they are.
"""

from enum import StrEnum


class Refusal(StrEnum):
    """Why a carrier would not make a change to this shipment now."""

    OUT_FOR_DELIVERY = "out_for_delivery"  # with the driver
    DELIVERED = "delivered"  # arrived (delivered, at the locker, returned)
    GOING_TO_LOCKER = "going_to_locker"  # already redirected to a locker
    NOT_OFFERED = "not_offered"  # the carrier does not do this (a capability is off)
    WINDOW_TAKEN = "window_taken"  # that delivery or pickup window is no longer free
    UNKNOWN_LOCKER = "unknown_locker"
    LOCKER_FULL = "locker_full"
    OUTSIDE_AREA = "outside_area"  # the new address is outside the depot's area
    NOT_YET_DELIVERED = "not_yet_delivered"  # a return before delivery
    RETURN_WINDOW_CLOSED = "return_window_closed"
    NOT_RETURNABLE = "not_returnable"  # those items
    RETURN_METHOD_NOT_OFFERED = "return_method_not_offered"
    LOCKER_NEEDED = "locker_needed"  # a locker drop-off without a locker
    PICKUP_WINDOW_NEEDED = "pickup_window_needed"  # a pickup without a window
    LABEL_FAILED = "label_failed"  # the carrier could not make a return label
    REJECTED = "rejected"  # the carrier said no and gave no reason we know


class CarrierError(Exception):
    """The carrier call failed; nothing was changed. `retryable` for timeouts, 5xx and 429."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class UnsupportedOperation(CarrierError):
    """The shipment's carrier cannot do this at all (a capability flag is off)."""


class ChangeRefused(CarrierError):
    """The carrier can do this in general but not for this shipment now.

    `code` says why; `detail` is for logs and agents only (a locker's name, the carrier's own words),
    never shown to a customer as it is.
    """

    def __init__(self, code: Refusal, detail: str = "") -> None:
        super().__init__(f"{code.value}: {detail}" if detail else code.value)
        self.code = code
        self.detail = detail


class UnknownShipment(CarrierError):
    """No shipment with that tracking number at this carrier."""


class CarrierUnavailable(CarrierError):
    """The carrier did not answer (timeout, 5xx, 429, connection) or its circuit is open: say so at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=True)
