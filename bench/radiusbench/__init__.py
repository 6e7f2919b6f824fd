"""RADIUS benchmarks for bench/radius.py: each module exposes `run() -> str`, the line it prints."""
