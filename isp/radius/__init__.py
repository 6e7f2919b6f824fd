"""FreeRADIUS: the stock SQL schema on the `radius` bind, and the writers that map our objects to attributes."""
from __future__ import annotations

from pathlib import Path
from zoneinfo import ZoneInfo

from flask import current_app

# pyrad's dictionary of the attributes we send and read (the app's CoA client and the simulator's NAS share it).
DICTIONARY = Path(__file__).with_name("dictionary")


def server_zone() -> ZoneInfo:
    """The zone FreeRADIUS runs in (RADIUS_TIMEZONE, default UTC): it reads `Expiration` and writes its radacct and
    radpostauth times in it."""
    return ZoneInfo(current_app.config.get("RADIUS_TIMEZONE") or "UTC")
