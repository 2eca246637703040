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
    world_sizes: tuple[int, ...] | None = None  # None: the default for the device (see default_world_sizes)
    timeout: float = 60.0  # seconds a distributed job may take before its ranks count as hung
    max_pool_rebuilds: int = 4  # pools of one world size torn down after failures before giving up
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


def default_world_sizes(device: str) -> tuple[int, ...]:
    """Under torchrun its world size; else 1,2,4 on the CPU, and 1,2,4,8 up to the GPU count on CUDA."""
    from pytest_normfusion.pool import torchrun_env

    launched = torchrun_env()
    if launched is not None:
        return (launched[1],)
    if device != "cuda":
        return (1, 2, 4)
    import torch

    return tuple(n for n in matrix.WORLD_SIZES if n <= max(1, torch.cuda.device_count()))


def parse_world_sizes(value: str) -> tuple[int, ...] | None:
    """``"1,2,4"`` -> ``(1, 2, 4)`` sorted; ``auto`` -> None; raises pytest.UsageError naming the form."""
    if value.strip() == "auto":
        return None
    try:
        sizes = sorted({int(v) for v in value.split(",") if v.strip()})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] < 1:
        raise pytest.UsageError(
            f"--normfusion-world-sizes={value!r}: expected positive integers separated by commas (e.g. 1,2,4,8) or auto"
        )
    return tuple(sizes)


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
