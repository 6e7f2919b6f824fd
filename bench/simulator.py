"""Capacity of the RouterOS simulator: round trips per second and CPU per 10k commands.

Runs the simulator in its own process (so its CPU time can be measured apart from the
client's) and drives it with a minimal pre-encoded client over 1 and 8 connections.
Usage: python bench/simulator.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from routeros_sim.wire import SentenceDecoder, encode_sentence

LOGIN = encode_sentence(["/login", "=name=admin", "=password=bench"])
COMMAND = encode_sentence(["/system/identity/print"])
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds consumed so far by process pid."""
    fields = Path("/proc/%d/stat" % pid).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def start_simulator() -> tuple[subprocess.Popen, int]:
    """Start one quiet router in a child process and return it with its port."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "routeros_sim", "--routers", "1", "--base-port", "0",
         "--tls-base-port", "-1", "--password", "bench", "--clients", "0", "--users", "0",
         "--log-level", "warning"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    proc.stdout.readline()
    return proc, int(proc.stdout.readline().split()[1])


def one_connection(port: int, seconds: float) -> int:
    """Sequential round trips on one blocking socket; returns the count."""
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    decoder = SentenceDecoder()

    def round_trip(data: bytes) -> None:
        sock.sendall(data)
        while True:
            for sentence in decoder.feed(sock.recv(65536)):
                if sentence and sentence[0] == "!done":
                    return

    round_trip(LOGIN)
    count, deadline = 0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        round_trip(COMMAND)
        count += 1
    sock.close()
    return count


async def many_connections(port: int, seconds: float, n: int) -> int:
    """Round trips over n concurrent connections; returns the total count."""

    async def worker() -> int:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        decoder = SentenceDecoder()

        async def round_trip(data: bytes) -> None:
            writer.write(data)
            while True:
                for sentence in decoder.feed(await reader.read(65536)):
                    if sentence and sentence[0] == "!done":
                        return

        await round_trip(LOGIN)
        count, deadline = 0, time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            await round_trip(COMMAND)
            count += 1
        writer.close()
        return count

    return sum(await asyncio.gather(*(worker() for _ in range(n))))


def main() -> None:
    """Print round trips per second for 1 and 8 connections and CPU per 10k commands."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    proc, port = start_simulator()
    try:
        results = []
        for label, run in (("1 connection", lambda: one_connection(port, args.seconds)),
                           ("8 connections", lambda: asyncio.run(many_connections(port, args.seconds, 8)))):
            cpu0, t0 = cpu_seconds(proc.pid), time.perf_counter()
            count = run()
            wall, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
            results.append((label, count / wall, cpu / count * 10000 if count else 0.0))
        print("RouterOS simulator capacity (/system/identity/print, loopback, %.0fs each)" % args.seconds)
        print("%-14s %14s %22s" % ("clients", "round trips/s", "simulator CPU s / 10k"))
        for label, rate, cpu in results:
            print("%-14s %14.0f %22.3f" % (label, rate, cpu))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
