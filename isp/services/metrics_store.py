"""Monitoring storage (being built by its owner): samples, rollups, retention, graph reads, storage size.

Contract used by others:
- `graph(router_id, series, start, end) -> dict`: compact columns for a chart. `series` is "system" (cpu, memory,
  temperature, voltage, ppp_active, hotspot_active) or "iface:<interface id>" (rx, tx bits per second). It picks
  the resolution by range (raw, 60 s or 3600 s buckets) so at most about 1,000 points come back:
  {"step": 60, "t": [epoch seconds...], "cpu": [...], ...}; for rollups each column also has "<name>_min" and
  "<name>_max" where stored. Missing buckets are absent (the chart draws a gap where t jumps by > step).
- `live(router_id) -> dict`: the last minute from Redis: {"t": [...], "ifaces": {name: {"rx": [...], "tx": [...]}}}.
- `watch(router_id)`: mark a router as watched by a page (Redis key with a short TTL) and queue its live read
  (MONITOR_LIVE) once; no router I/O in the request.
"""
from __future__ import annotations
