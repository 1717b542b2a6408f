"""Background calendar sync: per-user sync tasks, the scheduler fan-out and push channels.

See docs/sync.md for how the pieces fit and why they are ordered as they are.
"""
