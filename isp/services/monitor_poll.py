"""One monitoring poll of a router: every read in one pipelined round trip, and the counter arithmetic.

`read(api, log_after)` sends all the poll's commands tagged on the one pooled connection and reads
their replies as they come (RouterOS answers tagged commands independently), so a poll costs one
round trip instead of eight. `rates(...)` turns two counter readings into bits per second, correct
across 32- and 64-bit wrap, a reboot and a counter reset. Writing the results is `monitor_ingest`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from librouteros.api import Api
from librouteros.exceptions import ProtocolError

from isp.routeros.batch import parse_words
from isp.units import router_duration

IFACE_FIELDS = ".id,name,type,running,disabled,comment,rx-byte,tx-byte,dynamic"
LOG_FIELDS = ".id,time,topics,message"
LOG_FIRST = 100          # log lines taken on a router's very first poll
WRAP32, WRAP64 = 2 ** 32, 2 ** 64
REQUIRED = ("res", "if")  # tags whose trap fails the poll
MAX_BPS = 400e9          # no interface counts faster: a larger "wrap" of a 64-bit counter is really a reset
# A counter still 32 bits wide sits on a port of at most 1 Gb/s (RouterOS gives faster ports 64-bit counters; a
# 32-bit one on a faster port would wrap more than once between polls anyway).
MAX_BPS32 = 1e9


@dataclass
class Reading:
    """What one poll read from a router (parsed, router-independent)."""

    resource: dict = field(default_factory=dict)
    identity: str = ""
    health: dict = field(default_factory=dict)                 # temperature, voltage (floats) where present
    interfaces: list[dict] = field(default_factory=list)       # name, type, comment, running, disabled, rx, tx
    ppp_active: int | None = None
    hotspot_active: int | None = None
    queue_rx_bps: int | None = None
    queue_tx_bps: int | None = None
    log: list[dict] | None = None                              # None: the router has no /log (or it trapped)

    @property
    def uptime(self) -> int:
        return router_duration(str(self.resource.get("uptime", "")))

    @property
    def cpu(self) -> int | None:
        return _int(self.resource.get("cpu-load"))

    @property
    def memory(self) -> float | None:
        total, free = _int(self.resource.get("total-memory")), _int(self.resource.get("free-memory"))
        return round((total - free) * 100.0 / total, 1) if total and free is not None else None


def _int(value: object) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return None


def _float(value: object) -> float | None:
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def commands(log_after: str | None) -> dict[str, tuple[str, ...]]:
    """The poll's commands by tag (sentences without the tag)."""
    log_query = (f"?>.id={log_after}",) if log_after else ()
    return {
        "res": ("/system/resource/print",),
        "id": ("/system/identity/print",),
        "hl": ("/system/health/print",),
        # Dynamic pppoe-in interfaces (one per subscriber) are filtered on the router: they are sessions, not links.
        "if": ("/interface/print", f"=.proplist={IFACE_FIELDS}", "?type=pppoe-in", "?#!"),
        "ppp": ("/ppp/active/print", "=count-only="),
        "hs": ("/ip/hotspot/active/print", "=count-only="),
        "q": ("/queue/simple/print", "=.proplist=rate,disabled"),
        "log": ("/log/print", f"=.proplist={LOG_FIELDS}", *log_query),
    }


def read(api: Api, log_after: str | None) -> Reading:
    """Send every poll command tagged on one connection and collect the replies (one round trip)."""
    sent = commands(log_after)
    protocol = api.protocol
    for tag, (command, *words) in sent.items():
        protocol.writeSentence(command, *words, f".tag={tag}")
    rows: dict[str, list[dict]] = {tag: [] for tag in sent}
    ret: dict[str, str] = {}
    traps: dict[str, str] = {}
    pending = set(sent)
    while pending:
        reply, words = protocol.readSentence()
        tag, data = parse_words(words)
        if tag not in pending:
            raise ProtocolError(f"reply for unknown tag {tag!r}")
        if reply == "!re":
            rows[tag].append(data)
        elif reply == "!trap":
            traps[tag] = data.get("message", "")
        elif reply == "!done":
            pending.discard(tag)
            if "ret" in data:
                ret[tag] = data["ret"]
    # Resources and interfaces are the poll; a router without hotspot, PPP, health or /log just lacks those figures.
    failed = {t: m for t, m in traps.items() if t in REQUIRED}
    if failed:  # report it like any other trap (the connection is fine)
        from librouteros.exceptions import TrapError
        raise TrapError(message="; ".join(f"{t}: {m}" for t, m in sorted(failed.items())))
    return parse(rows, ret, log_ok="log" not in traps)


