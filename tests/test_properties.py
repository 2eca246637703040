"""The property layer: off by default, skipped without hypothesis, shrinks, and reruns identically."""

from __future__ import annotations

import re
import shlex

import pytest

IMPLS = ("--normfusion-impl=reference", "--normfusion-impl=candidates:RoundedOnePlusW")
ONLY = ("-k", "properties")
FAILING = "rounded-one-plus-w-properties-rms_norm"

NO_HYPOTHESIS = """
import importlib.util

_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, *args: None if name == "hypothesis" else _find_spec(name, *args)
"""


def failure_text(stdout: str) -> str:
    body = re.split(r"^_+ test_properties\[" + FAILING + r"\] _+$", stdout, flags=re.M)[1]
    return re.split(r"^=+ ", body, flags=re.M)[0].strip()


def test_skipped_unless_asked(run_suite) -> None:
    run = run_suite(*IMPLS, *ONLY)
    statuses = {c["test_id"]: (c["status"], c["reason"]) for c in run.certificate["cases"]}
    reason = "property-based layer not requested: add --normfusion-hypothesis=ci (or =certify)"
    assert statuses == {
        f"{impl}-properties-{op}": ("skipped", reason)
        for impl in ("reference", "rounded-one-plus-w")
        for op in ("rms_norm", "fused_add_rms_norm")
    }


def test_skipped_without_hypothesis(run_suite, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(no_hypothesis=NO_HYPOTHESIS)
    run = run_suite("--normfusion-impl=reference", *ONLY, "--normfusion-hypothesis", "-p", "no_hypothesis")
    assert {c["reason"] for c in run.certificate["cases"]} == {
        "hypothesis is not installed: pip install hypothesis (or pytest-normfusion[test])"
    }


def test_shrinks_reports_blob_and_reruns_identically(run_suite) -> None:
    run = run_suite(*IMPLS, *ONLY, "--normfusion-hypothesis=ci")
    cases = run.cases()
    assert cases["reference-properties-rms_norm"]["status"] == "passed"
    assert cases["reference-properties-fused_add_rms_norm"]["status"] == "passed"
    assert cases["rounded-one-plus-w-properties-fused_add_rms_norm"]["status"] == "skipped"  # has no fused_add
    failed = cases[FAILING]
    assert failed["status"] == "failed" and failed["weight_bias"] == 1.0  # only the Gemma bias exposes it
    assert failed["shape"][0] == 1  # shrunk to a single row
    text = failure_text(run.result.stdout.str())
    for expected in ("shrunk to: rms_norm(x=Tensor[1, ", "y conforms to no allowed profile", "Failing test case: one(",
                     "@reproduce_failure(", "(derived from --normfusion-seed=0), budget ci"):  # fmt: skip
        assert expected in text
    line = text.splitlines()[-1].removeprefix("rerun: ")
    assert line == failed["repro"]
    rerun = run_suite(*shlex.split(line)[1:])
    assert [c["test_id"] for c in rerun.certificate["cases"]] == [FAILING]
    assert failure_text(rerun.result.stdout.str()) == text
