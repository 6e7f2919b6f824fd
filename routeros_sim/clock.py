"""The fleet's simulated clock: real time times a speed factor, plus manual advances."""

from __future__ import annotations

import threading
import time

# A fixed epoch keeps seeded runs identical from one day to the next.
DEFAULT_START = 1735732800.0  # 2025-01-01 12:00:00 UTC


class SimClock:
    """Simulated seconds since the epoch; thread-safe."""

    def __init__(self, speed: float = 1.0, start: float | None = None) -> None:
        self._lock = threading.Lock()
        self._speed = float(speed)
        self._real0 = time.monotonic()
        self._sim0 = DEFAULT_START if start is None else float(start)

    @property
    def speed(self) -> float:
        """Simulated seconds per real second (0 freezes time)."""
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        with self._lock:
            self._rebase()
            self._speed = float(value)

    def now(self) -> float:
        """The current simulated time."""
        with self._lock:
            return self._sim0 + (time.monotonic() - self._real0) * self._speed

    def advance(self, seconds: float) -> float:
        """Jump forward; the routers catch up on their next tick or command."""
        if seconds < 0:
            raise ValueError("the simulated clock only moves forward")
        with self._lock:
            self._sim0 += seconds
            return self._sim0 + (time.monotonic() - self._real0) * self._speed

    def _rebase(self) -> None:
        now = time.monotonic()
        self._sim0 += (now - self._real0) * self._speed
        self._real0 = now


def format_date(epoch: float, version: tuple[int, ...]) -> str:
    """A RouterOS timestamp: ISO-like from 7.16, 'Jul/12/2023 09:45:11' before, lowercase on v6."""
    tm = time.gmtime(epoch)
    if version >= (7, 16):
        return time.strftime("%Y-%m-%d %H:%M:%S", tm)
    text = time.strftime("%b/%d/%Y %H:%M:%S", tm)
    return text.lower() if version < (7,) else text