def parse(rows: dict[str, list[dict]], ret: dict[str, str], log_ok: bool = True) -> Reading:
    """Turn the raw replies into a Reading."""
    reading = Reading(resource=(rows["res"] or [{}])[0], identity=(rows["id"] or [{}])[0].get("name", ""))
    reading.health = health(rows["hl"])
    reading.interfaces = [
        {"name": r["name"][:64], "type": r.get("type", "")[:32], "comment": r.get("comment", "")[:255],
         "running": r.get("running") == "true", "disabled": r.get("disabled") == "true",
         "rx": _int(r.get("rx-byte")) or 0, "tx": _int(r.get("tx-byte")) or 0}
        for r in rows["if"] if r.get("name") and r.get("dynamic") != "true" and r.get("type") != "pppoe-in"
    ]
    reading.ppp_active, reading.hotspot_active = _int(ret.get("ppp")), _int(ret.get("hs"))
    up = down = 0
    for queue in rows["q"]:
        pair = str(queue.get("rate", "")).split("/")
        if len(pair) == 2 and queue.get("disabled") != "true":
            up, down = up + (_int(pair[0]) or 0), down + (_int(pair[1]) or 0)
    if rows["q"]:
        reading.queue_rx_bps, reading.queue_tx_bps = up, down
    if log_ok:
        reading.log = [{"id": r.get(".id", ""), "time": r.get("time", "")[:32], "topics": r.get("topics", "")[:120],
                        "message": r.get("message", "")} for r in rows["log"] if r.get(".id")]
    return reading


def health(rows: list[dict]) -> dict:
    """Temperature and voltage from /system/health: v7 one row per sensor, v6 one flat row, CHR none."""
    values: dict[str, float] = {}
    for row in rows:
        if "name" in row and "value" in row:
            name, value = row["name"], _float(row["value"])
            if value is not None:
                values[name] = value
        else:
            values.update({k: v for k, v in ((k, _float(v)) for k, v in row.items()) if v is not None})
    temperature = values.get("temperature")
    if temperature is None:
        temperature = next((v for k, v in sorted(values.items()) if "temperature" in k), None)
    return {"temperature": temperature, "voltage": values.get("voltage")}


def log_id(value: str) -> int:
    """A RouterOS .id ('*1F') as a number, for ordering."""
    try:
        return int(value.lstrip("*"), 16)
    except ValueError:
        return -1


def delta(previous: int, current: int, seconds: float) -> int | None:
    """Bytes counted between two readings of one counter (no reboot between them); None when no plausible count
    explains them (the sample is left out rather than a bogus spike kept in the rollups' max for a year).

    A counter that went down either wrapped or was reset (`/interface reset-counters`, an interface re-created).
    It is taken as a wrap only when the previous value was within one interval's possible traffic of its width
    (2^32 for a value below it, at most MAX_BPS32; 2^64 otherwise, at most MAX_BPS); otherwise it counted from 0.
    Any count above MAX_BPS over the interval is impossible: None.
    """
    span = max(seconds, 1.0)
    if current >= previous:
        counted = current - previous
    else:
        width, fastest = (WRAP32, MAX_BPS32) if previous < WRAP32 else (WRAP64, MAX_BPS)
        wrapped = width - previous + current
        counted = wrapped if previous >= width - fastest * span / 8 else current
    return counted if counted * 8 <= MAX_BPS * span else None


def rates(previous: dict | None, reading: Reading, now: float) -> dict[str, tuple[int, int] | None]:
    """Bits per second per interface name since the previous poll (None where there is no basis).

    `previous` is {"ts", "uptime", "ifaces": {name: [rx, tx, running]}}. After a reboot (uptime went down) the
    counters restarted at zero, so the rate is what they counted since boot over the uptime: no bogus spike.
    """
    out: dict[str, tuple[int, int] | None] = {}
    if not previous:
        return {i["name"]: None for i in reading.interfaces}
    seconds = now - float(previous.get("ts", 0))
    rebooted = reading.uptime < int(previous.get("uptime", 0))
    before = previous.get("ifaces", {})
    for iface in reading.interfaces:
        name, old = iface["name"], before.get(iface["name"])
        if rebooted:
            span = min(reading.uptime, seconds) if seconds > 0 else reading.uptime
            pair = (round(iface["rx"] * 8 / span), round(iface["tx"] * 8 / span)) if span > 0 else None
            out[name] = pair if pair and max(pair) <= MAX_BPS else None
        elif old is None or seconds <= 0:
            out[name] = None
        else:
            rx, tx = delta(int(old[0]), iface["rx"], seconds), delta(int(old[1]), iface["tx"], seconds)
            out[name] = None if rx is None or tx is None else (round(rx * 8 / seconds), round(tx * 8 / seconds))
    return out
