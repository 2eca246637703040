"""Shared helpers of the plugin's tests: run the suite in a subprocess and read its certificate."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).parent


class SuiteRun:
    """One ``pytest`` subprocess over the installed suite, with its certificate when one was asked for."""

    def __init__(self, result: pytest.RunResult, report: Path | None) -> None:
        self.result = result
        written = report is not None and report.exists()
        self.certificate: dict[str, Any] | None = json.loads(report.read_text()) if written else None
        self.markdown = report.with_suffix(".md").read_text() if written else None

    def cases(self) -> dict[str, dict[str, Any]]:
        """The certificate's cases by test id."""
        assert self.certificate is not None, self.result.stdout.str()
        return {c["test_id"]: c for c in self.certificate["cases"]}


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """``run_suite(*args, report="cert.json")``: the suite in a fresh process, candidates of tests/ importable."""
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(TESTS_DIR), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")

    def run(*args: str, report: str | None = "cert.json") -> SuiteRun:
        extra = [f"--normfusion-report={report}"] if report else []
        result = pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, *extra)
        return SuiteRun(result, pytester.path / report if report else None)

    return run


@pytest.fixture
def run_plain(run_suite):
    """``run_plain(*args)``: like ``run_suite`` without a certificate, returning pytester's RunResult."""
    return lambda *args: run_suite(*args, report=None).result
