"""Opening RouterOS API connections with address failover, and classifying errors."""
from __future__ import annotations

import socket
import ssl
import time
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

import librouteros
from librouteros.api import Api
from librouteros.exceptions import ConnectionClosed, FatalError, LibRouterosError, MultiTrapError, ProtocolError, TrapError
from librouteros.protocol import ApiProtocol, decode_length, determine_length, parse_word

# The address the connection in use reached (set by runtime.guarded around the work): a probe reports which of the
# router's addresses answered, so "Check" over the tunnel can tell the tunnel from a fallback to the LAN address.
CONNECTED_ADDRESS: ContextVar[str] = ContextVar("connected_address", default="")

if TYPE_CHECKING:
    from isp.models import Router


class RouterError(Exception):
    """A failure talking to a router, with a kind an operator can act on."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(f"{kind}: {message}")
        self.kind = kind  # auth | refused | timeout | tls | unreachable | closed | protocol | trap | config
        self.message = message


@dataclass(frozen=True)
class RouterSpec:
    """Everything a worker needs to reach one router (password already decrypted)."""

    id: int
    name: str
    addresses: tuple[str, ...]
    port: int
    username: str
    password: str = ""
    tls: bool = False
    verify_tls: bool = False
    max_sessions: int = 20

    @property
    def fingerprint(self) -> str:
        """Identifies the target and credentials: an edited router gets fresh connections."""
        import hashlib

        parts = [",".join(self.addresses), str(self.port), self.username, self.password, str(self.tls), str(self.verify_tls)]
        raw = "|".join(parts)
        return hashlib.sha256(raw.encode()).hexdigest()[:16]

    def __repr__(self) -> str:  # never print the password
        return f"RouterSpec(id={self.id}, name={self.name!r}, addresses={self.addresses}, port={self.port})"

    @classmethod
    def from_model(cls, router: Router) -> RouterSpec:
        """Build from a Router row, decrypting its password; refuses if the row now points elsewhere."""
        from isp.crypto import decrypt_bound

        password, bound = decrypt_bound(router.password_encrypted)
        # The password was sealed with the place it may be sent: a row whose address, port, username or
        # TLS changed without re-entering it must never carry it there (a legacy token has no binding).
        if bound is not None and bound != router.endpoint:
            raise ValueError("credentials are bound to another address; re-enter the password")
        return cls(
            id=router.id, name=router.name, addresses=tuple(router.addresses), port=router.api_port,
            username=router.username, password=password, tls=router.use_tls,
            verify_tls=router.verify_tls, max_sessions=router.max_sessions,
        )


# What a faulty router may not push at a worker (librouteros reads anything into memory, for ever):
MAX_WORD_BYTES = 4 * 1024 * 1024  # one attribute value; RouterOS never sends a word near this
MAX_SENTENCE_WORDS = 10_000  # one row; a menu has at most a few hundred attributes
REPLY_DEADLINE = 300.0  # seconds one command's reply may keep streaming (ROUTER_REPLY_DEADLINE)
REPLY_TYPES = {"!re", "!done", "!trap", "!fatal", "!empty"}
NO_MESSAGE = "(no message from the router)"


class BoundedProtocol(ApiProtocol):
    """librouteros' sentence reader with limits, and a clear ProtocolError for each malformed reply."""

    deadline: float = REPLY_DEADLINE

    def writeSentence(self, cmd: str, *words: str) -> None:  # noqa: N802 - librouteros' name
        """Send, and start the clock of the reply."""
        super().writeSentence(cmd, *words)
        self._reply_started = time.monotonic()

    def readSentence(self) -> tuple[str, tuple[str, ...]]:  # noqa: N802
        """One sentence: its reply word and attribute words; !fatal closes the connection."""
        words: list[str] = []
        while (word := self.readWord()) != "":
            words.append(word)
            if len(words) > MAX_SENTENCE_WORDS:
                raise ProtocolError(f"the router sent a sentence of more than {MAX_SENTENCE_WORDS:,} words")
        if not words:
            raise ProtocolError("the router sent an empty sentence")
        reply, rest = words[0], tuple(words[1:])
        if reply not in REPLY_TYPES:
            raise ProtocolError(f"unknown reply type {reply[:40]!r}")
        if reply == "!fatal":
            self.transport.close()
            raise FatalError(rest[0] if rest else NO_MESSAGE)
        return reply, rest

    def readWord(self) -> str:  # noqa: N802
        """One word, refused when it claims more than MAX_WORD_BYTES or the reply has run past its deadline."""
        started = getattr(self, "_reply_started", None)
        if started is not None and time.monotonic() - started > self.deadline:
            raise TimeoutError(f"the reply did not end within {self.deadline:g} s")
        first = self.transport.read(1)
        if first == b"\x00":
            return ""
        prefix = first + self.transport.read(determine_length(first))
        size = decode_length(prefix)
        if size > MAX_WORD_BYTES:
            raise ProtocolError(f"the router sent a word of {size:,} bytes (at most {MAX_WORD_BYTES:,})")
        return self.transport.read(size).decode(self.encoding, errors="replace")


