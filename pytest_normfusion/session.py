"""The session's settings, its loaded candidates, and how a case becomes a test outcome."""

from __future__ import annotations

import dataclasses
import fnmatch
import random
import shlex
from collections.abc import Iterable
from typing import Any

import pytest

from pytest_normfusion import expectations, matrix
from pytest_normfusion.loading import Candidate, FusionPassCandidate, LoadError, load_candidate, load_pass
from pytest_normfusion.results import RECORD

DEFAULT_SEED = 0
# Seconds a candidate call may take. The full matrix's largest case (fused add,
# 4096 x 4096) took 27 s per test, judging and torch.compile's compile included,
# on 2 shared CPU cores: a call past 120 s is hung, not slow.
DEFAULT_CASE_TIMEOUT = 120.0


@dataclasses.dataclass
class Settings:
    """What the command line and ini asked for, parsed and checked."""

    impl_specs: list[str]
    dtypes: tuple[str, ...]
    seed: int
    full: bool
    case_patterns: list[str]
    device: str  # as asked: auto | cpu | cuda
    case_timeout: float = DEFAULT_CASE_TIMEOUT  # seconds a case may run; 0 turns the limit off
    hypothesis: str | None = None  # property-layer profile (ci | certify), None: off
    resolved_device: str = "cpu"  # what auto became, set once the session starts
    world_sizes: tuple[int, ...] | None = None  # None: the default for the device (see default_world_sizes)
    timeout: float = 60.0  # seconds a distributed job may take before its ranks count as hung
    max_pool_rebuilds: int = 4  # pools of one world size torn down after failures before giving up
    _candidates: list[Candidate] | None = None
    pass_specs: list[str] = dataclasses.field(default_factory=list)  # --normfusion-pass, as given
    _passes: list[FusionPassCandidate] | None = None

    @property
    def candidates(self) -> list[Candidate]:
        """Loaded on first use (the default ``reference`` cannot fail to load)."""
        if self._candidates is None:
            self._candidates = load_candidates(self.impl_specs or ["reference"])
        return self._candidates

    @property
    def passes(self) -> list[FusionPassCandidate]:
        """The fusion passes, loaded on first use (default: the reference pass)."""
        if self._passes is None:
            self._passes = load_passes(self.pass_specs or ["reference"])
        return self._passes

    def runs_suite(self, suite: str) -> bool:
        """Whether the ``impls`` or ``passes`` suite runs: the one named, both when neither is."""
        named = {"impls": bool(self.impl_specs), "passes": bool(self.pass_specs)}
        return named[suite] or not any(named.values())

    def pass_repro(self, fusion_pass: FusionPassCandidate, model_id: str, world_size: int = 1) -> str:
        """One command that re-runs one test model (every tracer, or one world size)."""
        args = ["pytest", f"--normfusion-pass={fusion_pass.spec}", f"--normfusion-seed={self.seed}"]
        if world_size > 1:
            args.append(f"--normfusion-world-sizes={world_size}")
        return shlex.join([*args, f"--normfusion-case={model_id}"])

    def select(self, cases: Iterable[matrix.Case], full_cases: Iterable[matrix.Case]) -> list[matrix.Case]:
        """The matrix's cases; with ``--normfusion-case``, the matching ones of the full matrix."""
        if not self.case_patterns:
            return list(cases)
        return [c for c in full_cases if any(fnmatch.fnmatchcase(c.id, p) for p in self.case_patterns)]

    def _rerun(self, candidate: Candidate) -> list[str]:
        args = ["pytest", f"--normfusion-impl={candidate.spec}", f"--normfusion-seed={self.seed}"]
        if self.device != "auto":
            args.append(f"--normfusion-device={self.device}")
        if self.case_timeout != DEFAULT_CASE_TIMEOUT:
            args.append(f"--normfusion-case-timeout={self.case_timeout:g}")
        return args

    def repro(self, candidate: Candidate, case: matrix.Case) -> str:
        """One command that re-runs just this case."""
        return shlex.join([*self._rerun(candidate), f"--normfusion-case={case.id}"])

    def repro_property(self, candidate: Candidate, test_id: str) -> str:
        """One command that re-runs just this property test, drawing the same examples."""
        return shlex.join([*self._rerun(candidate), f"--normfusion-hypothesis={self.hypothesis}", "-k", test_id])


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


