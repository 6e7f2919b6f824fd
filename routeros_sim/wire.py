"""RouterOS API wire codec: word lengths, sentences and an incremental decoder."""

from __future__ import annotations

# Words travel as str; surrogateescape lets arbitrary client bytes round-trip unchanged.
ENCODING = "utf-8"
ERRORS = "surrogateescape"


class WireError(Exception):
    """A byte stream that is not a valid RouterOS API sentence stream."""


def encode_length(length: int) -> bytes:
    """Encode a word length with the shortest of the five RouterOS forms."""
    if length < 0x80:
        return bytes((length,))
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length <= 0xFFFFFFFF:
        return b"\xf0" + length.to_bytes(4, "big")
    raise WireError("word too long: %d bytes" % length)


def decode_length(buf: bytes | bytearray, pos: int) -> tuple[int, int] | None:
    """Return (length, new position) for the prefix at pos, or None if incomplete."""
    if pos >= len(buf):
        return None
    first = buf[pos]
    if first < 0x80:
        return first, pos + 1
    if first < 0xC0:
        size, mask = 2, 0x8000
    elif first < 0xE0:
        size, mask = 3, 0xC00000
    elif first < 0xF0:
        size, mask = 4, 0xE0000000
    elif first == 0xF0:
        if pos + 5 > len(buf):
            return None
        return int.from_bytes(buf[pos + 1:pos + 5], "big"), pos + 5
    else:
        # 0xF1-0xFF are reserved control bytes; RouterOS never sends them in a word.
        raise WireError("reserved control byte 0x%02X" % first)
    if pos + size > len(buf):
        return None
    return int.from_bytes(buf[pos:pos + size], "big") ^ mask, pos + size


def encode_word(word: str) -> bytes:
    """Encode one word with its length prefix."""
    raw = word.encode(ENCODING, ERRORS)
    return encode_length(len(raw)) + raw


def encode_sentence(words: list[str] | tuple[str, ...]) -> bytes:
    """Encode a sentence: its words followed by the zero-length terminator."""
    return b"".join([encode_word(w) for w in words]) + b"\x00"


class SentenceDecoder:
    """Incremental decoder: feed bytes, get back complete sentences."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._pos = 0
        self._words: list[str] = []

    def feed(self, data: bytes) -> list[list[str]]:
        """Consume data and return every sentence it completes (empty ones included)."""
        buf = self._buf
        buf += data
        pos = self._pos
        out: list[list[str]] = []
        while True:
            head = decode_length(buf, pos)
            if head is None:
                break
            length, start = head
            if length == 0:
                out.append(self._words)
                self._words = []
                pos = start
                continue
            end = start + length
            if end > len(buf):
                break
            self._words.append(bytes(buf[start:end]).decode(ENCODING, ERRORS))
            pos = end
        # Compact once in a while so a long-lived connection does not grow its buffer.
        if pos > 65536 or pos == len(buf):
            del buf[:pos]
            pos = 0
        self._pos = pos
        return out
