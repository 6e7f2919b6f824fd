"""A fleet of virtual routers on one event loop, runnable in a thread or in the foreground."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .clock import SimClock
from .config import RouterConfig
from .router import VirtualRouter
from .tls import server_context

log = logging.getLogger(__name__)


class Fleet:
    """Virtual routers sharing a simulated clock; ports 0 are replaced by the ones bound."""

    def __init__(self, routers: Iterable[RouterConfig] = (), *, speed: float | None = None,
                 start_time: float | None = None, control_port: int | None = None) -> None:
        configs = list(routers) or [RouterConfig()]
        for i, cfg in enumerate(configs, 1):
            cfg.name = cfg.name or "sim-%d" % i
        names = [c.name for c in configs]
        if len(set(names)) != len(names):
            raise ValueError("router names must be unique")
        self.clock = SimClock(configs[0].speed if speed is None else speed, start_time)
        for cfg in configs:
            cfg.speed = self.clock.speed
        needs_tls = any(c.tls_port is not None for c in configs)
        self._tls, self.cert_pem = server_context() if needs_tls else (None, None)
        self.routers = [VirtualRouter(cfg, self.clock, self._tls) for cfg in configs]
        self.control_port = control_port
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        self._control: asyncio.AbstractServer | None = None

    def __getitem__(self, name: str) -> VirtualRouter:
        for router in self.routers:
            if router.name == name:
                return router
        raise KeyError("no router named %r" % name)

    # -- async core ----------------------------------------------------------
    async def start(self) -> None:
        """Bind every router (and the control channel) on the running loop."""
        self.loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        for router in self.routers:
            await router.start()
        if self.control_port is not None:
            from .control import serve

            self._control = await serve(self, self.control_port)
            self.control_port = self._control.sockets[0].getsockname()[1]

    async def aclose(self) -> None:
        """Stop every router and the control channel."""
        if self._control is not None:
            self._control.close()
        for router in self.routers:
            await router.stop()

    async def serve_until_stopped(self) -> None:
        """Start, wait for stop(), then shut down."""
        await self.start()
        try:
            await self._stopped.wait()
        finally:
            await self.aclose()

    # -- thread runner -------------------------------------------------------
    def start_in_thread(self, timeout: float = 10.0) -> Fleet:
        """Run the fleet's loop in a daemon thread; returns once every port is bound."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            async def body() -> None:
                try:
                    await self.start()
                except BaseException as exc:  # noqa: BLE001 - reported to the starting thread
                    failure.append(exc)
                    ready.set()
                    return
                ready.set()
                try:
                    await self._stopped.wait()
                finally:
                    await self.aclose()

            asyncio.run(body())

        self._thread = threading.Thread(target=main, name="routeros-sim", daemon=True)
        self._thread.start()
        if not ready.wait(timeout):
            raise TimeoutError("simulator did not start within %.1fs" % timeout)
        if failure:
            self._thread.join(timeout)
            raise failure[0]
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the fleet started by start_in_thread (or serve_until_stopped)."""
        if self.loop is not None and self._stopped is not None and not self.loop.is_closed():
            self.loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def __enter__(self) -> Fleet:
        return self.start_in_thread()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def run_forever(self) -> None:
        """Serve in the foreground until SIGINT or SIGTERM."""

        async def main() -> None:
            loop = asyncio.get_running_loop()
            self._stopped = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, lambda: self._stopped.set())
            await self.start()
            log.info("simulator up: %d routers", len(self.routers))
            print(self.table(), flush=True)
            try:
                await self._stopped.wait()
            finally:
                await self.aclose()

        asyncio.run(main())

    # -- helpers -------------------------------------------------------------
    def advance(self, seconds: float) -> None:
        """Move simulated time forward and let every router catch up now."""
        self.clock.advance(seconds)
        for router in self.routers:
            with router.state.lock:
                router.state.sync(force=True)

    def table(self) -> str:
        """A printable table of routers and their ports."""
        lines = ["%-16s %-8s %-8s %-10s %-7s %s" % ("router", "api", "api-ssl", "version", "login", "radius-in")]
        for r in self.routers:
            lines.append("%-16s %-8s %-8s %-10s %-7s %s" % (
                r.name, r.port, r.tls_port or "-", r.config.version,
                "legacy" if r.config.legacy_login else "plain", r.radius_incoming_port or "-"))
        if self.control_port is not None:
            lines.append("control channel: 127.0.0.1:%s" % self.control_port)
        return "\n".join(lines)

    def save(self, path: str | Path) -> None:
        """Write every router's configuration to a JSON file."""
        data = {"format": 1, "routers": {r.name: r.state.to_dict() for r in self.routers}}
        Path(path).write_text(json.dumps(data, indent=1, sort_keys=True))

    def load(self, path: str | Path) -> None:
        """Restore routers saved by save(); routers missing from the file keep their state."""
        data: dict[str, Any] = json.loads(Path(path).read_text())
        for router in self.routers:
            if router.name in data.get("routers", {}):
                router.state.load_dict(data["routers"][router.name])
