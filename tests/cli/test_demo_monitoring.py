"""The demo's monitoring story: demo-flaky drops long enough to raise the default offline alert, and hangs off demo-core."""
from __future__ import annotations

import importlib.util
import json
import os

import pytest
from sqlalchemy import select

from isp.extensions import db
from isp.models import Router
from isp.models.monitoring import AlertRule
from isp.services import demo_fleet
from routeros_sim.config import load_toml


@pytest.fixture
def demo_app(app, tmp_path, monkeypatch):
    """The test app with its instance folder in tmp (never the developer's instance/)."""
    app.instance_path = str(tmp_path / "instance")
    monkeypatch.setenv("ISP_DEMO_PASSWORD", "demo-pass-for-tests-7")
    return app


def _default_offline_seconds(app) -> int:
    """The "Router offline" rule's seconds: the stored rule, else the default that migration 0014 seeds."""
    rule = db.session.scalar(select(AlertRule).where(AlertRule.name == "Router offline"))
    if rule is not None:
        return json.loads(rule.params_json)["seconds"]
    path = os.path.join(os.path.dirname(app.root_path), "migrations", "versions", "0014_monitoring.py")
    spec = importlib.util.spec_from_file_location("migration_0014", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    params = next(row[-1] for row in module.DEFAULT_RULES if row[0] == "Router offline")
    return json.loads(params)["seconds"]


def test_demo_flaky_stays_down_past_the_offline_rule_and_comes_back(app):
    """Each drop outlasts the default "Router offline" rule plus one poll, and the router is back long enough to resolve."""
    with app.app_context():
        _fleet, configs = load_toml(demo_fleet.fleet_path())
        offline_after = _default_offline_seconds(app)
        interval = app.config["MONITOR_INTERVAL"]
    flaky = {c.name: c for c in configs}["demo-flaky"]
    down, up = flaky.faults.flap
    assert down >= offline_after + 2 * interval  # opens within the drop even with a poll missed at either end
    assert up >= 3 * interval  # and polls succeed again before the next drop, so it resolves
    assert down + up <= 600  # the story repeats within minutes of opening the demo
    others = [c for c in configs if c.name != "demo-flaky"]
    assert others and all(c.faults.flap is None and not c.faults.down for c in others)


def test_demo_registers_every_simulated_router_polled_and_flaky_under_core(demo_app):
    runner = demo_app.test_cli_runner()
    for _ in range(2):  # a second run keeps the dependency as it is
        result = runner.invoke(args=["demo", "--customers", "0"])
        assert result.exit_code == 0, result.output
    with demo_app.app_context():
        rows = {r.name: r for r in db.session.scalars(select(Router))}
        entries = demo_fleet.entries()
        assert {e["name"] for e in entries} <= set(rows)
        assert all(rows[e["name"]].enabled for e in entries)  # POLL_ALL polls every enabled router
        assert rows["demo-flaky"].parent_id == rows["demo-core"].id
        assert rows["demo-core"].parent_id is None and rows["demo-slow"].parent_id is None
