"""Disconnect-Request and CoA-Request (RFC 5176) to a router's RADIUS incoming port, with pyrad.

The worker calls these (never a web request): one packet per live session of the user, identified by
`User-Name` plus `Acct-Session-Id` and `Framed-IP-Address` from the open `radacct` rows, or by
`User-Name` alone when no open row is known. Timeouts are short (2 s, sent 3 times at most) so a kick
on `critical` falls back to the API quickly when the router does not answer. The shared secret is
never logged, returned or stored in a result.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache

from pyrad import packet
from pyrad.client import Client, Timeout
from pyrad.dictionary import Dictionary
from sqlalchemy import select

from isp import crypto
from isp.extensions import db
from isp.radius import DICTIONARY
from isp.radius.models import Nas, RadAcct

log = logging.getLogger(__name__)

DEFAULT_PORT = 3799  # RFC 5176; RouterOS `/radius incoming` listens here by default
TIMEOUT = 2.0        # seconds per send
RETRIES = 2          # sends after the first

# RFC 5176 section 3.5, in words an operator reads on the command's result.
ERROR_CAUSES = {
    201: "residual session context removed", 202: "invalid EAP packet", 401: "unsupported attribute",
    402: "missing attribute", 403: "NAS identification mismatch", 404: "invalid request",
    405: "unsupported service", 406: "unsupported extension", 407: "invalid attribute value",
    501: "administratively prohibited", 502: "request not routable (proxy)", 503: "session not found",
    504: "session context not removable", 505: "other proxy processing error", 506: "resources unavailable",
    507: "request initiated", 508: "multiple session selection unsupported",
}
SESSION_NOT_FOUND = 503


@lru_cache(maxsize=1)
def dictionary() -> Dictionary:
    """The pyrad dictionary of the attributes we speak (read once, on first use: no I/O at import)."""
    return Dictionary(str(DICTIONARY))


@dataclass(frozen=True)
class Target:
    """Where a router listens for Disconnect and CoA: address, UDP port and the shared secret."""

    address: str
    port: int
    secret: str

    def __repr__(self) -> str:  # the secret never reaches a log line through a repr
        return f"Target({self.address}:{self.port})"


@dataclass(frozen=True)
class Answer:
    """A router's answer to one request: "ack", "nak" or "timeout", with the NAK's Error-Cause in words."""

    kind: str
    error_cause: int | None = None
    session_id: str = ""

    @property
    def words(self) -> str:
        """The answer as an operator reads it."""
        if self.kind != "nak":
            return {"ack": "acknowledged", "timeout": "no answer"}.get(self.kind, self.kind)
        if self.error_cause is None:
            return "refused (no reason given)"
        return f"refused: {ERROR_CAUSES.get(self.error_cause, 'error')} ({self.error_cause})"

    @property
    def nothing_to_do(self) -> bool:
        """An ACK, or a NAK saying the session is not there (the user is not online): done either way."""
        return self.kind == "ack" or (self.kind == "nak" and self.error_cause == SESSION_NOT_FOUND)

    def as_dict(self) -> dict:
        """For a command's stored result."""
        out = {"answer": self.kind, "words": self.words}
        if self.error_cause is not None:
            out["error_cause"] = self.error_cause
        if self.session_id:
            out["session"] = self.session_id
        return out


def _management_address(router: object) -> str:
    addresses = getattr(router, "addresses", None) or [""]
    return addresses[0]


def target_for(router: object) -> Target:
    """The router's tunnel address, incoming port and RADIUS secret; ValueError when no secret is known.

    Until onboarding gives a router `tunnel_address` and `radius_secret_encrypted`, the first management
    address is used and the secret comes from the `nas` row of that address.
    """
    address = (getattr(router, "tunnel_address", None) or "").strip() or _management_address(router)
    # The router's own `/radius incoming` port (RFC 5176; RouterOS listens on 3799).
    port = int(getattr(router, "radius_incoming_port", None) or DEFAULT_PORT)
    sealed = getattr(router, "radius_secret_encrypted", None) or ""
    secret = crypto.decrypt(sealed) if sealed else ""
    if not secret:
        secret = db.session.scalar(select(Nas.secret).where(Nas.nasname == address).limit(1)) or ""
    if not address or not secret:
        raise ValueError("the router has no RADIUS address or secret; onboard it first")
    return Target(address, port, secret)


