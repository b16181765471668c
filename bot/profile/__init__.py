"""The recipient profile: a customer's standing wishes, applied to every new parcel whichever carrier brings it.

`store` reads and changes it (each change recorded); `apply.on_new_parcel` applies it to a new parcel
through the change service; `describe` says it in the customer's language.
"""

from bot.profile.store import WISHES, By, InvalidValue, Item, Profile, delete_wishes, history, read, set_item

__all__ = ["WISHES", "By", "InvalidValue", "Item", "Profile", "delete_wishes", "history", "read", "set_item"]
