"""Shared set-up for the benchmarks: a throwaway DB, a shared Redis, simulated routers, worker processes."""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
PASSWORD = "bench-pass"


class Harness:
    """A migrated SQLite DB and a Redis (REDIS_URL or an embedded one) in a temp dir."""

    def __init__(self, **config) -> None:
        import redis
        from flask_migrate import upgrade

        from isp import create_app
        from isp.embedded_redis import ensure_embedded_redis

        self.tmp = tempfile.mkdtemp(prefix="isp-bench-")
        self.db_url = f"sqlite:///{self.tmp}/bench.db"
        self.redis_url = os.environ.get("REDIS_URL") or ensure_embedded_redis(self.tmp)
        self.own_redis = "REDIS_URL" not in os.environ
        self.redis = redis.Redis.from_url(self.redis_url)
        self.redis.flushdb()
        self.config = {"SQLALCHEMY_DATABASE_URI": self.db_url, "REDIS_URL": self.redis_url, "LOG_LEVEL": "WARNING", **config}
        self.db_url = self.config["SQLALCHEMY_DATABASE_URI"]  # worker processes use the same database
        # The radius tables in the benchmark's own database (one throwaway database, one connection), not a `radius`
        # database beside it that nobody created.
        self.config.setdefault("SQLALCHEMY_BINDS", {"radius": self.db_url})
        self.app = create_app(self.config)
        with self.app.app_context():
            upgrade(directory=os.path.join(ROOT, "migrations"))
        self.workers: list[subprocess.Popen] = []

    def add_router(self, name: str, port: int) -> int:
        from isp.extensions import db
        from isp.services import routers

        with self.app.app_context():
            router = routers.create_router({"name": name, "addresses": "127.0.0.1", "api_port": port, "username": "admin",
                                            "password": PASSWORD, "mode": "api", "enabled": True, "max_sessions": 20})
            db.session.commit()
            return router.id

    def start_workers(self, count: int, queues: str | None = None, **env) -> None:
        base = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": self.db_url, "RADIUS_DATABASE_URL": self.db_url, "REDIS_URL": self.redis_url,
                "LOG_LEVEL": "WARNING", **{k: str(v) for k, v in env.items()}}
        for _ in range(count):
            extra = ["--queues", queues] if queues else []
            self.workers.append(subprocess.Popen([sys.executable, "-m", "flask", "worker", *extra], cwd=ROOT, env=base,
                                                 start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(2.5)  # imports and registration

    def start_clock(self) -> subprocess.Popen:
        """`flask clock` on the benchmark's database and Redis, in its own process group (stop it with stop_process)."""
        env = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": self.db_url, "RADIUS_DATABASE_URL": self.db_url,
               "REDIS_URL": self.redis_url, "LOG_LEVEL": "WARNING"}
        return subprocess.Popen([sys.executable, "-m", "flask", "clock"], cwd=ROOT, env=env, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_workers(self) -> None:
        for worker in self.workers:
            worker.terminate()
        for worker in self.workers:
            stop_process(worker)
        self.workers = []

    def close(self) -> None:
        from isp.embedded_redis import stop_embedded_redis

        self.stop_workers()
        if self.own_redis:
            stop_embedded_redis(self.tmp)
        import shutil

        shutil.rmtree(self.tmp, ignore_errors=True)


def stop_process(proc: subprocess.Popen | None) -> None:
    """Terminate a process started with start_new_session (None: nothing to stop), then kill what is left of its
    group (a worker's RQ scheduler child, gunicorn's workers) and reap it."""
    import signal

    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()
