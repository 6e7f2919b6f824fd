"""A router switching between api and radius mode moves its subscribers' users from one back end to the other."""
from __future__ import annotations

import json

from sqlalchemy import select

from isp.extensions import db as _db
from isp.models import Router, RouterCommand, RouterMode
from isp.services import provisioning
from tests.radius_writers.conftest import groups_of


def _payloads(app) -> dict[str, str]:
    """service.apply commands by key -> the state they put the user in."""
    with app.app_context():
        return {c.idempotency_key: json.loads(c.payload_json)["state"] for c in _db.session.scalars(
            select(RouterCommand).where(RouterCommand.operation == "service.apply"))}


def test_switching_to_radius_takes_users_off_the_router_and_into_freeradius_and_back(app, world):
    plan = world.plan()
    for name in ("kim", "lou"):
        world.sub(plan, name)
    with app.app_context():
        router = _db.session.get(Router, world.router_id)
        router.mode = RouterMode.api  # as it was before the switch
        _db.session.commit()

        router.mode = RouterMode.radius
        provisioning.mode_changed(router, RouterMode.api)
        _db.session.commit()
        assert groups_of("kim") == groups_of("lou") == [_plan_group(plan)]
    assert _payloads(app) == {"service:pppoe:kim": "absent", "service:pppoe:lou": "absent"}

    with app.app_context():
        router = _db.session.get(Router, world.router_id)
        router.mode = RouterMode.api
        provisioning.mode_changed(router, RouterMode.radius)
        _db.session.commit()
        assert groups_of("kim") == groups_of("lou") == []
    # The pending removals collapse into the new state: the users are put back on the router.
    assert _payloads(app) == {"service:pppoe:kim": "served", "service:pppoe:lou": "served"}


def _plan_group(plan_id: int) -> str:
    from isp.models import ServicePlan

    return _db.session.get(ServicePlan, plan_id).profile_name
