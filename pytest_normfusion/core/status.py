"""The statuses a case can end in, with the one severity order every part of the suite uses."""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Status(str, enum.Enum):
    """How a case ended. A ``str``: records, JSON and comparisons see the plain value."""

    PASSED = "passed"
    FAILED = "failed"  # wrong outputs (or too slow, in a perf check)
    SILENT_WRONG = "silent-wrong"  # declined by supports(), then returned wrong values without an error
    ERROR = "error"  # the candidate (or a rank) raised or crashed
    TIMEOUT = "timeout"
    SKIPPED = "skipped"
    XFAILED = "xfailed"  # listed in the xfail file, and failed
    XPASSED = "xpassed"  # listed in the xfail file, but passed

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__  # f"{status}" is the value too

    @property
    def severity(self) -> int:
        """How bad the status is: a case regresses when this grows; a passing case that is now
        skipped or xfailed has lost coverage; a silent wrong answer is the worst."""
        return SEVERITY[self]

    @property
    def bad(self) -> bool:
        """A status that fails the run (and lists the case under failures)."""
        return self in BAD


SEVERITY = {
    Status.PASSED: 0,
    Status.XPASSED: 0,
    Status.SKIPPED: 1,
    Status.XFAILED: 2,
    Status.FAILED: 3,
    Status.TIMEOUT: 3,
    Status.ERROR: 3,
    Status.SILENT_WRONG: 4,
}
BAD = frozenset({Status.FAILED, Status.SILENT_WRONG, Status.ERROR, Status.TIMEOUT, Status.XPASSED})
# The order statuses are shown in (tables, summaries); among equally severe statuses,
# ``worst`` takes the earlier one.
DISPLAY = (
    Status.PASSED,
    Status.FAILED,
    Status.SILENT_WRONG,
    Status.ERROR,
    Status.TIMEOUT,
    Status.SKIPPED,
    Status.XFAILED,
    Status.XPASSED,
)


def worst(statuses: Iterable[Status]) -> Status:
    """The most severe status (ties: the first in ``DISPLAY``); PASSED for none."""
    return max(statuses, key=lambda s: (s.severity, -DISPLAY.index(s)), default=Status.PASSED)
