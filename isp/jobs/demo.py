"""Demo traffic: a steady trickle of router commands so the pool monitor has something to show."""
from __future__ import annotations

import time

from isp.models import Priority
from isp.services import demo_fleet, outbox
from isp.transaction import atomic


def traffic() -> int:
    """Queue a few idempotent hotspot-user ensures per demo router (only when ISP_DEMO_TRAFFIC is on).

    Only the simulated routers of demo/fleet.toml get them: a real router added during the demo gets none.
    """
    tick = int(time.time() // 10)

    def unit() -> int:
        queued = 0
        for router in demo_fleet.routers():
            for n in range(4):
                name = f"demo-{(tick * 4 + n) % 200:03d}"
                outbox.queue_command(router, "hotspot_user.ensure", f"hotspot_user:{name}",
                                     {"attrs": {"name": name, "password": f"pw{tick % 97}", "comment": "demo traffic"}},
                                     Priority.normal)
                queued += 1
        return queued

    return atomic(unit)
