"""Notifications. For now: what a change to a delivery does to the messages already planned."""

from bot.notify.replan import replan_after_change

__all__ = ["replan_after_change"]
