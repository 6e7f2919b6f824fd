"""Helpers for the simulator tests: a librouteros connect shortcut and a raw API client."""

from __future__ import annotations

import socket
import time

import librouteros

from routeros_sim.wire import SentenceDecoder, encode_sentence

PASSWORD = "s3cret"


def connect(router, **kw):
    """A librouteros connection to a virtual router."""
    kw.setdefault("timeout", 5)
    kw.setdefault("port", router.port)
    kw.setdefault("password", PASSWORD)
    return librouteros.connect("127.0.0.1", username=router.config.username, encoding="utf-8", **kw)


def wait_for(predicate, timeout: float = 3.0) -> bool:
    """Poll predicate until true or timeout; for effects that cross threads."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class RawClient:
    """A bare socket speaking the API, for tags, streams and odd encodings."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.decoder = SentenceDecoder()
        self.pending: list[list[str]] = []

    def send(self, *words: str) -> None:
        """Send one sentence."""
        self.sock.sendall(encode_sentence(list(words)))

    def send_bytes(self, data: bytes) -> None:
        """Send raw bytes."""
        self.sock.sendall(data)

    def read(self) -> list[str]:
        """The next reply sentence."""
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed by the simulator")
            self.pending.extend(self.decoder.feed(data))
        return self.pending.pop(0)

    def until_done(self, tag: str | None = None) -> list[list[str]]:
        """Sentences up to and including the !done (of tag, if given)."""
        out = []
        while True:
            sentence = self.read()
            out.append(sentence)
            if sentence[0] == "!done" and (tag is None or ".tag=" + tag in sentence):
                return out

    def login(self, password: str = PASSWORD) -> None:
        """Plain login, asserting success."""
        self.send("/login", "=name=admin", "=password=" + password)
        assert self.read() == ["!done"]

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


def attrs(sentence: list[str]) -> dict[str, str]:
    """The =name=value words of a reply sentence as a dict."""
    return dict(w[1:].split("=", 1) for w in sentence if w.startswith("="))
