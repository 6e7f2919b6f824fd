"""`flask worker` and `flask clock`: the long-running job processes."""
from __future__ import annotations

import importlib
import logging
import os
import signal
import subprocess
import sys
import time

import click
from flask import current_app
from flask.cli import with_appcontext

from isp.dispatch import QUEUES, URGENT
from isp.extensions import redis_store
from isp.radius import xa

log = logging.getLogger(__name__)


def _rq_level() -> str:
    """RQ logs a line per job and per cron tick at INFO (hundreds a minute): only LOG_LEVEL=DEBUG shows them."""
    level = current_app.config["LOG_LEVEL"]
    level = "DEBUG" if level == "DEBUG" else max(level, "WARNING", key=logging.getLevelName)
    logging.getLogger("rq").setLevel(level)  # the cron scheduler logs through it whatever level it is given
    return level


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit when the queues are empty.")
@click.option("--pool", "processes", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Run N general worker processes, each with its own router connection pool.")
@click.option("--urgent", "urgent", type=click.IntRange(0, 16), default=1, show_default=True,
              help="Extra worker processes kept for critical,high work beside the general ones (0: none).")
@click.option("--name", default=None, help="Worker name (default: host and pid).")
@click.option("--queues", "queue_names", default=None,
              help="Run exactly one worker on these comma-separated queues, most urgent first (e.g. critical,high).")
@with_appcontext
def worker_command(burst: bool, processes: int, urgent: int, name: str | None, queue_names: str | None) -> None:
    """Run job workers: general ones on critical, high, normal, low, bulk, plus one kept for urgent work."""
    xa.recover_at_start(current_app._get_current_object())  # type: ignore[attr-defined]  # two-phase radius only
    if queue_names is not None:
        names = [q.strip() for q in queue_names.split(",") if q.strip()]
        unknown = [q for q in names if q not in QUEUES]
        if unknown or not names:
            raise click.BadParameter(f"unknown queue(s) {', '.join(unknown) or '(none)'}; choose from {', '.join(QUEUES)}",
                                     param_hint="--queues")
        _work(names, burst, name)
        return
    # The default deployment: a kick or an expiry must not wait behind a 10,000-voucher push, so one
    # process serves only critical and high while the general ones work through everything.
    groups = [list(QUEUES)] * processes + [list(URGENT)] * urgent
    if len(groups) == 1:
        _work(groups[0], burst, name)
    else:
        _run_many(groups, burst)


def _work(names: list[str], burst: bool, name: str | None) -> None:
    """Run one worker in this process on `names`, in that order."""
    from rq import Queue

    from isp.jobs.worker import IspWorker

    connection = redis_store.client
    IspWorker.app = current_app._get_current_object()  # type: ignore[attr-defined]
    queues = [Queue(q, connection=connection) for q in names]
    log.info("worker %s started on %s", os.getpid(), ",".join(names))
    IspWorker(queues, connection=connection, name=name).work(burst=burst, with_scheduler=True, logging_level=_rq_level())


def _run_many(groups: list[list[str]], burst: bool) -> None:
    """Run one single worker per queue group as child processes; forward SIGTERM/SIGINT to them.

    If one child dies on its own, the others are stopped and this process exits non-zero, so the
    platform restarts the whole worker instead of leaving some queues without anyone to serve them.
    """
    extra = ["--burst"] if burst else []
    children = [subprocess.Popen([sys.executable, "-m", "flask", "worker", "--queues", ",".join(names), *extra],
                                 env=os.environ.copy()) for names in groups]
    stopping = {"signal": False}

    def forward(signum: int, frame: object) -> None:
        stopping["signal"] = True
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    if burst:
        sys.exit(max(child.wait() for child in children))
    while all(child.poll() is None for child in children):
        time.sleep(0.5)
    crashed = not stopping["signal"]
    if crashed:
        gone = next(child for child in children if child.poll() is not None)
        log.error("worker process %s exited with code %s; stopping the others so the whole worker restarts",
                  gone.pid, gone.returncode)
        forward(signal.SIGTERM, None)
    codes = [child.wait() for child in children]
    sys.exit(max(*codes, 1) if crashed else max(codes))


@click.command("clock")
@with_appcontext
def clock_command() -> None:
    """Run the periodic schedule (isp.jobs.schedule) with RQ's cron scheduler."""
    xa.recover_at_start(current_app._get_current_object())  # type: ignore[attr-defined]  # two-phase radius only
    from rq.cron import CronScheduler

    from isp.jobs.schedule import SCHEDULE

    scheduler = CronScheduler(connection=redis_store.client, logging_level=_rq_level())
    for entry in SCHEDULE:
        if entry.get("when") and not current_app.config.get(entry["when"]):
            continue
        module, _, name = entry["func"].rpartition(".")
        func = getattr(importlib.import_module(module), name)
        interval = current_app.config[entry["interval_config"]] if "interval_config" in entry else entry["interval"]
        scheduler.register(func, entry["queue"], interval=interval, job_timeout=entry["timeout"], ttl=entry["ttl"],
                           result_ttl=entry["result_ttl"], failure_ttl=entry["failure_ttl"])
    scheduler.start()
