"""Fixtures for the plugin's own tests: run the suite in a subprocess against chosen candidates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture
def run_suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    """``run_suite(*args)``: the conformance suite in a fresh subprocess, in an empty directory
    holding this folder's candidate modules (so ``candidates:Class`` specs import).

    One OpenMP thread each: these subprocesses run side by side under ``-n 2``, and spinning
    OpenMP threads on oversubscribed cores slow torch twentyfold (see plugin._share_cores)."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    for module in HERE.glob("*candidates.py"):
        shutil.copy(module, pytester.path / module.name)

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    return run
