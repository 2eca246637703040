"""The per-case time limit: interrupts, restores the previous handler, and stays off where it cannot work."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from pytest_normfusion.core.deadline import CaseTimeout, available, deadline


def test_interrupts_a_blocking_call() -> None:
    start = time.monotonic()
    with pytest.raises(CaseTimeout, match=r"timed out after 0\.05 s"), deadline(0.05):
        time.sleep(30)
    assert time.monotonic() - start < 10


def test_is_not_an_exception_a_candidate_can_swallow() -> None:
    assert not issubclass(CaseTimeout, Exception)


def test_restores_the_previous_handler_and_disarms() -> None:
    before = signal.getsignal(signal.SIGALRM)
    with deadline(5.0):
        pass
    assert signal.getsignal(signal.SIGALRM) is before
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_zero_means_no_limit() -> None:
    with deadline(0):
        time.sleep(0.01)
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


def test_off_outside_the_main_thread() -> None:
    seen = {}

    def worker() -> None:
        seen["available"] = available()
        with deadline(0.01):  # no alarm from here: runs to the end
            time.sleep(0.05)
        seen["done"] = True

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert seen == {"available": False, "done": True}
