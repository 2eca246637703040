"""What the command line and ini asked for, parsed once into a frozen ``Settings``."""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import os
import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest

from pytest_normfusion import options
from pytest_normfusion.core import matrix
from pytest_normfusion.core.case import Case
from pytest_normfusion.ranks.launcher import torchrun_env


@dataclasses.dataclass(frozen=True)
class Settings:
    """The session's options, checked; the device and world sizes resolve on first use."""

    impl_specs: tuple[str, ...]  # --normfusion-impl, as given (empty: the default, reference)
    pass_specs: tuple[str, ...]  # --normfusion-pass, as given
    dtypes: tuple[str, ...]
    seed: int
    full: bool  # the full matrix, else the quick one
    case_patterns: tuple[str, ...]  # --normfusion-case
    device_option: str  # as asked: auto | cpu | cuda
    case_timeout: float = options.DEFAULT_CASE_TIMEOUT  # seconds a case may run; 0 turns the limit off
    hypothesis: str | None = None  # property-layer example budget (ci | certify), None: off
    world_sizes_option: tuple[int, ...] | None = None  # None: the default for the device
    timeout: float = 60.0  # seconds a distributed job may take before its ranks count as hung
    max_pool_rebuilds: int = 4
    perf_peers: tuple[str, ...] = ()
    min_speedup: float = 1.0
    xfail_strict: bool = False
    report: Path | None = None  # where the certificate goes

    @classmethod
    def from_config(cls, config: pytest.Config, seed: int | None = None) -> Settings:
        """Parse every option; ``seed`` overrides (an xdist worker takes the controller's)."""
        value = functools.partial(options.value, config)
        return cls(
            impl_specs=tuple(config.getoption("normfusion_impl") or config.getini("normfusion_impl")),
            pass_specs=tuple(config.getoption("normfusion_pass") or config.getini("normfusion_pass")),
            dtypes=options.parse_dtypes(value("dtypes")),
            seed=options.parse_seed(str(value("seed"))) if seed is None else seed,
            full=options.parse_choice("normfusion_matrix", value("matrix"), options.MATRICES) == "full",
            case_patterns=tuple(config.getoption("normfusion_case")),
            device_option=options.parse_choice(options.DEVICE_OPTION, value("device"), options.DEVICES),
            case_timeout=options.parse_number(
                options.CASE_TIMEOUT_OPTION, str(value("case_timeout")), float, zero=True
            ),
            hypothesis=options.parse_hypothesis(value("hypothesis") or ""),
            world_sizes_option=options.parse_world_sizes(str(value("world_sizes"))),
            timeout=options.parse_number(options.TIMEOUT_OPTION, value("timeout"), float),
            max_pool_rebuilds=int(
                options.parse_number(options.REBUILDS_OPTION, value("max_pool_rebuilds"), int, zero=True)
            ),
            perf_peers=options.parse_list(str(value("perf_peers"))),
            min_speedup=options.parse_min_speedup(str(value("min_speedup"))),
            xfail_strict=bool(value("xfail_strict")),
            report=options.path(config, "report"),
        )

    @functools.cached_property
    def device(self) -> str:
        """``auto`` is CUDA when present, else the CPU."""
        if self.device_option != "auto":
            return self.device_option
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    @property
    def backend(self) -> str:
        """The torch.distributed backend of the device: NCCL on CUDA, gloo on the CPU."""
        return "nccl" if self.device == "cuda" else "gloo"

    @functools.cached_property
    def gpus(self) -> int:
        import torch

        return torch.cuda.device_count() if self.device == "cuda" else 0

    @functools.cached_property
    def world_sizes(self) -> tuple[int, ...]:
        """As asked; else torchrun's, 1,2,4 on the CPU, or 1,2,4,8 up to the GPU count on CUDA."""
        if self.world_sizes_option is not None:
            return self.world_sizes_option
        launched = torchrun_env()
        if launched is not None:
            return (launched[1],)
        if self.device != "cuda":
            return (1, 2, 4)
        return tuple(n for n in matrix.WORLD_SIZES if n <= max(1, self.gpus))

    def world_size_unavailable(self, world_size: int) -> str | None:
        """Why ``world_size`` cannot run in this session (a skip reason), or None."""
        launched = torchrun_env()
        if launched is not None:  # torchrun placed the ranks (on several nodes, maybe): no GPU count here
            if launched[1] != world_size:
                return f"pytest runs under torchrun with world size {launched[1]}; this case needs {world_size}"
            return None
        if self.device == "cuda" and world_size > self.gpus:
            return f"world size {world_size} needs {world_size} GPUs (one per rank); {self.gpus} present"
        return None

    def runs_suite(self, suite: str) -> bool:
        """Whether the ``impls`` or ``passes`` suite runs: the one named, both when neither is."""
        named = {"impls": bool(self.impl_specs), "passes": bool(self.pass_specs)}
        return named[suite] or not any(named.values())

    def select(self, cases: Iterable[Case], full_cases: Iterable[Case]) -> list[Case]:
        """The matrix's cases; with ``--normfusion-case``, the matching ones of the full matrix."""
        if not self.case_patterns:
            return list(cases)
        return [c for c in full_cases if self.selects(c.id)]

    def selects(self, case_id: str) -> bool:
        """Whether ``--normfusion-case`` (if given) names ``case_id``."""
        return not self.case_patterns or any(fnmatch.fnmatchcase(case_id, p) for p in self.case_patterns)

    def _rerun(self, spec: str) -> list[str]:
        args = ["pytest", f"{options.IMPL_OPTION}={spec}", f"{options.SEED_OPTION}={self.seed}"]
        if self.device_option != "auto":
            args.append(f"{options.DEVICE_OPTION}={self.device_option}")
        if self.case_timeout != options.DEFAULT_CASE_TIMEOUT:
            args.append(f"{options.CASE_TIMEOUT_OPTION}={self.case_timeout:g}")
        return args

    def repro(self, spec: str, case_id: str) -> str:
        """One command that re-runs just this case of the candidate ``spec``."""
        return shlex.join([*self._rerun(spec), f"{options.CASE_OPTION}={case_id}"])

    def repro_property(self, spec: str, test_id: str) -> str:
        """One command that re-runs just this property test, drawing the same examples."""
        return shlex.join([*self._rerun(spec), f"{options.HYPOTHESIS_OPTION}={self.hypothesis}", "-k", test_id])

    def pass_repro(self, spec: str, model_id: str, world_size: int = 1) -> str:
        """One command that re-runs one test model of the pass ``spec`` (every tracer, or one world size)."""
        args = ["pytest", f"{options.PASS_OPTION}={spec}", f"{options.SEED_OPTION}={self.seed}"]
        if world_size > 1:
            args.append(f"{options.WORLD_SIZES_OPTION}={world_size}")
        return shlex.join([*args, f"{options.CASE_OPTION}={model_id}"])

    def run_block(self, invocation_args: tuple[str, ...], workers: int, exit_status: int) -> dict[str, Any]:
        """The certificate's ``run`` block: how the session was asked for, and how it ended."""
        return {
            "command": shlex.join(["pytest", *invocation_args]),
            "seed": self.seed,
            "matrix": "full" if self.full else "quick",
            "dtypes": list(self.dtypes),
            "case_patterns": list(self.case_patterns),
            "device": self.device,
            "case_timeout_s": self.case_timeout,
            "xdist_workers": workers,
            "exit_status": exit_status,
        }


def share_cores(workers: int) -> None:
    """One xdist worker's share of the cores: OpenMP threads spinning on oversubscribed
    cores made the quick matrix 20x slower at ``-n 2`` on 2 cores (242 s vs 12 s)."""
    if "OMP_NUM_THREADS" in os.environ:
        return
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))
