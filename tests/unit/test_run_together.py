"""The thread helper hands its threads' failures and hangs to the test that called it."""

from __future__ import annotations

import threading

import pytest

from tests.support.threads import run_together


def test_every_callable_runs_on_its_own_thread() -> None:
    seen: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=10)

    def work() -> None:
        barrier.wait()  # only passes if all three run at the same time
        with lock:
            seen.append(threading.current_thread().name)

    run_together([work, work, work], timeout=30)
    assert sorted(seen) == ["run-together-0", "run-together-1", "run-together-2"]


def test_an_exception_in_a_thread_is_raised_to_the_caller() -> None:
    def boom() -> None:
        raise ValueError("from a thread")

    with pytest.raises(ValueError, match="from a thread"):
        run_together([lambda: None, boom], timeout=30)


def test_an_assertion_in_a_thread_fails_the_test() -> None:
    def check() -> None:
        assert 1 + 1 == 3, "thread saw a wrong value"

    with pytest.raises(AssertionError, match="thread saw a wrong value"):
        run_together([check], timeout=30)


def test_several_failures_come_back_together_in_order() -> None:
    def fail(n: int) -> None:
        raise RuntimeError(f"thread {n}")

    with pytest.raises(BaseExceptionGroup) as caught:
        run_together([lambda: fail(0), lambda: None, lambda: fail(2)], timeout=30)
    assert [str(e) for e in caught.value.exceptions] == ["thread 0", "thread 2"]


def test_a_thread_still_running_at_the_deadline_is_a_timeout() -> None:
    release = threading.Event()
    try:
        with pytest.raises(TimeoutError, match=r"1 of 2 threads still running after 0\.2 s"):
            run_together([lambda: None, lambda: release.wait(30)], timeout=0.2)
    finally:
        release.set()
