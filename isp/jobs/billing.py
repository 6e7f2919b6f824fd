"""The billing run and the on-time suspension tick (owned by the billing work; stubs until it lands)."""
from __future__ import annotations


def billing_run() -> dict:
    """Renew, move to grace, suspend: set-based over every due subscription."""
    return {}


def suspend_due() -> int:
    """Suspend the services whose grace ended (every 10 s, on critical)."""
    return 0
