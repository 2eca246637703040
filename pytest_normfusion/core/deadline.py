"""A per-case time limit without extra dependencies: SIGALRM on the main thread.

The alarm interrupts Python code and blocking calls such as ``time.sleep``; a
single native call that never returns to the interpreter (one endless GPU
kernel launch, a C loop holding the GIL) is interrupted only once it returns.
Where no alarm can be set (Windows, a worker thread) cases run unlimited.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class CaseTimeout(BaseException):
    """Raised into the running case; a BaseException so a candidate's ``except Exception`` cannot swallow it."""


def available() -> bool:
    """True where the alarm works: a platform with SIGALRM, on the main thread."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Raise CaseTimeout in the block after ``seconds`` (0 or no alarm available: no limit)."""
    if seconds <= 0 or not available():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"timed out after {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
