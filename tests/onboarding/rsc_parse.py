"""A small RouterOS script scanner for tests: split quoted strings from the structure around them."""
from __future__ import annotations

import re

# A well-formed RouterOS string as our quoting writes it: printable ASCII, with ", \, $ and ? always escaped.
STRING = re.compile(r'"((?:\\(?:[0-9A-Fa-f]{2}|[\\"$?nrt_abfv])|[^"\\$?\x00-\x1f\x7f-\U0010ffff])*)"')
_LETTERS = {"n": b"\n", "r": b"\r", "t": b"\t", "_": b" ", "a": b"\a", "b": b"\b", "f": b"\f", "v": b"\v"}


def decode(body: str) -> str:
    """The value RouterOS stores for a string's body (escapes resolved; \\XX are bytes of UTF-8)."""
    out, i = bytearray(), 0
    while i < len(body):
        if body[i] != "\\":
            out += body[i].encode("ascii")
            i += 1
        elif re.match(r"[0-9A-Fa-f]{2}", body[i + 1:i + 3]):
            out.append(int(body[i + 1:i + 3], 16))
            i += 3
        else:
            letter = body[i + 1]
            out += _LETTERS.get(letter, letter.encode("ascii"))
            i += 2
    return out.decode("utf-8")


def scan(script: str) -> tuple[list[str], list[str]]:
    """(skeleton lines with every string replaced by "S", the decoded strings in order).

    Raises AssertionError where a quote is left unmatched (a string that broke out of its quotes).
    """
    skeleton, strings = [], []
    for line in script.split("\n"):
        shape = STRING.sub(lambda m: strings.append(decode(m.group(1))) or '"S"', line)
        assert shape.count('"') == 2 * shape.count('"S"'), f"unbalanced quotes in {line!r}"
        skeleton.append(shape)
    return skeleton, strings


def pairs(script: str) -> list[tuple[str, str]]:
    """Every name="value" on every line, values decoded."""
    return [(m.group(1), decode(m.group(2))) for m in re.finditer(r'([a-z-]+)=' + STRING.pattern, script)]
