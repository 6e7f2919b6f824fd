"""One API connection: login, dispatch, tags, streaming commands and /cancel."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any

from .commands import Command, Result, check_known, execute, monitor_rows, parse
from .menus import Trap
from .wire import SentenceDecoder, WireError, encode_sentence

if TYPE_CHECKING:
    from .router import VirtualRouter

log = logging.getLogger(__name__)
STREAM_VERBS = ("listen",)
HIGH_WATER = 64 * 1024


class Session:
    """Serve one client socket until it closes, quits or is cut by a fault."""

    def __init__(self, router: VirtualRouter, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self.router = router
        self.reader = reader
        self.writer = writer
        self.logged_in = False
        self.boots = 0  # the router's reboot count when this session logged in
        self.challenge: bytes | None = None
        self.streams: dict[str | None, asyncio.Task] = {}
        self.closed = False
        self._last_delivery: asyncio.Task | None = None  # the latest delayed reply, to keep order

    async def run(self) -> None:
        """Read sentences and answer them in order; a sentence runs when its terminator arrives."""
        decoder = SentenceDecoder()
        try:
            while not self.closed:
                data = await self.reader.read(65536)
                if not data:
                    break
                try:
                    sentences = decoder.feed(data)
                except WireError as exc:
                    log.debug("%s: %s", self.router.name, exc)
                    break
                for words in sentences:
                    if words:  # empty sentences are ignored, as RouterOS does
                        await self.handle(words)
                    if self.closed:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            self.abort()
            for task in list(self.streams.values()):
                task.cancel()
            if self.logged_in and self.boots == self.router.state.boots:  # a reboot forgot this login
                self.log_account("logged out")

    def abort(self) -> None:
        """Drop the connection without a goodbye."""
        self.closed = True
        if not self.writer.transport.is_closing():
            self.writer.transport.abort()

    # -- dispatch --------------------------------------------------------------
    async def handle(self, words: list[str]) -> None:
        """Answer one sentence."""
        router = self.router
        cmd = parse(words)
        router.stats.commands += 1
        if log.isEnabledFor(logging.DEBUG):
            shown = [w if not w.startswith("=password=") else "=password=***" for w in words[1:]]
            log.debug("%s <- %s %s", router.name, cmd.word, " ".join(shown))
        if cmd.word == "/login":
            await self.reply(cmd, self.login(cmd))
        elif cmd.word == "/quit":
            await self.fatal("session terminated on request")
        elif not self.logged_in:
            await self.fatal("not logged in")
        elif cmd.word == "/cancel":
            await self.cancel(cmd)
        elif router.fault_roll("trap_ratio"):
            router.stats.traps += 1
            await self.reply(cmd, Trap("failure: simulated fault", 4))
        elif cmd.verb in STREAM_VERBS or self.is_streaming(cmd):
            await self.start_stream(cmd)
        elif cmd.word == "/system/reboot":
            await self.reply(cmd, Result())
            asyncio.get_running_loop().create_task(router.reboot_async())
        else:
            state = router.state
            try:
                with state.lock:
                    state.sync()
                    outcome: Result | Trap = execute(state, cmd)
            except Trap as trap:
                outcome = trap
            await self.reply(cmd, outcome)

    @staticmethod
    def is_streaming(cmd: Command) -> bool:
        """monitor-traffic without =once=, and print with =follow= or =follow-only=."""
        if cmd.verb == "monitor-traffic":
            return "once" not in cmd.args
        return cmd.verb in ("print", "getall") and ("follow" in cmd.args or "follow-only" in cmd.args)

    def login(self, cmd: Command) -> Result | Trap:
        """Plain login (6.43+) or the legacy MD5 challenge, per the router's switch."""
        cfg, stats = self.router.config, self.router.stats
        name = cmd.args.get("name")
        if cfg.legacy_login:
            if name is not None and "response" in cmd.args and self.challenge is not None:
                digest = hashlib.md5(b"\x00" + cfg.password.encode() + self.challenge).hexdigest()
                if name == cfg.username and cmd.args["response"] == "00" + digest:
                    return self.login_ok()
                stats.login_failures += 1
                self.log_failure()
                return Trap("cannot log in")
            # Before 6.43 any other /login, even one carrying a password, just gets a challenge.
            self.challenge = os.urandom(16)
            return Result(ret=self.challenge.hex())
        if name == cfg.username and cmd.args.get("password") == cfg.password:
            return self.login_ok()
        stats.login_failures += 1
        self.log_failure(name)
        return Trap("invalid user name or password (6)")

    def log_failure(self, name: str | None = None) -> None:
        """The line RouterOS writes for a failed API login."""
        peer = self.writer.get_extra_info("peername") or ("127.0.0.1",)
        state = self.router.state
        with state.lock:
            state.sync(force=True)
            state.log.add("system,error,critical", "login failure for user %s from %s via api" % (
                name or self.router.config.username, peer[0]))

    def login_ok(self) -> Result:
        """Mark the session as logged in."""
        self.logged_in = True
        self.router.stats.logins += 1
        self.boots = self.router.state.boots
        self.log_account("logged in")
        return Result()

    def log_account(self, what: str) -> None:
        """A system,info,account line for this API user, as RouterOS writes on login and logout."""
        peer = self.writer.get_extra_info("peername") or ("127.0.0.1",)
        state = self.router.state
        with state.lock:
            state.sync(force=True)
            state.log.add("system,info,account", "user %s %s from %s via api" % (
                self.router.config.username, what, peer[0]))

    # -- replies ---------------------------------------------------------------
    def sentences(self, cmd: Command, outcome: Result | Trap) -> list[list[str]]:
        """Reply sentences; .tag is echoed on every one of a tagged command."""
        tag = [".tag=" + cmd.tag] if cmd.tag is not None else []
        if isinstance(outcome, Trap):
            trap = ["!trap", *tag]
            if outcome.category is not None:
                trap.append("=category=%d" % outcome.category)
            return [trap + ["=message=" + outcome.message], ["!done", *tag]]
        out = [["!re", *tag, *["=%s=%s" % kv for kv in row.items()]] for row in outcome.rows]
        if outcome.is_print and not outcome.rows and outcome.ret is None and self.router.config.sends_empty:
            out.append(["!empty", *tag])
        done = ["!done", *tag]
        if outcome.ret is not None:
            done.append("=ret=" + outcome.ret)
        out.append(done)
        return out

    async def reply(self, cmd: Command, outcome: Result | Trap) -> None:
        """Send a command's reply, honouring the latency, stall and drop faults."""
        router = self.router
        data = b"".join([encode_sentence(s) for s in self.sentences(cmd, outcome)])
        delay = router.reply_delay()
        if delay > 0 and cmd.tag is not None:
            # Latency is on the wire: tagged commands in flight overlap, as on a real link,
            # instead of adding up. Replies keep their order (each waits for the one before).
            previous = self._last_delivery
            self._last_delivery = asyncio.get_running_loop().create_task(self._deliver_later(data, delay, previous))
            return
        if delay > 0:
            await asyncio.sleep(delay)
        await self._deliver(data)

    async def _deliver_later(self, data: bytes, delay: float, previous: asyncio.Task | None) -> None:
        await asyncio.sleep(delay)
        if previous is not None:
            await previous
        await self._deliver(data)

    async def _deliver(self, data: bytes) -> None:
        """Write one reply, or cut it half way when the drop fault fires."""
        router = self.router
        if self.closed:
            return
        if router.fault_roll("drop_mid_reply"):
            router.stats.dropped += 1
            self.writer.write(data[: max(1, len(data) // 2)])
            self.abort()
            return
        await self.write(data)

    async def write(self, data: bytes) -> None:
        """Write bytes, waiting for the client only when it falls behind."""
        if self.closed:
            return
        self.writer.write(data)
        if self.writer.transport.get_write_buffer_size() > HIGH_WATER:
            await self.writer.drain()

    async def fatal(self, reason: str) -> None:
        """Send !fatal with its raw reason word and close."""
        await self.write(encode_sentence(["!fatal", reason]))
        self.closed = True
        self.writer.close()

    # -- streaming -------------------------------------------------------------
    async def start_stream(self, cmd: Command) -> None:
        """Run a never-ending command in its own task so other tags keep flowing."""
        state = self.router.state
        try:
            with state.lock:
                check_known(state, cmd)
                if cmd.verb == "monitor-traffic":
                    monitor_rows(state, cmd)  # validates the interface names up front
                elif cmd.path not in state.menus:
                    raise Trap("no such command or directory (%s)" % cmd.verb, 0)
        except Trap as trap:
            await self.reply(cmd, trap)
            return
        old = self.streams.pop(cmd.tag, None)
        if old is not None:
            old.cancel()
        body = self.monitor(cmd) if cmd.verb == "monitor-traffic" else self.listen(cmd)
        self.streams[cmd.tag] = asyncio.get_running_loop().create_task(self.stream(cmd, body))

    async def stream(self, cmd: Command, body: Coroutine[Any, Any, None]) -> None:
        """Wrap a stream so that cancellation answers interrupted, then !done."""
        try:
            await body
        except asyncio.CancelledError:
            if not self.closed:
                await self.write(b"".join(encode_sentence(s) for s in self.sentences(
                    cmd, Trap("interrupted", 2))))
        finally:
            if self.streams.get(cmd.tag) is asyncio.current_task():
                del self.streams[cmd.tag]

    async def emit(self, cmd: Command, row: dict[str, str]) -> None:
        """Send one !re of a stream, honouring .proplist."""
        if cmd.args.get(".proplist"):
            names = cmd.args[".proplist"].split(",")
            row = {n: row[n] for n in names if n in row} | ({".dead": "true"} if ".dead" in row else {})
        tag = [".tag=" + cmd.tag] if cmd.tag is not None else []
        await self.write(encode_sentence(["!re", *tag, *["=%s=%s" % kv for kv in row.items()]]))

    async def monitor(self, cmd: Command) -> None:
        """Stream /interface/monitor-traffic rows every interval until cancelled."""
        interval = float(cmd.args.get("interval") or 1.0)
        state = self.router.state
        while True:
            with state.lock:
                state.sync()
                rows = monitor_rows(state, cmd)
            for row in rows:
                await self.emit(cmd, row)
            await asyncio.sleep(interval)

    async def listen(self, cmd: Command) -> None:
        """Stream changes of a menu; removed items come as =.dead=true."""
        state, loop = self.router.state, asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()

        def listener(event: dict[str, str]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, event)

        menu = state.menus[cmd.path]
        with state.lock:
            first = menu.rows() if "follow" in cmd.args else []
            menu.listeners.append(listener)
        try:
            for row in first:
                await self.emit(cmd, row)
            while True:
                await self.emit(cmd, await queue.get())
        finally:
            with state.lock:
                menu.listeners.remove(listener)

    async def cancel(self, cmd: Command) -> None:
        """/cancel =tag=T interrupts T (or every stream when no tag is given)."""
        wanted = cmd.args.get("tag")
        keys = [k for k in self.streams if wanted is None or k == wanted]
        for key in keys:
            task = self.streams.pop(key)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        await self.reply(cmd, Result())
