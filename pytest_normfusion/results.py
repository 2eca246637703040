"""The controller's collector: one record per case from the test reports (xdist workers' included),
and the terminal summary's tables."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable
from typing import Any

import pytest

from pytest_normfusion.certificate.record import CASE_PROPERTY, PASS_PROPERTY, PENDING, CaseRecord, PassRecord
from pytest_normfusion.core.case import OPS
from pytest_normfusion.core.outcome import Check
from pytest_normfusion.core.status import DISPLAY, Status

# The tests whose cases certify an impl (the perf checks time, they do not certify).
CONFORMANCE_CHECKS = ("norm", "allreduce", "properties")


def _crash_line(report: pytest.TestReport) -> str:
    """One line saying why a test ended outside ``settle``: the skip reason or the crash message."""
    longrepr = report.longrepr
    if isinstance(longrepr, tuple):  # a skip: (path, line, reason)
        return str(longrepr[2]).removeprefix("Skipped: ")
    crash = getattr(longrepr, "reprcrash", None)
    if crash is not None:
        return crash.message.splitlines()[0] if crash.message else "crashed"
    lines = str(longrepr or "").strip().splitlines()
    return lines[-1] if lines else "ended without a recorded outcome"


def record_of(report: pytest.TestReport) -> CaseRecord | None:
    """The record a test attached, completed with pytest's outcome.

    A record still pending never reached ``settle`` (an error in a fixture, in the
    test, a skip mark); an xfail entry turns the status into xfailed / xpassed and
    keeps the status the case had on its own in ``raw_status``.
    """
    data = next((value for name, value in report.user_properties if name == CASE_PROPERTY), None)
    if data is None:
        return None
    record = CaseRecord.from_dict(dict(data))
    record.duration_s = round(report.duration, 4)
    if record.status == PENDING:
        skipped = report.skipped and not hasattr(report, "wasxfail")
        record.status = Status.SKIPPED.value if skipped else Status.ERROR.value
        record.reason, record.message = _crash_line(report), str(report.longrepr or "")
    if hasattr(report, "wasxfail") or ((record.expectation or {}).get("kind") == "xfail" and report.failed):
        if record.status != Status.SKIPPED:
            record.raw_status = record.status
            record.status = (Status.XFAILED if report.skipped else Status.XPASSED).value
    elif report.failed and record.status == Status.PASSED:
        record.status = Status.FAILED.value  # failed after settling, e.g. in teardown
    return record


def crashed_record(report: pytest.TestReport, impl_names: list[str]) -> CaseRecord | None:
    """The record of a conformance test whose xdist worker died under it (its own record died too)."""
    function, _, param = report.nodeid.rpartition("::")[2].partition("[")
    param = param.removesuffix("]")
    # the longest name that prefixes the id: impls "my" and "my-impl" both prefix "my-impl-rms_norm-..."
    impl = max((name for name in impl_names if param.startswith(f"{name}-")), key=len, default=None)
    if impl is None:
        return None
    case_id = param.removeprefix(f"{impl}-")
    record = CaseRecord.for_case(
        function.removeprefix("test_"),
        impl,
        None,
        case_id,
        op=max((op for op in OPS if op in case_id), key=len, default=None),  # fused_add_rms_norm holds rms_norm
    )
    record.status, record.failed_checks = Status.ERROR.value, [Check.CRASHED.value]
    record.reason = f"{report.longrepr} (a crash, e.g. a segfault in the candidate)"
    record.message = str(report.longrepr)
    return record


def pass_record_of(report: pytest.TestReport) -> PassRecord | None:
    """The fusion-pass record a test attached."""
    data = next((v for name, v in report.user_properties if name == PASS_PROPERTY), None)
    if data is None:
        return None
    record = PassRecord.from_dict(dict(data))
    record.duration_s = round(report.duration, 4)
    return record


class Results:
    """Collects one record per case from the reports (xdist workers' included)."""

    def __init__(self, impl_names: Callable[[], list[str]]) -> None:
        self.records: list[CaseRecord] = []
        self.pass_records: list[PassRecord] = []
        self.impl_names = impl_names  # called only when a worker crashed

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        record = None
        if report.when == "call" or (report.when == "setup" and not report.passed):  # one per test
            record = record_of(report)
            pass_record = pass_record_of(report)
            if pass_record is not None:
                self.pass_records.append(pass_record)
        elif report.when == "???" and report.failed:  # xdist's report for a test its worker crashed in
            record = crashed_record(report, self.impl_names())
        if record is not None:
            self.records.append(record)

    def xpassed(self) -> list[str]:
        """One line per test of the xfail file that passed: the entry may be stale."""
        return [
            f"XPASS {r.test_id}: listed as expected to fail ({(r.expectation or {}).get('source')}), but passed"
            for r in self.records
            if r.status == Status.XPASSED
        ]

    def uncertified(self) -> dict[str, int]:
        """Impls whose every conformance case was skipped (declined, lacking, or listed) -> how many cases."""
        seen: dict[str, Counter[str]] = defaultdict(Counter)
        for r in self.records:
            if r.check in CONFORMANCE_CHECKS:
                seen[r.impl][r.status] += 1
        return {impl: c.total() for impl, c in sorted(seen.items()) if set(c) == {Status.SKIPPED.value}}

    def pass_table(self) -> list[str]:
        """Per pass and model: how its runs (tracers, world sizes) went and the fused-node count."""
        runs: dict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        fused: dict[tuple[str, str], set[int]] = defaultdict(set)
        expected: dict[tuple[str, str], str] = {}
        for rec in self.pass_records:
            key = (rec.pass_name, rec.model)
            runs[key][rec.status] += 1
            fused[key].add(rec.fused)
            expected[key] = rec.expected
        columns = ("passed", "failed", "error")
        width = max([4, *(len(p) for p, _ in runs)])
        lines = [
            f"{'pass':<{width}} {'model':<30} " + " ".join(f"{c:>6}" for c in columns) + "  fused nodes (expected)"
        ]
        for key in sorted(runs):
            counts = " ".join(f"{runs[key][c]:>6}" for c in columns)
            made = ",".join(map(str, sorted(fused[key])))
            lines.append(f"{key[0]:<{width}} {key[1]:<30} {counts}  {made} ({expected[key]})")
        return lines

    def pool_lines(self) -> list[str]:
        """Per world size: pool spawns (and their seconds), cases, median dispatch overhead per case."""
        spawns: dict[int, list[float]] = defaultdict(list)
        dispatch: dict[int, list[float]] = defaultdict(list)
        for rec in self.records:
            ws = rec.world_size or 1
            if "dispatch_ms" in rec.extra:
                dispatch[ws].append(rec.extra["dispatch_ms"])
            if "pool_spawn_s" in rec.extra:
                spawns[ws].append(rec.extra["pool_spawn_s"])
        capped = sorted({rec.world_size or 1 for rec in self.records if rec.extra.get("pool_capped")})
        lines = [
            f"rank pool ws{ws}: hit the rebuild cap (--normfusion-max-pool-rebuilds); its later cases failed unrun"
            for ws in capped
        ]
        for ws in sorted(dispatch):
            ms = sorted(dispatch[ws])
            started = ", ".join(f"{s:g} s" for s in spawns[ws])
            lines.append(
                f"rank pool ws{ws}: {len(spawns[ws])} spawn(s) ({started or 'before the first recorded case'}), "
                f"{len(ms)} cases, dispatch overhead median {ms[len(ms) // 2]:.2f} ms, max {ms[-1]:.2f} ms"
            )
        return lines

    def table(self) -> list[str]:
        """Per impl: op x dtype x weight dtype x weight_bias (x world size) counts and profiles."""
        groups: dict[tuple[Any, ...], Counter[str]] = defaultdict(Counter)
        profiles: dict[tuple[Any, ...], set[str]] = defaultdict(set)
        for rec in self.records:
            key = (
                rec.impl,
                rec.op or "-",
                rec.world_size or 1,
                rec.dtype or "any",
                rec.weight or "any",
                rec.weight_bias or 0.0,
            )
            groups[key][rec.status] += 1
            if rec.profile:
                profiles[key].add(rec.profile)
        lines = []
        header = (
            f"{'op':<20} {'ws':>2} {'dtype':<5} {'weight':<6} {'bias':>4} "
            + " ".join(f"{c:>{max(6, len(c))}}" for c in DISPLAY)
            + "  profile"
        )
        impl = None
        for key in sorted(groups):
            if key[0] != impl:
                impl = key[0]
                lines += [f"impl {impl}", header]
            _, op, ws, dtype, weight, bias = key
            counts = " ".join(f"{groups[key][c]:>{max(6, len(c))}}" for c in DISPLAY)
            lines.append(
                f"{op:<20} {ws:>2} {dtype:<5} {weight:<6} {bias:>4g} {counts}  {','.join(sorted(profiles[key])) or '-'}"
            )
        return lines
