"""RQ jobs (ids in, never objects), the worker class and the periodic schedule: the top of the worker side."""
