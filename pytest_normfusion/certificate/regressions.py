"""Compare two certificates: what got worse from OLD to NEW.

A regression is a case (same impl and id in both) whose status got worse,
whose error against the fp64 ideal grew past a threshold, or whose latency
grew past one. A different device, versions or seed only warn: the comparison
is still made, but its numbers may then differ for reasons of their own.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

from pytest_normfusion.certificate.document import CertificateError, case_key, load
from pytest_normfusion.core.status import Status


def _severity(status: str) -> int:
    """How bad a status is (``Status.severity``); an unknown one counts as the worst."""
    try:
        return Status(status).severity
    except ValueError:
        return 5


@dataclasses.dataclass(frozen=True)
class Thresholds:
    """How much a number may grow before it is a regression."""

    ulp: float = 1.0  # max_ulp may grow by this many ulp
    rel_err: float = 0.5  # rel_err may grow by this fraction (0.5: to 1.5x)
    latency: float = 0.1  # the median latency (us) may grow by this fraction (0.1: 10 % slower)


@dataclasses.dataclass(frozen=True)
class Regression:
    """One case that got worse, and the message naming field, values and threshold."""

    test_id: str
    field: str
    message: str


def case_regressions(old: dict[str, Any], new: dict[str, Any], limits: Thresholds) -> list[Regression]:
    """What got worse for one case present in both certificates."""
    tid = new["test_id"]
    label = tid + (f" [{new['check']}]" if new.get("check") else "")
    found = []
    if _severity(new["status"]) > _severity(old["status"]):
        found.append(Regression(tid, "status", f"{label}: status {old['status']} -> {new['status']}: {new['reason']}"))
    o, n = old.get("max_ulp"), new.get("max_ulp")
    if o is not None and n is not None and n > o + limits.ulp:
        found.append(
            Regression(
                tid, "max_ulp", f"{label}: max_ulp {o:g} -> {n:g} (grew by {n - o:.3g} ulp, threshold {limits.ulp:g})"
            )
        )
    o, n = old.get("rel_err"), new.get("rel_err")
    if o is not None and n is not None and n > o * (1 + limits.rel_err) and n > 0:
        found.append(
            Regression(
                tid,
                "rel_err",
                f"{label}: rel_err {o:.4g} -> {n:.4g} (x{n / o if o else float('inf'):.3g}, threshold x{1 + limits.rel_err:g})",
            )
        )
    o, n = old.get("us"), new.get("us")
    if o and n and n > o * (1 + limits.latency):
        found.append(
            Regression(
                tid,
                "us",
                f"{label}: median {o:.4g} us -> {n:.4g} us ({100 * (n / o - 1):.1f}% slower, threshold {100 * limits.latency:g}%)",
            )
        )
    return found


def compare(old: dict[str, Any], new: dict[str, Any], limits: Thresholds) -> tuple[list[Regression], list[str]]:
    """(regressions, warnings) from OLD to NEW."""
    warnings = []
    for field in ("device", "driver", "cuda_runtime", "versions"):
        a, b = old["environment"].get(field), new["environment"].get(field)
        if a != b:
            warnings.append(f"{field} differs: {a} (old) vs {b} (new)")
    if old["run"]["seed"] != new["run"]["seed"]:
        warnings.append(f"seed differs: {old['run']['seed']} (old) vs {new['run']['seed']} (new): the inputs differ")
    old_cases = {case_key(c): c for c in old["cases"]}
    new_cases = {case_key(c): c for c in new["cases"]}
    gone = sorted(set(old_cases) - set(new_cases))
    if gone:
        warnings.append(f"{len(gone)} case(s) of OLD are not in NEW, e.g. {gone[0][1]}-{gone[0][2]} ({gone[0][0]})")
    regressions = []
    for key in sorted(set(old_cases) & set(new_cases)):
        regressions += case_regressions(old_cases[key], new_cases[key], limits)
    return regressions, warnings


def main(argv: list[str]) -> int:
    """Print warnings and regressions; 1 when any regression, 2 on unreadable input."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_normfusion.report compare",
        description="List regressions from OLD to NEW; exit status 1 when there are any.",
    )
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    defaults = Thresholds()
    parser.add_argument(
        "--ulp", type=float, default=defaults.ulp, help="allowed growth of max_ulp in ulp (default %(default)s)"
    )
    parser.add_argument(
        "--rel-err",
        type=float,
        default=defaults.rel_err,
        help="allowed growth of rel_err as a fraction (default %(default)s)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=defaults.latency,
        help="allowed growth of the median latency as a fraction (default %(default)s)",
    )
    args = parser.parse_args(argv)
    try:
        old, new = load(args.old), load(args.new)
    except CertificateError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    regressions, warnings = compare(old, new, Thresholds(args.ulp, args.rel_err, args.latency))
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for regression in regressions:
        print(f"REGRESSION {regression.message}")
    print(f"{len(regressions)} regression(s) in {len(new['cases'])} case(s)")
    return 1 if regressions else 0
