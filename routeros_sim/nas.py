"""The RADIUS side of a virtual router: Access-Request, accounting and RFC 5176 Disconnect/CoA.

Everything is read from the router's own menus, as RouterOS does: `/radius` (servers, secrets,
ports, timeout, src-address), `/radius/incoming` (accept), `/ppp/aaa` (use-radius, accounting,
interim-update) and the hotspot server profile (use-radius, radius-accounting,
radius-interim-update). Packets are pyrad's, with the shared dictionary `isp/radius/dictionary`.
Network waits are real seconds; session times and interim intervals are simulated seconds.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from .values import parse_duration

if TYPE_CHECKING:
    from .population import Client
    from .router import VirtualRouter

log = logging.getLogger(__name__)
HOST = "127.0.0.1"
AUTH_TRIES = 3  # sends of one Access-Request to a server (waits: timeout, 2x, 4x) before the next server
ACCT_TRIES = 5
MIN_WAIT = 0.05  # seconds; a /radius timeout below this is raised to it
DAE_CACHE = 256  # answered Disconnect/CoA requests kept to answer a retransmission the same way
# Why a session ended (population reasons) -> Acct-Terminate-Cause.
TERMINATE = {"user-request": "User-Request", "logout": "User-Request", "session-timeout": "Session-Timeout",
             "uptime-limit": "Session-Timeout", "traffic-limit": "Session-Timeout",
             "admin-disconnect": "Admin-Reset", "radius-disconnect": "Admin-Reset", "user-removed": "Admin-Reset",
             "reboot": "Admin-Reboot", "shutdown": "NAS-Request"}
GIGA = 1 << 32


def dictionary_path() -> Path:
    """The shared pyrad dictionary: isp/radius/dictionary next to this package, else from the installed isp."""
    local = Path(__file__).resolve().parent.parent / "isp" / "radius" / "dictionary"
    if local.is_file():
        return local
    from importlib.resources import files

    return Path(str(files("isp.radius") / "dictionary"))


@functools.lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The parsed dictionary (read once per process)."""
    return Dictionary(str(dictionary_path()))


def reply_attributes(pkt: rp.Packet) -> dict[str, list[Any]]:
    """A packet's attributes as {name: [values]} (bytes as hex; Message-Authenticator left out)."""
    out: dict[str, list[Any]] = {}
    for key in pkt.keys():
        if key in ("Message-Authenticator", 80):
            continue
        try:
            values = pkt[key]
        except (KeyError, IndexError, TypeError, ValueError):
            continue
        out[str(key)] = [v.hex() if isinstance(v, bytes) else v for v in values]
    return out


def _first(attrs: dict[str, list[Any]], name: str) -> Any:
    values = attrs.get(name) or [None]
    return values[0]


