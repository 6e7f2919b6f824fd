"""A tiny pyrad RADIUS server for the simulator's own NAS tests (the end-to-end ones use FreeRADIUS)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

from pyrad import packet as rp

from routeros_sim.nas import dictionary, reply_attributes

SECRET = "s3cret"


class StubServer:
    """Answers Access-Request from a user table (PAP and CHAP) and records every accounting packet."""

    def __init__(self, secret: str = SECRET) -> None:
        self.secret = secret.encode()
        self.users: dict[str, tuple[str, dict[str, Any]]] = {}
        self.requests: list[dict[str, Any]] = []
        self.accounting: list[dict[str, Any]] = []
        self.auth = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.auth.bind(("127.0.0.1", 0))
        self.acct = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.acct.bind(("127.0.0.1", 0))
        self.auth_port = self.auth.getsockname()[1]
        self.acct_port = self.acct.getsockname()[1]
        self._stop = False
        self._threads = [threading.Thread(target=self._serve, args=(s,), daemon=True) for s in (self.auth, self.acct)]
        for t in self._threads:
            t.start()

    def close(self) -> None:
        """Stop serving."""
        self._stop = True
        self.auth.close()
        self.acct.close()

    def wait_for(self, predicate, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Accounting packets matching predicate, waiting until there is at least one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [a for a in list(self.accounting) if predicate(a)]
            if found:
                return found
            time.sleep(0.02)
        return []

    def _serve(self, sock: socket.socket) -> None:
        while not self._stop:
            try:
                data, addr = sock.recvfrom(4096)
            except OSError:
                return
            if data[0] == rp.AccessRequest:
                answer = self._access(data)
            elif data[0] == rp.AccountingRequest:
                answer = self._accounting(data)
            else:
                continue
            if answer is not None:
                sock.sendto(answer, addr)

    def _access(self, data: bytes) -> bytes | None:
        req = rp.AuthPacket(packet=data, secret=self.secret, dict=dictionary())
        attrs = reply_attributes(req)
        method = "chap" if "CHAP-Password" in attrs else "pap"
        self.requests.append({"method": method, **attrs})
        user = req["User-Name"][0]
        password, reply_attrs = self.users.get(user, (None, {}))
        if password is None:
            ok = False
        elif method == "pap":
            ok = req.PwDecrypt(req["User-Password"][0]) == password
        else:
            ok = req.VerifyChapPasswd(password)
        reply = req.CreateReply()
        reply.code = rp.AccessAccept if ok else rp.AccessReject
        for key, value in (reply_attrs.items() if ok else ()):
            reply[key] = value
        return reply.ReplyPacket()

    def _accounting(self, data: bytes) -> bytes | None:
        req = rp.AcctPacket(packet=data, secret=self.secret, dict=dictionary())
        if not req.VerifyAcctRequest():
            return None
        self.accounting.append({k: v[0] for k, v in reply_attributes(req).items()})
        return req.CreateReply().ReplyPacket()


def dae(port: int, code: int, secret: str = SECRET, timeout: float = 1.0, **attrs: Any) -> rp.Packet | None:
    """Send a Disconnect-Request or CoA-Request to a router's incoming port; the verified reply or None."""
    req = rp.CoAPacket(code=code, secret=secret.encode(), dict=dictionary())
    for key, value in attrs.items():
        req[key.replace("_", "-")] = value
    raw = req.RequestPacket()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.sendto(raw, ("127.0.0.1", port))
        try:
            data, _ = sock.recvfrom(4096)
        except TimeoutError:
            return None
    reply = req.CreateReply(packet=data)
    assert req.VerifyReply(reply, data), "the router's answer has a bad authenticator"
    return reply