def open_sessions(username: str, nas_address: str | None = None, limit: int = 20) -> list[tuple[str, str]]:
    """(Acct-Session-Id, Framed-IP-Address) of the user's open accounting rows, newest first.

    Only rows from `nas_address` (when given): another router's session id would earn a "session not found" NAK,
    which reads as "not online here" and would end the command while the user stays on. No row: the request names
    the User-Name alone (a session whose Start has not been stored yet still ends).
    """
    stmt = select(RadAcct.acctsessionid, RadAcct.framedipaddress).where(
        RadAcct.username == username, RadAcct.acctstoptime.is_(None))
    if nas_address:
        stmt = stmt.where(RadAcct.nasipaddress == nas_address)
    return [(r.acctsessionid, r.framedipaddress) for r in db.session.execute(
        stmt.order_by(RadAcct.radacctid.desc()).limit(limit))]


def _client(target: Target, timeout: float, retries: int) -> Client:
    return Client(server=target.address, coaport=target.port, secret=target.secret.encode(), dict=dictionary(),
                  retries=retries + 1, timeout=timeout)


def _send(target: Target, code: int, username: str, attributes: dict, session_id: str, framed_ip: str,
          timeout: float, retries: int) -> Answer:
    client = _client(target, timeout, retries)
    try:
        request = client.CreateCoAPacket(code=code)
        request["User-Name"] = username
        if session_id:
            request["Acct-Session-Id"] = session_id
        if framed_ip:
            request["Framed-IP-Address"] = framed_ip
        for name, value in attributes.items():
            request[name] = value
        try:
            reply = client.SendPacket(request)
        except Timeout:
            return Answer("timeout", session_id=session_id)
        except OSError as exc:  # unreachable address, refused port: the router did not answer
            log.warning("RADIUS %s to %s failed: %s", "CoA" if code == packet.CoARequest else "Disconnect", target, exc)
            return Answer("timeout", session_id=session_id)
    finally:
        client._CloseSocket()
    if reply.code in (packet.DisconnectACK, packet.CoAACK):
        return Answer("ack", session_id=session_id)
    raw = (reply.get(101) or [b""])[0]  # Error-Cause, undecoded: a code the dictionary does not name still reads
    return Answer("nak", int.from_bytes(raw, "big") if len(raw) == 4 else None, session_id)


def _each_session(target: Target, code: int, username: str, attributes: dict, sessions: list[tuple[str, str]] | None,
                  timeout: float, retries: int) -> list[Answer]:
    found = open_sessions(username, target.address) if sessions is None else sessions
    return [_send(target, code, username, attributes, sid, ip, timeout, retries) for sid, ip in (found or [("", "")])]


def disconnect(target: Target, username: str, sessions: list[tuple[str, str]] | None = None,
               timeout: float = TIMEOUT, retries: int = RETRIES) -> list[Answer]:
    """Send a Disconnect-Request for each of the user's sessions (read from radacct unless given)."""
    return _each_session(target, packet.DisconnectRequest, username, {}, sessions, timeout, retries)


def change(target: Target, username: str, attributes: dict, sessions: list[tuple[str, str]] | None = None,
           timeout: float = TIMEOUT, retries: int = RETRIES) -> list[Answer]:
    """Send a CoA-Request with new attributes (e.g. `Mikrotik-Rate-Limit`) for each of the user's sessions."""
    return _each_session(target, packet.CoARequest, username, dict(attributes), sessions, timeout, retries)
