"""`flask worker` and `flask clock`: the long-running job processes."""
from __future__ import annotations

import importlib

import click
from flask import current_app
from flask.cli import with_appcontext

from isp.extensions import redis_store
from isp.jobs import QUEUES


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@with_appcontext
def worker_command(burst: bool) -> None:
    """Run a job worker on the queues critical, high, normal, low, bulk (in that order)."""
    from rq import Queue

    from isp.jobs.worker import IspWorker

    connection = redis_store.client
    IspWorker.app = current_app._get_current_object()  # type: ignore[attr-defined]
    queues = [Queue(name, connection=connection) for name in QUEUES]
    IspWorker(queues, connection=connection).work(burst=burst, with_scheduler=True)


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the periodic schedule (isp.jobs.schedule) with RQ's cron scheduler."""
    from rq.cron import CronScheduler

    from isp.jobs.schedule import SCHEDULE

    scheduler = CronScheduler(connection=redis_store.client)
    for entry in SCHEDULE:
        module, _, name = entry["func"].rpartition(".")
        func = getattr(importlib.import_module(module), name)
        scheduler.register(func, entry["queue"], interval=entry["interval"], job_timeout=entry["timeout"])
    scheduler.start()
