"""A tiny faulty RouterOS on loopback: speaks the API's length-prefixed words, logs anyone in, then answers every
command with whatever bytes a test sets (malformed sentences, traps without a message, huge or endless replies)."""
from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Callable


def length(n: int) -> bytes:
    """The API's variable-length prefix (1 to 5 bytes)."""
    if n < 0x80:
        return n.to_bytes(1, "big")
    if n < 0x4000:
        return (n | 0x8000).to_bytes(2, "big")
    if n < 0x200000:
        return (n | 0xC00000).to_bytes(3, "big")
    if n < 0x10000000:
        return (n | 0xE0000000).to_bytes(4, "big")
    return b"\xf0" + n.to_bytes(4, "big")


def word(text: str | bytes) -> bytes:
    """One encoded word."""
    raw = text.encode() if isinstance(text, str) else text
    return length(len(raw)) + raw


def sentence(*words: str | bytes) -> bytes:
    """Encoded words and the empty word that ends a sentence."""
    return b"".join(word(w) for w in words) + b"\x00"


def _read_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        got = sock.recv(n - len(data))
        if not got:
            raise ConnectionError("client went away")
        data += got
    return data


def read_sentence(sock: socket.socket) -> list[str]:
    """One sentence the client sent."""
    words = []
    while True:
        first = _read_exact(sock, 1)[0]
        if first == 0:
            return words
        extra = 0 if first < 0x80 else 1 if first < 0xC0 else 2 if first < 0xE0 else 3
        raw = bytes([first]) + _read_exact(sock, extra)
        n = int.from_bytes(raw, "big") & [0x7F, 0x3FFF, 0x1FFFFF, 0xFFFFFFF][extra]
        words.append(_read_exact(sock, n).decode("utf-8", "replace"))


Reply = Callable[[socket.socket, list[str]], None]


def tag_of(words: list[str]) -> list[str]:
    """The client's .tag word, echoed on each reply sentence (the bulk push and the poll tag their commands)."""
    return [w for w in words if w.startswith(".tag=")]


def good(sock: socket.socket, words: list[str]) -> None:
    """A well-behaved answer: a print finds nothing, anything else is done (an add returns an id)."""
    ret = ["=ret=*1"] if words and words[0].endswith("/add") else []
    sock.sendall(sentence("!done", *ret, *tag_of(words)))


class FakeRouter:
    """The server; `reply` decides what every command after the login gets."""

    def __init__(self, reply: Reply = good, login: Reply | None = None) -> None:
        self.reply = reply
        self.login = login
        self.commands: list[list[str]] = []
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock = self.request
                try:
                    while True:
                        words = read_sentence(sock)
                        if words and words[0] == "/login":
                            if owner.login is not None:
                                owner.login(sock, words)
                                return
                            sock.sendall(sentence("!done"))
                            continue
                        owner.commands.append(words)
                        if owner.reply(sock, words) == "close":
                            return
                except (OSError, ConnectionError):
                    return

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler, bind_and_activate=False)
        self.server.daemon_threads = True
        self.server.allow_reuse_address = True
        self.server.server_bind()
        self.server.server_activate()
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> FakeRouter:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def raw(data: bytes, then: str = "close") -> Reply:
    """Send these bytes, then close the connection ("close") or keep it open and silent ("hang")."""

    def reply(sock: socket.socket, words: list[str]) -> str | None:
        sock.sendall(data)
        if then == "hang":
            time.sleep(30)
        return then

    return reply


def endless(sock: socket.socket, words: list[str]) -> str:
    """A reply that never ends: `!re` sentences forever, never `!done`."""
    row = sentence("!re", "=name=x", *tag_of(words))
    try:
        for _ in range(10_000_000):
            sock.sendall(row * 100)
    except OSError:
        pass
    return "close"


def huge_word(size: int) -> Reply:
    """A `!re` whose one word claims (and streams) `size` bytes."""

    def reply(sock: socket.socket, words: list[str]) -> str:
        try:
            sock.sendall(word("!re") + length(size))
            chunk = b"=name=" + b"x" * 65536
            sent = 0
            while sent < size:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass
        return "close"

    return reply


def many_words(count: int) -> Reply:
    """One `!re` sentence of `count` attribute words."""

    def reply(sock: socket.socket, words: list[str]) -> str:
        try:
            sock.sendall(word("!re"))
            one = word("=a=b")
            for _ in range(count // 10_000):
                sock.sendall(one * 10_000)
            sock.sendall(b"\x00" + sentence("!done", *tag_of(words)))
        except OSError:
            pass
        return "close"

    return reply