class _RequestSocket(asyncio.DatagramProtocol):
    """One UDP socket for requests to RADIUS servers; answers are matched by packet id."""

    def __init__(self) -> None:
        self.transport: asyncio.DatagramTransport | None = None
        self.pending: dict[int, tuple[rp.Packet, tuple[str, int], asyncio.Future]] = {}
        self.next_id = int.from_bytes(os.urandom(1), "big")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def allocate(self) -> int | None:
        """A packet id not in flight on this socket, or None when all 256 are."""
        for _ in range(256):
            self.next_id = (self.next_id + 1) % 256
            if self.next_id not in self.pending:
                return self.next_id
        return None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram arrived."""
        if len(data) < 20:
            return
        entry = self.pending.get(data[1])
        if entry is None or entry[2].done() or addr[:2] != entry[1]:
            return
        request, _, future = entry
        try:
            reply = request.CreateReply(packet=data)
        except (rp.PacketError, KeyError, ValueError, TypeError):
            return
        if request.VerifyReply(reply, data):  # a reply with a bad authenticator is ignored
            future.set_result(reply)
        else:
            log.warning("RADIUS reply from %s:%s with a bad authenticator ignored", *addr[:2])


class _IncomingSocket(asyncio.DatagramProtocol):
    """The /radius/incoming listener (Disconnect-Request, CoA-Request)."""

    def __init__(self, nas: Nas) -> None:
        self.nas = nas
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """One datagram arrived."""
        answer = self.nas.dynamic_authorization(data, addr)
        if answer is not None and self.transport is not None:
            self.transport.sendto(answer, addr)


class Nas:
    """A router's RADIUS client and dynamic-authorization server, on the fleet's loop."""

    def __init__(self, router: VirtualRouter) -> None:
        self.router = router
        self.state = router.state
        self.port = router.config.radius_incoming_port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stats = {"access_requests": 0, "accepts": 0, "rejects": 0, "timeouts": 0,
                      "acct_sent": 0, "acct_failed": 0, "dae_received": 0, "dae_dropped": 0,
                      "disconnects": 0, "coas": 0, "naks": 0}
        self._sockets: dict[str, _RequestSocket] = {}
        self._incoming: dict[str, asyncio.DatagramTransport] = {}  # by local address
        self._tasks: set[asyncio.Task] = set()
        self._nonce = int.from_bytes(os.urandom(4), "big")  # makes Acct-Session-Id unique across restarts
        self._seq = 0
        self._answered: OrderedDict[tuple, bytes] = OrderedDict()
        self._in_order: dict[str, asyncio.Lock] = {}  # per Acct-Session-Id: Start, Interims, Stop one at a time

    # -- lifecycle -------------------------------------------------------------
    async def start(self) -> None:
        """Bind the incoming port and announce Accounting-On if accounting is configured."""
        self.loop = asyncio.get_running_loop()
        transport, _ = await self.loop.create_datagram_endpoint(lambda: _IncomingSocket(self),
                                                                local_addr=(HOST, self.port))
        self._incoming[HOST] = transport
        self.port = transport.get_extra_info("sockname")[1]
        await self.sync_listeners()
        self.accounting_onoff("Accounting-On")

    def listeners_changed(self) -> None:
        """/radius changed: listen on every loopback src-address too (caller may hold the lock)."""
        self.spawn(self.sync_listeners())

    async def sync_listeners(self) -> None:
        """The incoming port on 127.0.0.1 and on each loopback `src-address` (the router's stand-in tunnel
        address, where the panel sends Disconnect/CoA)."""
        with self.state.lock:
            wanted = {str(e.get("src-address")) for e in self.state.menus["/radius"].items.values()
                      if str(e.get("src-address", "")).startswith("127.")} | {HOST}
        assert self.loop is not None
        for address in wanted - set(self._incoming):
            try:
                transport, _ = await self.loop.create_datagram_endpoint(lambda: _IncomingSocket(self),
                                                                        local_addr=(address, self.port))
            except OSError as exc:
                log.warning("%s: cannot listen for Disconnect/CoA on %s:%s: %s", self.router.name, address,
                            self.port, exc)
                continue
            self._incoming[address] = transport
        for address in set(self._incoming) - wanted:
            self._incoming.pop(address).close()

    async def stop(self) -> None:
        """Say Accounting-Off (waiting up to 2 s for the answer), then close every socket."""
        if self.loop is None:
            return
        self.accounting_onoff("Accounting-Off")
        await asyncio.sleep(0)  # let the spawned sends become tasks
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=2.0)
        for task in list(self._tasks):
            task.cancel()
        for transport in self._incoming.values():
            transport.close()
        self._incoming.clear()
        for sock in self._sockets.values():
            if sock.transport is not None:
                sock.transport.close()
        self._sockets.clear()
        self.loop = None

    # -- configuration ---------------------------------------------------------
    def servers(self, service: str) -> list[dict[str, Any]]:
        """Enabled /radius entries serving 'ppp' or 'hotspot', in order (caller holds the lock)."""
        return [dict(e) for e in self.state.menus["/radius"].items.values()
                if e.get("disabled") != "true" and service in str(e.get("service", "")).split(",")]

    def hotspot_profile(self) -> dict[str, Any]:
        """The server profile of the (first) hotspot server."""
        profiles = self.state.menus["/ip/hotspot/profile"]
        server = next(iter(self.state.menus["/ip/hotspot"].items.values()), {})
        return profiles.by_name(str(server.get("profile", "default"))) or profiles.by_name("default") or {}

    def wants(self, kind: str) -> bool:
        """Whether a login of this kind that no local account matches goes to RADIUS."""
        service = "ppp" if kind == "ppp" else "hotspot"
        if self.loop is None or not self.servers(service):
            return False
        if kind == "ppp":
            return self.state.settings["/ppp/aaa"].get("use-radius") == "true"
        return self.hotspot_profile().get("use-radius") == "true"

    def policy(self, kind: str, attrs: dict[str, list[Any]]) -> tuple[bool, float | None]:
        """(accounting on, interim interval in simulated seconds or None) for a new RADIUS session."""
        received = _first(attrs, "Acct-Interim-Interval")
        if kind == "ppp":
            aaa = self.state.settings["/ppp/aaa"]
            configured = parse_duration(aaa.get("interim-update")) or None
            # Unverified: a received Acct-Interim-Interval overrides /ppp aaa interim-update.
            return aaa.get("accounting") == "true", float(received) if received else configured
        profile = self.hotspot_profile()
        setting = str(profile.get("radius-interim-update", "received"))
        interim = (float(received) if received else None) if setting == "received" \
            else (parse_duration(setting) or None)
        return profile.get("radius-accounting") == "true", interim

    def accounting_enabled(self) -> list[str]:
        """Services with RADIUS accounting switched on."""
        out = []
        aaa = self.state.settings["/ppp/aaa"]
        if aaa.get("use-radius") == "true" and aaa.get("accounting") == "true":
            out.append("ppp")
        profile = self.hotspot_profile()
        if profile.get("use-radius") == "true" and profile.get("radius-accounting") == "true":
            out.append("hotspot")
        return out

    def next_session_id(self) -> str:
        """A fresh Acct-Session-Id: 8 hex digits of boot nonce, 8 of sequence."""
        self._seq += 1
        return "%08X%08X" % (self._nonce, self._seq)

    # -- background work -------------------------------------------------------
    def spawn(self, coro: Coroutine) -> None:
        """Run coro on the router's loop, from any thread."""
        loop = self.loop
        if loop is None or loop.is_closed():
            coro.close()
            return
        # Always through the loop's queue, even from the loop itself: tasks then start in spawn order.
        loop.call_soon_threadsafe(self._task, coro)

    def _task(self, coro: Coroutine) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _socket(self, source: str) -> _RequestSocket:
        """The request socket bound to source (falls back to 127.0.0.1 when source is not local)."""
        key = source if source.startswith("127.") else HOST
        sock = self._sockets.get(key)
        if sock is None:
            assert self.loop is not None
            _, sock = await self.loop.create_datagram_endpoint(_RequestSocket, local_addr=(key, 0))
            self._sockets[key] = sock
        return sock

    async def send(self, entry: dict[str, Any], port: int, pkt: rp.Packet, tries: int) -> rp.Packet | None:
        """Send a request to one server, retransmitting with a doubling wait; the verified reply or None."""
        sock = await self._socket(str(entry.get("src-address") or HOST))
        ident = sock.allocate()
        while ident is None:  # 256 requests in flight on this socket: wait for one to finish
            await asyncio.sleep(0.05)
            ident = sock.allocate()
        pkt.id = ident
        raw = pkt.RequestPacket()
        addr = (str(entry["address"]), int(port))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        sock.pending[ident] = (pkt, addr, future)
        wait = max(parse_duration(str(entry.get("timeout") or "300ms")) or 0.3, MIN_WAIT)
        try:
            for attempt in range(tries):
                assert sock.transport is not None
                sock.transport.sendto(raw, addr)
                try:
                    return await asyncio.wait_for(asyncio.shield(future), wait * 2 ** attempt)
                except TimeoutError:
                    continue
            return None
        finally:
            sock.pending.pop(ident, None)

    # -- authentication --------------------------------------------------------
    def authenticate(self, client: Client) -> None:
        """Ask the servers about a client's login (caller holds the lock); the answer comes back later."""
        self.spawn(self._authenticate(client))

    def _nas_ids(self, entry: dict[str, Any]) -> dict[str, Any]:
        src = str(entry.get("src-address") or "0.0.0.0")
        return {"NAS-IP-Address": src if src != "0.0.0.0" else HOST, "NAS-Identifier": self.state.identity}

    def _port_attrs(self, kind: str, mac: str, address: str | None, nas_port: int) -> dict[str, Any]:
        """What says where a login comes from (Access-Request and accounting alike)."""
        if kind == "ppp":
            out = {"NAS-Port-Type": "Ethernet", "Service-Type": "Framed-User", "Framed-Protocol": "PPP",
                   "Called-Station-Id": "pppoe-service", "NAS-Port-Id": "ether2"}
        else:
            server = next(iter(self.state.menus["/ip/hotspot"].items.values()), {})
            out = {"NAS-Port-Type": "Wireless-802.11", "Service-Type": "Login-User",
                   "Called-Station-Id": str(server.get("name", "hotspot1")),
                   "NAS-Port-Id": str(server.get("interface", "bridge-hotspot"))}
        out.update({"Calling-Station-Id": mac, "NAS-Port": nas_port})
        if address:
            out["Framed-IP-Address"] = address
        return out

    async def _authenticate(self, client: Client) -> None:
        with self.state.lock:
            service = "ppp" if client.kind == "ppp" else "hotspot"
            entries = self.servers(service)
            method = client.method or ("chap" if client.kind == "ppp" else "pap")
            client.nas_port = client.nas_port or self.state.next_session()
            base = self._port_attrs(client.kind, client.mac, client.address if client.kind == "hotspot" else None,
                                    client.nas_port)
        name, password_text = client.credentials()
        password = password_text.encode()
        reply = None
        for entry in entries:
            pkt = rp.AuthPacket(secret=str(entry.get("secret", "")).encode(), dict=dictionary())
            pkt["User-Name"] = name
            for key, value in {**base, **self._nas_ids(entry)}.items():
                pkt[key] = value
            if method == "chap":
                chap_id = os.urandom(1)
                challenge = os.urandom(16)
                pkt["CHAP-Challenge"] = challenge
                pkt["CHAP-Password"] = chap_id + hashlib.md5(chap_id + password + challenge).digest()
            else:
                pkt["User-Password"] = pkt.PwCrypt(password)
            pkt.message_authenticator = True  # RouterOS 7.15+ signs its requests too
            self.stats["access_requests"] += 1
            reply = await self.send(entry, int(entry.get("authentication-port") or 1812), pkt, AUTH_TRIES)
            if reply is not None:
                break
        with self.state.lock:
            self.state.sync(force=True)
            self.finish_login(client, reply, method)

    def finish_login(self, client: Client, reply: rp.Packet | None, method: str) -> None:
        """Apply an Access-Accept (a session starts) or a Reject/no answer (caller holds the lock)."""
        population, t = self.state.population, self.state.last_sync
        client.pending = False
        attrs = reply_attributes(reply) if reply is not None else {}
        result: dict[str, Any] = {"user": client.credentials()[0], "kind": client.kind, "via": "radius",
                                  "method": method, "reply": attrs, "session": None}
        if reply is not None and reply.code == rp.AccessAccept:
            self.stats["accepts"] += 1
            session = population.start_radius(client, t, attrs, method)
            result.update(accepted=True, reason=None, session=population.describe(session))
        else:
            if reply is None:
                self.stats["timeouts"] += 1
                reason = "no answer from any RADIUS server"
            else:
                self.stats["rejects"] += 1
                reason = "rejected by the RADIUS server"
            result.update(accepted=False, reason=reason)
            population.refused(client, t)
        client.result = result
        for waiter in client.waiters:
            if not waiter.done():
                waiter.get_loop().call_soon_threadsafe(_resolve, waiter, result)
        client.waiters.clear()

    # -- accounting ------------------------------------------------------------
    def account(self, s: dict[str, Any], status: str, cause: str | None = None) -> None:
        """Send Start / Interim-Update / Stop for a session with the counters of now (caller holds the lock)."""
        if not s.get("_acct"):
            return
        client = s["_client"]
        service = "ppp" if client.kind == "ppp" else "hotspot"
        entries = self.servers(service)
        if not entries:
            return
        attrs: dict[str, Any] = {"Acct-Status-Type": status, "User-Name": str(s["_account"]["name"]),
                                 "Acct-Session-Id": s["_acct_id"], "Acct-Authentic": "RADIUS",
                                 "Acct-Delay-Time": 0}
        attrs.update(self._port_attrs(client.kind, client.mac, str(s["address"]), s["_nas_port"]))
        if status != "Start":
            up, down = int(s["_in"]), int(s["_out"])
            attrs.update({"Acct-Session-Time": int(s["_up"]),
                          "Acct-Input-Octets": up % GIGA, "Acct-Input-Gigawords": up // GIGA,
                          "Acct-Output-Octets": down % GIGA, "Acct-Output-Gigawords": down // GIGA,
                          "Acct-Input-Packets": up // 900, "Acct-Output-Packets": down // 1200})
        if status == "Stop":
            attrs["Acct-Terminate-Cause"] = TERMINATE.get(cause or "", "NAS-Request")
        if s.get("_class"):
            attrs["Class"] = s["_class"]
        self.spawn(self._account(entries, attrs))

    def accounting_onoff(self, status: str) -> None:
        """Accounting-On (router start) or Accounting-Off (router stop), once per server (caller may hold the lock)."""
        with self.state.lock:
            seen, targets = set(), []
            for service in self.accounting_enabled():
                for entry in self.servers(service)[:1]:
                    key = (entry.get("address"), entry.get("accounting-port"), entry.get("secret"))
                    if key not in seen:
                        seen.add(key)
                        targets.append(entry)
        for entry in targets:
            attrs = {"Acct-Status-Type": status, "Acct-Session-Id": "%08X%08X" % (self._nonce, 0),
                     "Acct-Authentic": "RADIUS", "Acct-Delay-Time": 0}
            self.spawn(self._account([entry], attrs))

    async def _account(self, entries: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
        # One session's packets leave in order, each after the previous one's answer (a late Interim
        # must never land after the Stop); tasks start in the order they were spawned, and the lock is FIFO.
        session_id = str(attrs.get("Acct-Session-Id", ""))
        lock = self._in_order.setdefault(session_id, asyncio.Lock())
        try:
            async with lock:
                await self._account_now(entries, attrs)
        finally:
            if attrs.get("Acct-Status-Type") == "Stop" and not lock.locked():
                self._in_order.pop(session_id, None)

    async def _account_now(self, entries: list[dict[str, Any]], attrs: dict[str, Any]) -> None:
        for entry in entries:
            pkt = rp.AcctPacket(secret=str(entry.get("secret", "")).encode(), dict=dictionary())
            for key, value in {**attrs, **self._nas_ids(entry)}.items():
                pkt[key] = bytes.fromhex(value) if key == "Class" else value
            reply = await self.send(entry, int(entry.get("accounting-port") or 1813), pkt, ACCT_TRIES)
            if reply is not None:
                self.stats["acct_sent"] += 1
                return
        self.stats["acct_failed"] += 1
        log.warning("%s: accounting %s for %s got no answer", self.router.name, attrs.get("Acct-Status-Type"),
                    attrs.get("User-Name", "the router"))

    # -- Disconnect and CoA (RFC 5176) -----------------------------------------
    def dynamic_authorization(self, data: bytes, addr: tuple[str, int]) -> bytes | None:
        """Answer a Disconnect-Request or CoA-Request; None drops it silently (bad secret, not accepted)."""
        self.stats["dae_received"] += 1
        if len(data) < 20 or data[0] not in (rp.DisconnectRequest, rp.CoARequest) or self.router.is_down():
            self.stats["dae_dropped"] += 1
            return None
        key = (addr[:2], data[1], data[4:20])
        if key in self._answered:  # a retransmission: the same answer, not a second action
            return self._answered[key]
        with self.state.lock:
            if self.state.settings["/radius/incoming"].get("accept") != "true":
                self.stats["dae_dropped"] += 1
                return None
            entries = [e for e in self.state.menus["/radius"].items.values() if e.get("disabled") != "true"]
        # The source must be a configured server; on loopback every server is 127.0.0.1 anyway, so a
        # request from an address no entry names is still checked against every entry's secret.
        same = [e for e in entries if e.get("address") == addr[0]] or entries
        request = None
        for secret in dict.fromkeys(str(e.get("secret", "")).encode() for e in same):
            try:
                candidate = rp.CoAPacket(packet=data, secret=secret, dict=dictionary())
            except (rp.PacketError, KeyError, ValueError, TypeError):
                break
            if not candidate.VerifyCoARequest():
                continue
            if candidate.message_authenticator and not candidate.verify_message_authenticator():
                continue
            request = candidate
            break
        if request is None:
            self.stats["dae_dropped"] += 1
            log.info("%s: Disconnect/CoA from %s:%s dropped (no matching secret)", self.router.name, *addr[:2])
            return None
        answer = self._apply(request).ReplyPacket()
        self._answered[key] = answer
        while len(self._answered) > DAE_CACHE:
            self._answered.popitem(last=False)
        return answer

    def _apply(self, request: rp.Packet) -> rp.Packet:
        disconnect = request.code == rp.DisconnectRequest
        reply = request.CreateReply()
        attrs = reply_attributes(request)
        ident = {k: str(_first(attrs, k)) for k in ("User-Name", "Acct-Session-Id", "Framed-IP-Address") if k in attrs}
        if not ident:
            return self._nak(reply, disconnect, "Missing-Attribute")
        with self.state.lock:
            self.state.sync(force=True)
            population, t = self.state.population, self.state.last_sync
            matches = [s for s in population.sessions() if population.matches(s, ident)]
            if not matches:
                return self._nak(reply, disconnect, "Session-Context-Not-Found")
            for s in matches:
                if disconnect:
                    population.end(s, t, "radius-disconnect")
                else:
                    population.change(s, attrs)
        self.stats["disconnects" if disconnect else "coas"] += 1
        return reply

    def _nak(self, reply: rp.Packet, disconnect: bool, cause: str) -> rp.Packet:
        self.stats["naks"] += 1
        reply.code = rp.DisconnectNAK if disconnect else rp.CoANAK
        reply["Error-Cause"] = cause
        return reply


def _resolve(future: asyncio.Future, result: dict[str, Any]) -> None:
    if not future.done():
        future.set_result(result)
