"""Demo traffic: a steady trickle of router commands so the pool monitor has something to show."""
from __future__ import annotations

import time

from sqlalchemy import select

from isp.extensions import db
from isp.models import Priority, Router
from isp.services import outbox


def traffic() -> int:
    """Queue a few idempotent hotspot-user ensures per enabled router (only when ISP_DEMO_TRAFFIC is on)."""
    tick = int(time.time() // 10)
    queued = 0
    for router in db.session.scalars(select(Router).where(Router.enabled.is_(True))):
        for n in range(4):
            name = f"demo-{(tick * 4 + n) % 200:03d}"
            outbox.queue_command(router, "hotspot_user.ensure", f"hotspot_user:{name}",
                                 {"attrs": {"name": name, "password": f"pw{tick % 97}", "comment": "demo traffic"}},
                                 Priority.normal)
            queued += 1
    db.session.commit()
    return queued
