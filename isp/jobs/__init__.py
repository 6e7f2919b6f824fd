"""RQ jobs (ids in, never objects), the worker class and the periodic schedule."""

QUEUES = ("critical", "high", "normal", "low", "bulk")
