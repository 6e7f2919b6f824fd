"""Subscriber sessions and usage in api mode (owned by the sessions work; stubs until it lands)."""
from __future__ import annotations


def poll_sessions_all() -> int:
    """Enqueue one session poll per enabled api-mode router."""
    return 0


def poll_sessions(router_id: int) -> str:
    """Read /ppp/active, the hotspot active list and the static queues once; update sessions and usage."""
    return "skipped"