def load_passes(specs: list[str]) -> list[FusionPassCandidate]:
    """Load every pass spec; two passes of one name are an error (their ids would collide)."""
    passes = [load_pass(spec) for spec in specs]
    names = [p.name for p in passes]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LoadError(f"pass name {', '.join(twice)} given twice; certify each pass once")
    return passes


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


def put_record(node: pytest.Item, rec: dict[str, Any]) -> None:
    """Attach ``rec`` to the item, updating the record placed at collection (one per item)."""
    for i, (name, value) in enumerate(node.user_properties):
        if name == RECORD:
            node.user_properties[i] = (RECORD, {**value, **rec})
            return
    node.user_properties.append((RECORD, rec))


def placeholder(item: pytest.Item, case_id: str, entry: expectations.Entry | None) -> dict[str, Any]:
    """The record a conformance test starts with; ``settle`` completes it, or the report explains it."""
    params = item.callspec.params  # type: ignore[attr-defined]
    candidate, case = params["nf_candidate"], params.get("nf_case")
    if isinstance(case, matrix.Case):
        base = record(case, candidate, "pending")
    else:  # no matrix case: the property layer, or a param that says why the test cannot run
        base = {"impl": candidate.name, "case": case_id, "op": params.get("nf_op"), "status": "pending"}
    if entry is not None and entry.kind == "skip":
        base.update(status="skipped", reason=entry.shown())
    check = item.originalname.removeprefix("test_")  # type: ignore[attr-defined]
    return {**base, "check": check, "expectation": None if entry is None else expectations.as_data(entry)}


def prepare(items: list[pytest.Item], entries: list[expectations.Entry], strict: bool) -> list[expectations.Entry]:
    """Apply the skip/xfail entries and give every conformance test its record; returns unmatched entries."""
    matched, hits = expectations.apply(items, entries, strict)
    for item in items:
        ids = expectations.test_ids(item)
        if ids is not None:
            put_record(item, placeholder(item, ids[1], matched.get(item)))
    return [e for e in entries if not hits[e]]


def unselected(items: list[pytest.Item], settings: Settings) -> list[pytest.Item]:
    """Conformance tests without a matrix case (the property layer) that ``--normfusion-case`` leaves out.

    A case selection names matrix cases; the property tests stay only when
    ``--normfusion-hypothesis`` asks for them too.
    """
    if not settings.case_patterns or settings.hypothesis is not None:
        return []
    return [
        item
        for item in items
        if expectations.test_ids(item) is not None and "nf_case" not in item.callspec.params  # type: ignore[attr-defined]
    ]


def settle(node: pytest.Item, candidate: Candidate, case: matrix.Case, outcome: Any, settings: Settings) -> None:
    """Record the outcome on the test item, then pass, skip or fail the test with its message."""
    repro = settings.repro(candidate, case)
    put_record(
        node,
        record(
            case,
            candidate,
            outcome.status,
            reason=(outcome.message.splitlines() or [""])[0],
            message=outcome.message,
            repro=repro,
            **outcome.metrics,
        ),
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
        f"{numbers}seed {settings.seed}; rerun: {repro}",
        pytrace=False,
    )


def settle_property(
    node: pytest.Item, candidate: Candidate, op: str, outcome: Any, case: matrix.Case | None, settings: Settings
) -> None:
    """Record a property test's outcome (with the minimal failing case's fields), then pass or fail it."""
    test_id = f"{candidate.name}-properties-{op}"
    repro = settings.repro_property(candidate, test_id)
    fields = {} if case is None else dataclasses.asdict(case)
    put_record(
        node,
        {
            **fields,
            "impl": candidate.name,
            "case": f"properties-{op}",
            "op": op,
            "status": outcome.status,
            "reason": (outcome.message.splitlines() or [""])[0],
            "message": outcome.message,
            "repro": repro,
            **outcome.metrics,
        },
    )
    if outcome.status != "passed":
        pytest.fail(
            f"[{outcome.status}] properties of {op} [impl {candidate.name}]\n{outcome.message}\nrerun: {repro}",
            pytrace=False,
        )
