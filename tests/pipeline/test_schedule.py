"""The clock's schedule: every periodic job takes its queue and limits from its one spec in isp.dispatch."""
import importlib

from isp import dispatch
from isp.jobs.schedule import SCHEDULE


def test_every_periodic_job_exists_and_takes_its_spec():
    for entry in SCHEDULE:
        spec = dispatch.JOBS[entry["func"]]
        assert (entry["queue"], entry["timeout"], entry["ttl"]) == (spec.queue, spec.timeout, spec.ttl)
        module, _, name = entry["func"].rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
        assert ("interval" in entry) != ("interval_config" in entry)


def test_every_enqueued_job_path_resolves():
    for spec in dispatch.JOBS.values():
        module, _, name = spec.path.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name)), spec.path
        assert spec.queue is None or spec.queue in dispatch.QUEUES


def test_reconcile_runs_on_the_configured_interval(app):
    entry = next(e for e in SCHEDULE if e["func"].endswith("reconcile_all"))
    assert entry["interval_config"] == "RECONCILE_INTERVAL" and app.config["RECONCILE_INTERVAL"] == 900
