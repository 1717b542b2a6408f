"""Run test work on several threads at once, for races the code must survive.

A thread's exception would otherwise vanish into `threading.excepthook` and a
thread that hangs would be abandoned by `join(timeout)`: either way the test
would go on to assert on half-done work. So both fail the caller: every
thread's exception is re-raised (one alone, or together in an
ExceptionGroup), and a thread still running at the deadline is a TimeoutError.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence


def run_together(work: Sequence[Callable[[], object]], *, timeout: float = 120) -> None:
    """Start each callable on its own thread; wait up to `timeout` s in all for every one."""
    errors: list[tuple[int, BaseException]] = []
    lock = threading.Lock()

    def guarded(i: int, w: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            try:
                w()
            except BaseException as exc:  # handed to the caller below
                with lock:
                    errors.append((i, exc))

        return run

    threads = [
        threading.Thread(target=guarded(i, w), name=f"run-together-{i}", daemon=True)
        for i, w in enumerate(work)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(timeout=max(0.0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        raise TimeoutError(
            f"{len(stuck)} of {len(threads)} threads still running after {timeout} s"
        )
    found = [exc for _, exc in sorted(errors, key=lambda e: e[0])]
    if len(found) == 1:
        raise found[0]
    if found:
        raise BaseExceptionGroup(f"{len(found)} of {len(threads)} threads failed", found)
