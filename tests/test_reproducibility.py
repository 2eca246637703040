"""A failure is a function of the session seed and the case id alone: alone, reordered, on an xdist
worker, and through the printed rerun line, it fails with the same text."""

from __future__ import annotations

import re
import shlex

import pytest

IMPL = "--normfusion-impl=candidates:VarianceInInputDtype"
A = "rms_norm-fp16-w_none-bias0-T33xH67-eps1e-05-contiguous-normal"
B = "rms_norm-bf16-w_none-bias0-T33xH67-eps1e-05-contiguous-normal"
TEST_A = f"variance-in-input-dtype-{A}"

REVERSE = """
def pytest_collection_modifyitems(items):
    items.reverse()
"""


def failure_text(stdout: str, test_id: str) -> str:
    """The failure section pytest printed for one test (header and xdist's worker line excluded)."""
    sections = re.split(r"^_+ test_\S+ _+$", stdout, flags=re.M)
    headers = re.findall(r"^_+ (test_\S+) _+$", stdout, flags=re.M)
    body = next(s for h, s in zip(headers, sections[1:], strict=True) if test_id in h)
    text = re.split(r"^=+ ", body, flags=re.M)[0].strip()
    return re.sub(r"^\[gw\d+\] .*\n", "", text)


def record(run, test_id: str) -> dict:
    return {k: v for k, v in run.cases()[test_id].items() if k != "duration_s"}


@pytest.fixture
def both(run_suite):
    """A and B in matrix order, in one process."""
    return run_suite(IMPL, f"--normfusion-case={A}", f"--normfusion-case={B}")


def test_failure_repeats_alone_reordered_and_on_a_worker(run_suite, pytester: pytest.Pytester, both) -> None:
    pytester.makepyfile(reverse_order=REVERSE)
    alone = run_suite(IMPL, f"--normfusion-case={A}")
    reordered = run_suite(IMPL, f"--normfusion-case={A}", f"--normfusion-case={B}", "-p", "reverse_order")
    on_worker = run_suite(IMPL, f"--normfusion-case={B}", f"--normfusion-case={A}", "-n", "2")
    order = [line for line in reordered.result.outlines if line.startswith("FAILED")]
    assert B in order[0] and A in order[1]  # the order really was reversed
    text = failure_text(both.result.stdout.str(), TEST_A)
    assert "worst element vs fp32: y[" in text and "rerun: pytest" in text
    for other in (alone, reordered, on_worker):
        assert failure_text(other.result.stdout.str(), TEST_A) == text
        assert record(other, TEST_A) == record(both, TEST_A)
    reseeded = run_suite(IMPL, f"--normfusion-case={A}", "--normfusion-seed=1")
    assert record(reseeded, TEST_A)["message"] != record(both, TEST_A)["message"]  # the text depends on the inputs


def test_printed_rerun_line_reproduces_the_failure(run_suite, both) -> None:
    text = failure_text(both.result.stdout.str(), TEST_A)
    line = next(row for row in text.splitlines() if "rerun: " in row).split("rerun: ", 1)[1]
    assert line == record(both, TEST_A)["repro"]
    program, *args = shlex.split(line)
    assert program == "pytest"
    rerun = run_suite(*args)
    summary = [ln for ln in rerun.result.outlines if ln.startswith(f"FAILED test_norms.py::test_norm[{TEST_A}]")]
    assert len(summary) == 1  # the short summary may append the message, as wide as the terminal allows
    assert [c["test_id"] for c in rerun.certificate["cases"]] == [TEST_A]
    assert failure_text(rerun.result.stdout.str(), TEST_A) == text
