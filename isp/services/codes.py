"""Voucher codes from the OS CSPRNG over an alphabet a customer cannot misread."""
from __future__ import annotations

import math
import secrets
from collections.abc import Callable

# No 0/O, 1/I/l: uppercase letters and digits that survive a thermal printer and a phone keyboard.
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
MIN_LENGTH, MAX_LENGTH = 4, 16
# A batch may use at most this share of the code space, so collisions stay rare and guessing stays hard.
MAX_SPACE_SHARE = 1e-3


# 32 symbols divide 256 evenly, so mapping random bytes modulo 32 keeps every symbol equally likely.
assert 256 % len(ALPHABET) == 0
_BYTE_TO_SYMBOL = bytes.maketrans(bytes(range(256)), bytes(ord(ALPHABET[b % len(ALPHABET)]) for b in range(256)))


def random_code(length: int, prefix: str = "") -> str:
    """One code: the prefix plus `length` random characters (bytes from the OS CSPRNG)."""
    return prefix + secrets.token_bytes(length).translate(_BYTE_TO_SYMBOL).decode()


def min_length_for(count: int) -> int:
    """The shortest random part that keeps `count` codes within MAX_SPACE_SHARE of the space."""
    return max(MIN_LENGTH, math.ceil(math.log(count / MAX_SPACE_SHARE, len(ALPHABET))))


def unique_codes(count: int, length: int, prefix: str, taken: Callable[[list[str]], set[str]]) -> list[str]:
    """`count` distinct codes none of which `taken(codes) -> set` reports as already used."""
    codes: set[str] = set()
    for _ in range(50):
        while len(codes) < count:
            codes.add(random_code(length, prefix))
        clashes = taken(sorted(codes))
        if not clashes:
            ordered = list(codes)
            secrets.SystemRandom().shuffle(ordered)
            return ordered
        codes -= clashes
    raise RuntimeError("could not find free voucher codes; use a longer code")
