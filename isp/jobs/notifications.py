"""The notification outbox jobs (owned by the notifications work; stubs until it lands)."""
from __future__ import annotations


def send_due() -> int:
    """Send pending notifications whose time has come."""
    return 0


def queue_reminders() -> int:
    """Queue reminders before expiry."""
    return 0
