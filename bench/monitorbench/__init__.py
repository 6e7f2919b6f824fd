"""The monitoring benchmarks' parts (bench/monitoring.py runs them)."""
