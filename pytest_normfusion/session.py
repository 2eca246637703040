"""The session's settings, its loaded candidates, and how a case becomes a test outcome."""

from __future__ import annotations

import dataclasses
import fnmatch
import random
import shlex
from collections.abc import Iterable
from typing import Any

import pytest

from pytest_normfusion import matrix
from pytest_normfusion.loading import Candidate, LoadError, load_candidate

DEFAULT_SEED = 0


@dataclasses.dataclass
class Settings:
    """What the command line and ini asked for, parsed and checked."""

    impl_specs: list[str]
    dtypes: tuple[str, ...]
    seed: int
    full: bool
    case_patterns: list[str]
    device: str  # as asked: auto | cpu | cuda
    resolved_device: str = "cpu"  # what auto became, set once the session starts
    _candidates: list[Candidate] | None = None

    @property
    def candidates(self) -> list[Candidate]:
        """Loaded on first use (the default ``reference`` cannot fail to load)."""
        if self._candidates is None:
            self._candidates = load_candidates(self.impl_specs or ["reference"])
        return self._candidates

    def select(self, cases: Iterable[matrix.Case], full_cases: Iterable[matrix.Case]) -> list[matrix.Case]:
        """The matrix's cases; with ``--normfusion-case``, the matching ones of the full matrix."""
        if not self.case_patterns:
            return list(cases)
        return [c for c in full_cases if any(fnmatch.fnmatchcase(c.id, p) for p in self.case_patterns)]

    def repro(self, candidate: Candidate, case: matrix.Case) -> str:
        """One command that re-runs just this case."""
        args = ["pytest", f"--normfusion-impl={candidate.spec}", f"--normfusion-seed={self.seed}"]
        if self.device != "auto":
            args.append(f"--normfusion-device={self.device}")
        return shlex.join([*args, f"--normfusion-case={case.id}"])


def load_candidates(specs: list[str]) -> list[Candidate]:
    """Load every spec; two candidates of one name are an error (their ids would collide)."""
    candidates = [load_candidate(spec) for spec in specs]
    names = [c.name for c in candidates]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LoadError(f"impl name {', '.join(twice)} given twice; certify each impl once")
    return candidates


def parse_seed(value: str) -> int:
    """An integer, or ``random`` for a fresh one (printed in the header and repro lines)."""
    if value == "random":
        return random.SystemRandom().randrange(2**31)
    try:
        return int(value)
    except ValueError:
        raise pytest.UsageError(f"--normfusion-seed={value!r}: expected an integer or 'random'") from None


def resolve_device(value: str) -> str:
    """``auto`` is CUDA when present, else the CPU."""
    if value not in ("auto", "cpu", "cuda"):
        raise pytest.UsageError(f"--normfusion-device={value!r}: expected auto, cpu or cuda")
    if value != "auto":
        return value
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def parametrize(metafunc: pytest.Metafunc, cases: list[matrix.Case], settings: Settings) -> None:
    """Parametrize ``nf_candidate`` x ``nf_case`` with ids ``<impl>-<case id>``."""
    params = [pytest.param(c, case, id=f"{c.name}-{case.id}") for c in settings.candidates for case in cases]
    metafunc.parametrize(("nf_candidate", "nf_case"), params)


def record(case: matrix.Case, candidate: Candidate, status: str, **extra: Any) -> dict[str, Any]:
    """The per-case record that rides ``user_properties`` to the controller and the report."""
    fields = dataclasses.asdict(case)
    return {"impl": candidate.name, "case": case.id, **fields, "status": status, **extra}


def settle(node: pytest.Item, candidate: Candidate, case: matrix.Case, outcome: Any, settings: Settings) -> None:
    """Record the outcome on the test item, then pass, skip or fail the test with its message."""
    node.user_properties.append(
        (
            "normfusion",
            record(
                case, candidate, outcome.status, reason=(outcome.message.splitlines() or [""])[0], **outcome.metrics
            ),
        )
    )
    if outcome.status == "passed":
        return
    if outcome.status == "skipped":
        pytest.skip(outcome.message)
    m = outcome.metrics
    numbers = (
        f"vs fp64 ideal: max {m['max_ulp']} ulp, rel {m['rel_err']:.3g}; profile followed: {m['profile'] or 'none'}\n"
        if "max_ulp" in m
        else ""
    )
    pytest.fail(
        f"[{outcome.status}] {case.id} [impl {candidate.name}]\n{case.summary()}\n{outcome.message}\n"
        f"{numbers}seed {settings.seed}; rerun: {settings.repro(candidate, case)}",
        pytrace=False,
    )
