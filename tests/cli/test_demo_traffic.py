"""Demo traffic reaches only the demo's own simulated routers, never one an operator adds."""
from sqlalchemy import select

from isp.extensions import db as _db
from isp.jobs.demo import traffic
from isp.models import RouterCommand
from isp.services import demo_fleet


def test_demo_traffic_touches_only_the_demo_fleet(app, make_router):
    with app.app_context():
        fleet = demo_fleet.entries()
    core = make_router(name=fleet[0]["name"], api_port=fleet[0]["api_port"])
    real = make_router(name="office-gw", addresses="192.0.2.10", api_port=8728)
    # Named like a demo router, but somewhere else: still not the demo's.
    lookalike = make_router(name=fleet[1]["name"], addresses="192.0.2.11", api_port=fleet[1]["api_port"])
    with app.app_context():
        assert traffic() == 4
        targets = set(_db.session.scalars(select(RouterCommand.router_id)))
    assert targets == {core.id}
    assert real.id not in targets and lookalike.id not in targets