class BoundedApi(Api):
    """librouteros' Api over a BoundedProtocol: malformed words and bare traps become clear errors."""

    def __init__(self, protocol: ApiProtocol) -> None:
        super().__init__(protocol=BoundedProtocol(protocol.transport, protocol.encoding))

    def readSentence(self) -> tuple[str, dict]:  # noqa: N802
        reply, words = self.protocol.readSentence()
        for word in words:
            if word.count("=") < 2 or not word.startswith("="):
                if word.startswith(".tag="):
                    continue
                raise ProtocolError(f"malformed reply word {word[:40]!r} (expected =name=value)")
        return reply, dict(parse_word(word) for word in words if not word.startswith(".tag="))

    def readResponse(self) -> list[dict]:  # noqa: N802
        """Rows until !done; a trap without a message still names itself (librouteros raised a TypeError)."""
        traps: list[TrapError] = []
        rows: list[dict] = []
        reply = None
        while reply != "!done":
            reply, words = self.readSentence()
            if reply == "!trap":
                category = words.get("category")
                traps.append(TrapError(message=str(words.get("message") or NO_MESSAGE),
                                       category=category if isinstance(category, int) else None))
            elif reply in ("!re", "!done") and words:
                rows.append(words)
        if len(traps) > 1:
            raise MultiTrapError(*traps)
        if traps:
            raise traps[0]
        return rows


def is_trap(exc: BaseException) -> bool:
    """A trap is the router refusing one command; the connection stays usable."""
    return isinstance(exc, (TrapError, MultiTrapError))


def classify(exc: BaseException) -> RouterError:
    """Map any exception to a RouterError with an operator-facing kind."""
    if isinstance(exc, RouterError):
        return exc
    if isinstance(exc, (TrapError, MultiTrapError)):
        return RouterError("trap", str(exc))
    if isinstance(exc, ssl.SSLError):
        return RouterError("tls", f"TLS handshake failed ({exc.reason or exc})")
    if isinstance(exc, ConnectionRefusedError):
        return RouterError("refused", "connection refused (API service down or wrong port)")
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return RouterError("timeout", "no answer before the timeout")
    if isinstance(exc, (ConnectionClosed, ConnectionResetError, BrokenPipeError)):
        return RouterError("closed", f"connection closed by the router ({exc})")
    if isinstance(exc, FatalError):
        return RouterError("closed", f"router ended the session: {exc}")
    if isinstance(exc, OSError):
        return RouterError("unreachable", f"network error: {exc.strerror or exc}")
    if isinstance(exc, LibRouterosError):
        return RouterError("protocol", str(exc))
    return RouterError("protocol", f"{type(exc).__name__}: {exc}")


def _ssl_wrapper(spec: RouterSpec, address: str):
    """A socket wrapper for api-ssl, verifying the certificate only when asked."""
    if spec.verify_tls:
        context = ssl.create_default_context()
    else:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return lambda sock: context.wrap_socket(sock, server_hostname=address if spec.verify_tls else None)


def open_connection(spec: RouterSpec, timeout: float,
                    reply_deadline: float = REPLY_DEADLINE) -> tuple[librouteros.api.Api, str]:
    """Connect and log in, trying each address in order; returns (api, address used).

    The connection reads through BoundedProtocol: a reply may not stream for longer than `reply_deadline`."""
    if not spec.addresses:
        raise RouterError("config", "router has no management address")
    last: RouterError | None = None
    for address in spec.addresses:
        try:
            api = librouteros.connect(
                address, username=spec.username, password=spec.password, port=spec.port, timeout=timeout,
                encoding="utf-8", ssl_wrapper=_ssl_wrapper(spec, address) if spec.tls else None, subclass=BoundedApi,
            )
            api.protocol.deadline = reply_deadline
            return api, address
        except (TrapError, MultiTrapError) as exc:
            # Same credentials on every address: a refused login will not improve by failing over.
            raise RouterError("auth", f"login refused: {exc}") from None
        except FatalError as exc:
            if "max" in str(exc).lower() or "session" in str(exc).lower():
                last = RouterError("refused", f"router refused the session: {exc}")
            else:
                last = classify(exc)
        except Exception as exc:  # noqa: BLE001 - every failure means "try the next address"
            last = classify(exc)
    assert last is not None
    raise last


def close_quietly(api: librouteros.api.Api) -> None:
    """Close a connection, ignoring errors (it may already be broken)."""
    try:
        api.close()
    except Exception:  # noqa: BLE001
        pass
