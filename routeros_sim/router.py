"""A virtual router: its listeners (api, api-ssl), sessions, stats and fault behaviour."""

from __future__ import annotations

import asyncio
import logging
import random
import ssl
import time
import zlib
from dataclasses import asdict, dataclass
from typing import Any

from .clock import SimClock
from .config import RouterConfig
from .nas import Nas
from .ondemand import OnDemand
from .session import Session
from .state import RouterState

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
WATCH_EVERY = 0.05  # seconds between checks of the down/flap switches
SYNC_EVERY = 0.5  # seconds between background steps of a router that uses RADIUS or has a listen stream
IDLE_SYNC_EVERY = 5.0  # seconds between background steps of any other router (reads catch up first)


@dataclass
class RouterStats:
    """Counters read by tests and the control channel."""

    logins: int = 0
    login_failures: int = 0
    commands: int = 0
    connections_open: int = 0
    connections_total: int = 0
    refused: int = 0  # accepted then closed: max-sessions or a down switch thrown mid-accept
    dropped: int = 0
    traps: int = 0
    stalls: int = 0


class VirtualRouter(OnDemand):
    """One simulated MikroTik; all socket work happens on the fleet's event loop."""

    def __init__(self, config: RouterConfig, clock: SimClock, tls: ssl.SSLContext | None) -> None:
        self.config = config
        self.name = config.name
        self.faults = config.faults
        self.port = config.port
        self.tls_port = config.tls_port
        self.radius_incoming_port = config.radius_incoming_port
        self.state = RouterState(config, clock)
        self.nas = Nas(self)
        self.stats = RouterStats()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._tls = tls if config.tls_port is not None else None
        self._servers: dict[str, asyncio.AbstractServer] = {}
        self._sessions: dict[str, set[Session]] = {"api": set(), "api-ssl": set()}
        self._rng = random.Random("%s:%s:faults" % (config.seed, config.name))
        self._down_until = 0.0
        self._switch: asyncio.Task | None = None  # going down or coming up after a switch was thrown
        self._next_sync = 0.0  # time.monotonic() of the next background step
        self._conn_tasks: set[asyncio.Task] = set()

    # -- faults ----------------------------------------------------------------
    def fault_roll(self, name: str) -> bool:
        """True with the probability held by fault switch name."""
        chance = float(getattr(self.faults, name) or 0.0)
        return chance > 0 and self._rng.random() < chance

    def reply_delay(self) -> float:
        """Seconds to wait before a reply: latency, jitter and maybe a stall."""
        f = self.faults
        delay = (f.latency_ms + (self._rng.uniform(-f.jitter_ms, f.jitter_ms) if f.jitter_ms else 0)) / 1000
        if f.stall_ms and self._rng.random() < f.stall_ratio:
            self.stats.stalls += 1
            delay += f.stall_ms / 1000
        return max(0.0, delay)

    def is_down(self) -> bool:
        """Whether connections are refused right now."""
        return self.faults.is_down() or time.monotonic() < self._down_until

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Bind the listeners (unless down) and start the background tasks."""
        self.loop = asyncio.get_running_loop()
        await self.nas.start()
        self.radius_incoming_port = self.nas.port
        self.state.nas = self.nas
        if not self.is_down():
            await self._listen()
        elif not self.port or (self._tls and not self.tls_port):
            # Reserve concrete ports even when starting down, so clients know where to knock.
            await self._listen()
            await self._unlisten()
        Heartbeat.join(self)

    async def stop(self) -> None:
        """Close listeners, sessions and background tasks (and say Accounting-Off)."""
        await self.nas.stop()
        self.state.nas = None
        await Heartbeat.leave(self)
        await self._unlisten()
        # Let aborted sessions finish their cleanup before the loop goes away.
        await asyncio.gather(*self._conn_tasks, return_exceptions=True)

    def reboot(self, downtime: float = 0.0) -> None:
        """Reboot from any thread: drop sessions, clear active entries, renumber .ids."""
        if self.loop is None:
            self.state.reboot()
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.loop.create_task(self.reboot_async(downtime))
        else:
            asyncio.run_coroutine_threadsafe(self.reboot_async(downtime), self.loop).result(10)

    async def reboot_async(self, downtime: float = 0.0) -> None:
        """The reboot itself, on the event loop."""
        log.info("%s: rebooting", self.name)
        self._down_until = time.monotonic() + downtime
        self._kill_sessions()
        self.state.reboot()  # RADIUS sessions end with a Stop (Admin-Reboot)
        self.nas.accounting_onoff("Accounting-On")
        if downtime:
            await self._unlisten()

    def login(self, user: str, kind: str = "hotspot", mac: str | None = None,
              redial: bool = False) -> str | None:
        """A device logs in with the named account now; returns why it was refused, or None.

        kind is "hotspot" or "ppp"; mac is the device's MAC (checked against a secret's caller-id);
        a redial device dials the same account again within seconds after any drop or refusal.
        """
        with self.state.lock:
            self.state.sync(force=True)
            return self.state.population.login_as(user, self.state.last_sync, kind, mac, redial)

    # -- RADIUS ----------------------------------------------------------------
    def use_radius(self, address: str = "127.0.0.1", secret: str = "", *, auth_port: int = 1812,
                   acct_port: int = 1813, service: str = "ppp,hotspot", src_address: str = "0.0.0.0",
                   timeout: str = "300ms", interim: str = "5m", hotspot_interim: str = "received",
                   accept: bool = True) -> None:
        """Configure RADIUS as the onboarding script does: /radius, /radius/incoming, /ppp/aaa, hotspot profiles."""
        with self.state.lock:
            self.state.add("/radius", address=address, secret=secret, service=service,
                           authentication_port=auth_port, accounting_port=acct_port,
                           src_address=src_address, timeout=timeout)
            self.state.configure("/radius/incoming", accept=accept)
            self.state.configure("/ppp/aaa", use_radius=True, accounting=True, interim_update=interim)
            profiles = self.state.menu("/ip/hotspot/profile")
            for profile in list(profiles.items.values()):
                profiles.update(profile, {"use-radius": "yes", "radius-accounting": "yes",
                                          "radius-interim-update": hotspot_interim})

    async def radius_login_async(self, user: str, password: str, kind: str = "hotspot", mac: str | None = None,
                                 method: str | None = None, redial: bool = False,
                                 timeout: float = 10.0) -> dict[str, Any]:
        """A device logs in with user/password now: a local account first, else RADIUS; returns the outcome."""
        if kind not in ("hotspot", "ppp"):
            raise ValueError("kind is hotspot or ppp")
        if method not in (None, "pap", "chap"):
            raise ValueError("method is pap or chap")
        loop = asyncio.get_running_loop()
        with self.state.lock:
            self.state.sync(force=True)
            population = self.state.population
            client = population.device(user, kind, mac, redial, password, method)
            waiter = loop.create_future()
            client.waiters.append(waiter)
            population.login(client, self.state.last_sync)
            if not client.pending:  # decided locally (an account on the router, or no RADIUS)
                client.waiters.clear()
                if client.session is not None:
                    return {"user": user, "kind": kind, "via": "local", "accepted": True, "reason": None,
                            "reply": {}, "session": population.describe(client.session)}
                account = population.bound_account(client)
                reason = (population.refusal(client, account) if account else None) or (
                    "no such user" if account is None else "refused")
                return {"user": user, "kind": kind, "via": "local", "accepted": False, "reason": reason,
                        "reply": {}, "session": None}
        try:
            return await asyncio.wait_for(waiter, timeout)
        except TimeoutError:
            return {"user": user, "kind": kind, "via": "radius", "accepted": False,
                    "reason": "no answer within %gs" % timeout, "reply": {}, "session": None}

    def radius_login(self, user: str, password: str, kind: str = "hotspot", mac: str | None = None,
                     method: str | None = None, redial: bool = False, timeout: float = 10.0) -> dict[str, Any]:
        """Blocking radius_login_async from any thread but the fleet's loop.

        Returns {"accepted", "via" ("local"/"radius"), "reason", "reply" ({attribute: [values]}),
        "session" (see sessions())}. A redial device keeps dialling after a refusal or a disconnect.
        """
        if self.loop is None:
            raise RuntimeError("router %s is not running" % self.name)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            raise RuntimeError("on the fleet's loop, await radius_login_async instead")
        coro = self.radius_login_async(user, password, kind, mac, method, redial, timeout)
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout + 5)

    def sessions(self) -> list[dict[str, Any]]:
        """Every live session (hotspot and PPP, local and RADIUS) as plain data."""
        with self.state.lock:
            self.state.sync(force=True)
            population = self.state.population
            return [population.describe(s) for s in population.sessions()]

    def logout(self, user: str | None = None, session_id: str | None = None, address: str | None = None) -> int:
        """End the matching sessions as the user's own logout (Stop with User-Request); returns how many."""
        ident = {k: v for k, v in (("User-Name", user), ("Acct-Session-Id", session_id),
                                   ("Framed-IP-Address", address)) if v}
        if not ident:
            raise ValueError("logout needs a user, a session id or an address")
        with self.state.lock:
            self.state.sync(force=True)
            population = self.state.population
            ended = [s for s in population.sessions() if population.matches(s, ident)]
            for s in ended:
                population.end(s, self.state.last_sync, "logout")
            return len(ended)

    def snapshot(self) -> dict[str, Any]:
        """Name, ports, stats and faults as plain data."""
        return {"name": self.name, "port": self.port, "tls_port": self.tls_port,
                "radius_incoming_port": self.radius_incoming_port,
                "version": self.config.version, "down": self.is_down(),
                "stats": asdict(self.stats), "radius": dict(self.nas.stats), "faults": self.faults.as_dict()}

    # -- internals -------------------------------------------------------------
    async def _listen(self) -> None:
        srv = await asyncio.start_server(lambda r, w: self._accept("api", r, w), HOST, self.port,
                                         reuse_address=True)
        self._servers["api"] = srv
        self.port = srv.sockets[0].getsockname()[1]
        if self._tls is not None:
            srv = await asyncio.start_server(lambda r, w: self._accept("api-ssl", r, w), HOST,
                                             self.tls_port, ssl=self._tls, reuse_address=True)
            self._servers["api-ssl"] = srv
            self.tls_port = srv.sockets[0].getsockname()[1]

    async def _unlisten(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for srv in servers:
            srv.close()
        self._kill_sessions()
        for srv in servers:
            await srv.wait_closed()

    def _kill_sessions(self) -> None:
        for group in self._sessions.values():
            for session in list(group):
                session.abort()

    async def _accept(self, service: str, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        group = self._sessions[service]
        if self.is_down() or len(group) >= self.config.max_sessions:
            # Accept-then-close, as RouterOS does past max-sessions (unverified: no capture seen).
            self.stats.refused += 1
            writer.transport.abort()
            return
        session = Session(self, reader, writer)
        task = asyncio.current_task()
        self._conn_tasks.add(task)
        group.add(session)
        self.stats.connections_open += 1
        self.stats.connections_total += 1
        try:
            await session.run()
        finally:
            group.discard(session)
            self._conn_tasks.discard(task)
            self.stats.connections_open -= 1

    def beat(self, now: float) -> None:
        """Called by the loop's heartbeat every WATCH_EVERY: apply the down/flap switches, step when due."""
        down = self.is_down()
        if down == bool(self._servers) and (self._switch is None or self._switch.done()):
            self._switch = self.loop.create_task(self._apply_down())
        if now >= self._next_sync:
            with self.state.lock:
                self.state.sync()
            busy = bool(self.state.menus["/radius"].items) or any(m.listeners for m in self.state.menus.values())
            self._next_sync = now + (SYNC_EVERY if busy else IDLE_SYNC_EVERY)

    async def _apply_down(self) -> None:
        # Polling keeps the switches plain attributes that any thread may set without a lock.
        down = self.is_down()
        if down and self._servers:
            log.info("%s: going down", self.name)
            await self._unlisten()
        elif not down and not self._servers:
            log.info("%s: coming up on port %s", self.name, self.port)
            try:
                await self._listen()
            except OSError as exc:
                log.warning("%s: cannot listen again: %s", self.name, exc)


class Heartbeat:
    """One task per event loop for all its routers: the fault watch and the background steps.

    A task per router waking 20 times a second was most of an idle fleet's CPU. A router steps every
    SYNC_EVERY while it uses RADIUS (accounting is sent as time passes) or has a listen stream, else every
    IDLE_SYNC_EVERY; every API command and Python call catches up first anyway, so a router read often
    never looks stale.
    """

    beats: dict[asyncio.AbstractEventLoop, Heartbeat] = {}

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.routers: list[VirtualRouter] = []
        self.task = loop.create_task(self.run())

    @classmethod
    def join(cls, router: VirtualRouter) -> None:
        """Start beating for router (on its loop)."""
        loop = router.loop
        heart = cls.beats.get(loop) or cls.beats.setdefault(loop, cls(loop))
        # Spread the routers' steps over the interval instead of stepping them all in one loop pass.
        router._next_sync = time.monotonic() + SYNC_EVERY * (zlib.crc32(router.name.encode()) % 1000) / 1000
        heart.routers.append(router)

    @classmethod
    async def leave(cls, router: VirtualRouter) -> None:
        """Stop beating for router; the task ends with the loop's last router."""
        heart = cls.beats.get(router.loop)
        if heart is None or router not in heart.routers:
            return
        heart.routers.remove(router)
        if router._switch is not None:
            router._switch.cancel()
            await asyncio.gather(router._switch, return_exceptions=True)
        if not heart.routers:
            del cls.beats[router.loop]
            heart.task.cancel()
            await asyncio.gather(heart.task, return_exceptions=True)

    async def run(self) -> None:
        """Beat every router every WATCH_EVERY seconds."""
        while True:
            await asyncio.sleep(WATCH_EVERY)
            now = time.monotonic()
            for router in list(self.routers):
                try:
                    router.beat(now)
                except Exception:  # one router's bug must not stop the others' clocks
                    log.exception("%s: background step failed", router.name)
