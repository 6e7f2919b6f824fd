"""A small RFC 5176 responder for the tests: a peer standing in for the router's `/radius incoming`.

It is not the system under test: it answers Disconnect-Request and CoA-Request like a NAS does (ACK for a
known session, NAK with Error-Cause 503 otherwise), or stays silent to make the client time out.
"""
from __future__ import annotations

import socket
import threading

from pyrad import packet

from isp.radius.coa import dictionary


class Responder:
    """UDP responder on a free loopback port; `sessions` maps user names to their live session ids."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()
        self.sessions: dict[str, set[str]] = {}
        self.silent = False
        self.refuse: int | None = None  # answer every request with this Error-Cause
        self.received: list[dict] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> Responder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except (TimeoutError, OSError):
                continue
            request = packet.CoAPacket(packet=data, secret=self.secret, dict=dictionary())
            if not request.VerifyCoARequest():
                continue  # a wrong secret: a real NAS drops it silently
            attrs = {key: request[key] for key in request.keys()}
            self.received.append({"code": request.code, **attrs})
            if self.silent:
                continue
            reply = request.CreateReply()
            user = attrs.get("User-Name", [""])[0]
            session = (attrs.get("Acct-Session-Id") or [""])[0]
            live = self.sessions.get(user, set())
            found = bool(live) and (not session or session in live)
            nak = packet.DisconnectNAK if request.code == packet.DisconnectRequest else packet.CoANAK
            if self.refuse is not None:
                reply.code, reply["Error-Cause"] = nak, self.refuse
            elif not found:
                reply.code, reply["Error-Cause"] = nak, 503
            elif request.code == packet.DisconnectRequest:
                live.discard(session) if session else live.clear()
            self.sock.sendto(reply.ReplyPacket(), peer)
