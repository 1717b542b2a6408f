"""Run test work on several threads at once, for races the code must survive."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence


def run_together(work: Sequence[Callable[[], None]], *, timeout: float = 120) -> None:
    """Start each callable on its own thread, then wait up to `timeout` s for each."""
    threads = [threading.Thread(target=w) for w in work]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
