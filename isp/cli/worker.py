"""`flask worker` and `flask clock`: the long-running job processes."""
from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from isp.extensions import redis_store
from isp.dispatch import QUEUES


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--pool", "processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Run N worker processes, each with its own router connection pool.")
@click.option("--name", default=None, help="Worker name (default: host and pid).")
@click.option("--queues", "queue_names", default=",".join(QUEUES), show_default=True,
              help="Comma-separated queues, most urgent first (e.g. critical,high for a worker kept free for urgent work).")
@with_appcontext
def worker_command(burst: bool, processes: int, name: str | None, queue_names: str) -> None:
    """Run job workers on the queues critical, high, normal, low, bulk (in that order)."""
    names = [q.strip() for q in queue_names.split(",") if q.strip()]
    unknown = [q for q in names if q not in QUEUES]
    if unknown or not names:
        raise click.BadParameter(f"unknown queue(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(QUEUES)}",
                                 param_hint="--queues")
    if processes > 1:
        _run_many(processes, burst, names)
        return
    from rq import Queue

    from isp.jobs.worker import IspWorker

    connection = redis_store.client
    IspWorker.app = current_app._get_current_object()  # type: ignore[attr-defined]
    queues = [Queue(q, connection=connection) for q in names]
    IspWorker(queues, connection=connection, name=name).work(burst=burst, with_scheduler=True,
                                                             logging_level=current_app.config["LOG_LEVEL"])


def _run_many(processes: int, burst: bool, names: list[str]) -> None:
    """Start N single workers as child processes and forward SIGTERM/SIGINT to them."""
    args = [sys.executable, "-m", "flask", "worker", "--queues", ",".join(names)] + (["--burst"] if burst else [])
    children = [subprocess.Popen(args, env=os.environ.copy()) for _ in range(processes)]

    def forward(signum, frame):  # noqa: ANN001
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    codes = [child.wait() for child in children]
    sys.exit(max(codes))


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the periodic schedule (isp.jobs.schedule) with RQ's cron scheduler."""
    from rq.cron import CronScheduler

    from isp.jobs.schedule import SCHEDULE

    scheduler = CronScheduler(connection=redis_store.client, logging_level=current_app.config["LOG_LEVEL"])
    for entry in SCHEDULE:
        if entry.get("when") and not current_app.config.get(entry["when"]):
            continue
        module, _, name = entry["func"].rpartition(".")
        func = getattr(importlib.import_module(module), name)
        interval = current_app.config[entry["interval_config"]] if "interval_config" in entry else entry["interval"]
        scheduler.register(func, entry["queue"], interval=interval, job_timeout=entry["timeout"])
    scheduler.start()
