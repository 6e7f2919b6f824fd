"""What the monitoring benchmarks share: a database, simulators in their own processes, a webhook receiver, p95."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
for path in (ROOT, os.path.join(ROOT, "bench")):
    if path not in sys.path:
        sys.path.insert(0, path)

from _harness import PASSWORD, Harness

ALL_QUEUES = "critical,high,normal,low,bulk"


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, int(round(0.95 * len(ordered))) - 1)]


def verbose(line: str) -> None:
    """A detail line under a figure (indented, so it never reads as a figure)."""
    print(f"  {line}", flush=True)


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def harness(**config) -> Harness:
    """A migrated throwaway database: SQLite in a temp dir, or BENCH_DATABASE_URL (its tables dropped first).

    The app, workers and clock get their own instance dir, so nothing touches the real instance/.
    """
    os.environ.setdefault("ISP_INSTANCE_PATH", tempfile.mkdtemp(prefix="isp-bench-instance-"))
    url = os.environ.get("BENCH_DATABASE_URL")
    if url:
        from _scale import empty_database

        url = empty_database(url)
        config = {"SQLALCHEMY_DATABASE_URI": url, "SQLALCHEMY_BINDS": {"radius": url}, **config}
    return Harness(**config)


def dialect(h: Harness) -> str:
    return h.db_url.split(":")[0].split("+")[0]


def free_port_block(count: int, start: int = 30000, stop: int = 60000) -> int:
    """The first port of `count` consecutive free TCP ports on 127.0.0.1."""
    port = start + (os.getpid() * 7) % 10000
    while port + count < stop:
        taken = None
        for p in range(port, port + count):
            with socket.socket() as sock:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind(("127.0.0.1", p))
                except OSError:
                    taken = p
                    break
        if taken is None:
            return port
        port = taken + 1
    raise RuntimeError(f"no block of {count} free ports")


class SimProcess:
    """`python -m routeros_sim` serving `count` routers on consecutive ports, in its own process."""

    def __init__(self, count: int, base_port: int, control_port: int | None = None, clients: int = 0,
                 users: int = 0, speed: float = 1.0, seed: int = 0) -> None:
        self.count, self.base_port, self.control_port = count, base_port, control_port
        args = [sys.executable, "-m", "routeros_sim", "--routers", str(count), "--base-port", str(base_port),
                "--tls-base-port", "-1", "--password", PASSWORD, "--clients", str(clients), "--users", str(users),
                "--speed", str(speed), "--seed", str(seed), "--log-level", "warning"]
        if control_port:
            args += ["--control-port", str(control_port)]
        self.proc = subprocess.Popen(args, cwd=ROOT, start_new_session=True, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)

    @property
    def ports(self) -> list[int]:
        return list(range(self.base_port, self.base_port + self.count))

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Until the last router's port (and the control port) accept connections."""
        deadline = time.monotonic() + timeout
        wanted = [self.base_port + self.count - 1] + ([self.control_port] if self.control_port else [])
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited: {self.proc.stderr.read().decode()[-500:]}")
            try:
                for port in wanted:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.5)
        raise RuntimeError(f"simulator on {self.base_port}.. not ready after {timeout:.0f} s")

    def control(self, command: dict, timeout: float = 10.0) -> dict:
        """One JSON line to the control channel (routeros_sim/control.py) and its answer."""
        with socket.create_connection(("127.0.0.1", self.control_port), timeout=timeout) as sock:
            sock.sendall(json.dumps(command).encode() + b"\n")
            with sock.makefile("rb") as answer:
                line = answer.readline()
        return json.loads(line)

    def stop(self) -> None:
        import signal

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)


def register_routers(h: Harness, ports: list[int], prefix: str = "bench") -> list[int]:
    """Register one router per simulated port (the panel's own create path: tunnel address, keys); their ids."""
    from isp.extensions import db
    from isp.services import routers

    ids = []
    with h.app.app_context():
        for n, port in enumerate(ports):
            router = routers.create_router({"name": f"{prefix}-{n + 1:04d}", "addresses": "127.0.0.1", "api_port": port,
                                            "username": "admin", "password": PASSWORD, "mode": "api", "enabled": True,
                                            "max_sessions": 20})
            db.session.flush()
            ids.append(router.id)
        db.session.commit()
    return ids


def start_clock(h: Harness, **env) -> subprocess.Popen:
    """`flask clock` on the harness's database and Redis (every periodic job of isp.jobs.schedule)."""
    base = {**os.environ, "FLASK_APP": "wsgi", "DATABASE_URL": h.db_url, "RADIUS_DATABASE_URL": h.db_url,
            "REDIS_URL": h.redis_url, "LOG_LEVEL": "WARNING", **{k: str(v) for k, v in env.items()}}
    proc = subprocess.Popen([sys.executable, "-m", "flask", "clock"], cwd=ROOT, env=base, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    h.workers.append(proc)  # stopped with the workers
    return proc


class WebhookReceiver:
    """A local HTTP receiver on 127.0.0.1 that answers 200 and records when each POST arrived (and its body)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict, bytes]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                at = time.time()
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.arrivals.append((at, dict(self.headers), body))
                outer.event.set()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def login(client, username: str, password: str) -> None:
    """Log a test client in through the real form."""
    from _scale import _login

    _login(client, username, password)


def monitoring_bytes(h: Harness) -> dict[str, int]:
    """Bytes each monitoring table takes (metrics_store.storage_bytes when it exists, else the database's own view)."""
    from isp.extensions import db

    tables = ("router_samples", "interface_samples", "router_rollups", "interface_rollups", "router_interfaces",
              "router_log")
    with h.app.app_context():
        if db.engine.dialect.name != "sqlite":  # information_schema's sizes come from the statistics: fresh ones
            db.session.execute(db.text("ANALYZE TABLE " + ", ".join(tables)))
            db.session.commit()
        try:  # the app's own figure (what the README quotes)
            from isp.services import metrics_store

            return {str(k): int(v) for k, v in metrics_store.storage_by_table().items()}
        except (ImportError, AttributeError):
            pass
        if db.engine.dialect.name == "sqlite":
            rows = db.session.execute(db.text(
                "SELECT name, SUM(pgsize - unused) FROM dbstat GROUP BY name")).all()  # bytes in use, not whole pages
            indexes = dict(db.session.execute(db.text("SELECT name, tbl_name FROM sqlite_master")).all())
            out: dict[str, int] = {}
            for name, size in rows:
                table = indexes.get(name, name)
                if table in tables:
                    out[table] = out.get(table, 0) + int(size)
            return out
        rows = db.session.execute(db.text(
            "SELECT table_name, data_length + index_length FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name IN :names").bindparams(
                db.bindparam("names", expanding=True)), {"names": list(tables)}).all()
        return {name: int(size) for name, size in rows}
