"""The certificate's records: one ``CaseRecord`` per conformance or perf case, one ``PassRecord`` per
fusion-pass run. These dataclasses are the schema of docs/certificate.md; a record rides a test's
``user_properties`` as its plain dict (xdist sends only plain data) and is rebuilt on the controller.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Outcome

# characters of a case's full message kept (tracebacks can be long)
MESSAGE_LIMIT = 4000
# the user_properties names records ride under
CASE_PROPERTY = "normfusion"
PASS_PROPERTY = "normfusion_pass"
# Metrics with a field of their own; others (timing_mode, us_iqr, ...) are kept in ``extra``.
ERROR_KEYS = ("profile", "max_ulp", "rel_err")
TIMING_KEYS = ("us", "gbps", "copy_fraction")
SPEEDUP_PREFIX = "speedup_vs_"
PENDING = "pending"  # a record placed at collection, not settled yet


def truncated(message: str) -> str:
    return message[:MESSAGE_LIMIT] + ("\n[... truncated]" if len(message) > MESSAGE_LIMIT else "")


def first_line(message: str) -> str:
    return (message.splitlines() or [""])[0]


@dataclasses.dataclass
class CaseRecord:
    """One case of one impl: what it was, how it ended, its numbers, and how to rerun it."""

    check: str | None  # the test it comes from: norm, allreduce, properties, speed, allreduce_speed
    id: str  # the case id
    test_id: str  # <impl>-<case id>
    impl: str
    op: str | None = None
    dtype: str | None = None
    weight: str | None = None
    weight_bias: float | None = None
    residual: bool | None = None
    shape: list[int] | None = None  # [tokens, hidden]
    eps: float | None = None
    layout: str | None = None
    magnitude: str | None = None
    world_size: int | None = None
    status: str = PENDING
    raw_status: str | None = None  # the status before an xfail entry turned it into xfailed / xpassed
    failed_checks: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""  # the first line of the message
    message: str = ""
    expectation: dict[str, Any] | None = None  # the skip / xfail entry that matched
    repro: str | None = None
    duration_s: float | None = None
    profile: str | None = None  # the rounding profile the outputs followed
    max_ulp: float | None = None  # vs the fp64 ideal
    rel_err: float | None = None
    us: float | None = None  # median latency
    gbps: float | None = None
    copy_fraction: float | None = None
    speedups: dict[str, float] = dataclasses.field(default_factory=dict)  # rival -> rival time / ours
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def for_case(
        cls, check: str | None, impl: str, case: Case | None, case_id: str, op: str | None = None
    ) -> CaseRecord:
        """A pending record; ``case`` None for a test without a matrix case (properties, a skip placeholder)."""
        record = cls(check=check, id=case_id, test_id=f"{impl}-{case_id}", impl=impl, op=op)
        if case is not None:
            record.describe(case)
        return record

    def describe(self, case: Case) -> None:
        """Fill the case's fields (a property test's minimal failing example, say)."""
        self.op, self.dtype, self.weight, self.weight_bias = case.op, case.dtype, case.weight, case.weight_bias
        self.residual, self.shape, self.eps = case.residual, [case.tokens, case.hidden], case.eps
        self.layout, self.magnitude, self.world_size = case.layout, case.magnitude, case.world_size

    def settle(self, outcome: Outcome, repro: str | None) -> None:
        """Take the outcome's status, checks, message and numbers."""
        self.status = outcome.status.value
        self.failed_checks = outcome.failed_checks
        self.message = truncated(outcome.message)
        self.reason = first_line(outcome.message)
        self.repro = repro
        for key, value in outcome.metrics.items():
            if key in ERROR_KEYS or key in TIMING_KEYS:
                setattr(self, key, value)
            elif key.startswith(SPEEDUP_PREFIX):
                self.speedups[key.removeprefix(SPEEDUP_PREFIX)] = value
            else:
                self.extra[key] = value

    def as_dict(self) -> dict[str, Any]:
        """The certificate's JSON entry (and what rides ``user_properties``)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CaseRecord:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})


@dataclasses.dataclass
class PassRecord:
    """One fusion-pass run: a pass on one test model, with one tracer at one world size."""

    test_id: str  # <pass>-<model>-<tracer>-ws<N>
    pass_name: str
    model: str
    tracer: str
    world_size: int
    status: str
    fused: int  # fused nodes the pass made
    expected: str  # fused nodes a correct pass makes ("4", "3..4")
    failed_checks: list[str] = dataclasses.field(default_factory=list)
    reason: str = ""
    message: str = ""
    repro: str | None = None
    rel_diff: float | None = None  # largest normwise relative difference of an output from the original graph's
    rel_bound: float | None = None
    duration_s: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PassRecord:
        return cls(**{f.name: data[f.name] for f in dataclasses.fields(cls) if f.name in data})
