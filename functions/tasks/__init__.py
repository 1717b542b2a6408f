"""Background work delivered at least once: the task queue port and task endpoints."""
