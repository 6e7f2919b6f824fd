"""The clock's schedule: every periodic job runs on the queue, timeout and TTLs of its one spec in isp.dispatch."""
import importlib

import pytest

from isp import dispatch
from isp.jobs.schedule import SCHEDULE


@pytest.fixture
def registered(app, monkeypatch):
    """What `flask clock` hands RQ's cron scheduler, captured instead of started."""
    from rq.cron import CronScheduler

    calls = []
    monkeypatch.setattr(CronScheduler, "register", lambda self, func, queue, **kw: calls.append((func, queue, kw)))
    monkeypatch.setattr(CronScheduler, "start", lambda self: None)

    def run(**config):
        app.config.update(config)
        result = app.test_cli_runner().invoke(args=["clock"])
        assert result.exit_code == 0, result.output
        return {f"{func.__module__}.{func.__name__}": (queue, kw) for func, queue, kw in calls}

    return run


def test_the_clock_registers_every_job_with_its_spec(registered):
    jobs = registered(ISP_DEMO_TRAFFIC=True, RECONCILE_INTERVAL=1800)
    assert set(jobs) == {entry["func"] for entry in SCHEDULE}
    for path, (queue, kw) in jobs.items():
        spec = dispatch.JOBS[path]
        assert queue == spec.queue
        assert (kw["job_timeout"], kw["ttl"], kw["result_ttl"], kw["failure_ttl"]) == (
            spec.timeout, spec.ttl, spec.result_ttl, spec.failure_ttl)
    assert jobs["isp.jobs.reconcile.reconcile_all"][1]["interval"] == 1800  # RECONCILE_INTERVAL, not a constant
    assert jobs["isp.jobs.vouchers.expire_vouchers"] == ("critical", jobs["isp.jobs.vouchers.expire_vouchers"][1])
    assert jobs["isp.jobs.vouchers.expire_vouchers"][1]["interval"] == 5


def test_demo_traffic_runs_only_when_switched_on(registered):
    assert "isp.jobs.demo.traffic" not in registered(ISP_DEMO_TRAFFIC=False)


def test_every_enqueued_job_path_resolves():
    for spec in dispatch.JOBS.values():
        module, _, name = spec.path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), spec.path
        assert spec.queue is None or spec.queue in dispatch.QUEUES
