"""RouterOS script (.rsc) quoting: every value we print into a script is one double-quoted string.

Inside "...", RouterOS treats a backslash, a double quote and `$` (variable and `$[command]` substitution)
specially, and v6 terminals act on a typed `?`. Each is escaped; new lines, tabs and carriage returns get
their letter escapes, and every other control byte and every byte of a non-ASCII character becomes `\\XX`
(two hex digits), so the script is plain ASCII, one value never spans two lines, and the router stores the
exact UTF-8 bytes. A value that escaped its quotes could run commands on the router.
"""
from __future__ import annotations

import re

_LETTER = {"\\": "\\\\", '"': '\\"', "$": "\\$", "?": "\\?", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# A bare word RouterOS reads as itself: an identifier, number, address or list of them (no spaces or specials).
_BARE = re.compile(r"^[A-Za-z0-9._:/,!*+-]+\Z")


def _escape_char(char: str) -> str:
    if char in _LETTER:
        return _LETTER[char]
    code = ord(char)
    if 0x20 <= code < 0x7F:
        return char
    return "".join(f"\\{byte:02X}" for byte in char.encode("utf-8"))


def quote(value: object) -> str:
    """`value` as one RouterOS double-quoted string, every special character escaped."""
    return '"' + "".join(_escape_char(c) for c in str(value)) + '"'


def word(value: object) -> str:
    """A value we generated (number, address, key word) printed bare when safe, quoted otherwise."""
    text = str(value)
    return text if _BARE.match(text) else quote(text)


class Bare(str):
    """A value of ours (yes, 25s, ppp,hotspot, an address we computed): printed bare when it is a plain word."""


def value(item: object) -> str:
    """One property value: booleans as yes/no, numbers and Bare words as they are, anything else quoted."""
    if isinstance(item, bool):
        return "yes" if item else "no"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, Bare):
        return word(item)
    return quote(item)


def command(path: str, verb: str, *selector: str, **attrs: object) -> str:
    """One script line: `/path verb [selector] name=value …` (`_` in names becomes `-`; None values are left out).

    `path` and `verb` are ours (constants, never user data); so is a selector built by `find()`.
    """
    parts = [path, verb, *selector]
    parts += [f"{name.replace('_', '-')}={value(item)}" for name, item in attrs.items() if item is not None]
    return " ".join(parts)


def find(**attrs: object) -> str:
    """`[find where a="x" and b="y"]` with quoted values, to select the items a script line changes."""
    where = " and ".join(f"{name.replace('_', '-')}={quote(value)}" for name, value in attrs.items())
    return f"[find where {where}]"
