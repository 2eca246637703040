"""The rank pool: reuse, failures of every kind, no leaked processes, xdist, torchrun, import paths.

The rebuild cap is tested through the suite, in test_allreduce.py.
"""

from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

# Jobs for the inner sessions: module-level, so the ranks import them by name.
JOBS = """
import ctypes, os, time
import torch
import torch.distributed as dist
from pytest_normfusion.harness import NormfusionSession
from pytest_normfusion.pool import RankFailure, run_on_ranks


def pool_stats(config, world_size):
    return NormfusionSession.of(config).ranks.stats_of(world_size)


def rank_sum(ctx, payload):
    t = torch.full((3,), float(ctx.rank + payload))
    dist.all_reduce(t, group=ctx.group)
    return os.getpid(), t.tolist()


def which_rank(ctx, payload):
    return ctx.rank


def hang_on_rank_one(ctx, payload):
    if ctx.rank == 1:
        time.sleep(3600)
    dist.barrier(group=ctx.group)


def exit_on_rank_one(ctx, payload):
    if ctx.rank == 1:
        os._exit(7)
    dist.barrier(group=ctx.group)


def segfault_on_rank_one(ctx, payload):
    if ctx.rank == 1:
        ctypes.string_at(0)
    dist.barrier(group=ctx.group)


def raise_on_rank_one(ctx, payload):
    if ctx.rank == 1:
        raise ValueError("no workspace on rank 1")
    return ctx.rank
"""


def _inner(pytester: pytest.Pytester, body: str) -> None:
    pytester.makepyfile(jobs=JOBS, test_inner=body)


def _alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie waiting to be reaped counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def test_pool_spawned_once_per_world_size_and_reused(pytester: pytest.Pytester) -> None:
    _inner(
        pytester,
        """
import statistics, time
import pytest
from jobs import pool_stats, rank_sum, run_on_ranks, which_rank

PIDS = {}

@pytest.mark.parametrize("ws", [1, 2, 4])
@pytest.mark.parametrize("round", range(3))
def test_sum(pytestconfig, ws, round):
    out = run_on_ranks(pytestconfig, ws, rank_sum, round)
    assert [values for _, values in out] == [[ws * (ws - 1) / 2 + ws * round] * 3] * ws
    PIDS.setdefault(ws, set()).add(tuple(pid for pid, _ in out))

def test_reused(pytestconfig):
    for ws in (2, 4):
        for _ in range(200):
            assert run_on_ranks(pytestconfig, ws, which_rank, None) == list(range(ws))
    for ws in (1, 2, 4):
        stats = pool_stats(pytestconfig, ws)
        assert len(PIDS[ws]) == 1 and len(next(iter(PIDS[ws]))) == ws
        assert stats.spawns == 1 and stats.rebuilds == 0
        overhead = stats.overhead_seconds[-200:] if ws > 1 else stats.overhead_seconds
        print(f"POOL ws{ws} spawns={stats.spawns} spawn_s={stats.spawn_seconds[0]:.2f} "
              f"jobs={stats.jobs} median_overhead_ms={1000 * statistics.median(overhead):.3f}")
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-s")
    result.assert_outcomes(passed=10)
    result.stdout.fnmatch_lines(
        ["*POOL ws1 spawns=1 *jobs=3 *", "*POOL ws2 spawns=1 *jobs=203 *", "*POOL ws4 spawns=1 *jobs=203 *"]
    )
    print("\n".join(line for line in result.outlines if "POOL" in line))  # the numbers docs/world-sizes.md quotes


def test_failed_ranks_fail_their_test_within_the_timeout_and_the_pool_is_rebuilt(pytester: pytest.Pytester) -> None:
    _inner(
        pytester,
        """
from jobs import (exit_on_rank_one, hang_on_rank_one, pool_stats, raise_on_rank_one, run_on_ranks,
                  segfault_on_rank_one, which_rank)

def test_warm(pytestconfig):
    assert run_on_ranks(pytestconfig, 2, which_rank, None) == [0, 1]

def test_hang(pytestconfig):
    run_on_ranks(pytestconfig, 2, hang_on_rank_one, None)

def test_exit(pytestconfig):
    run_on_ranks(pytestconfig, 2, exit_on_rank_one, None)

def test_segfault(pytestconfig):
    run_on_ranks(pytestconfig, 2, segfault_on_rank_one, None)

def test_raise(pytestconfig):
    run_on_ranks(pytestconfig, 2, raise_on_rank_one, None)

def test_after(pytestconfig):
    assert run_on_ranks(pytestconfig, 2, which_rank, None) == [0, 1]
    stats = pool_stats(pytestconfig, 2)
    assert (stats.spawns, stats.rebuilds) == (4, 3)  # the raise left the pool usable
""",
    )
    timeout = 4
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", f"--normfusion-timeout={timeout}", "--junitxml=report.xml"
    )
    result.assert_outcomes(passed=2, failed=4)
    result.stdout.fnmatch_lines(
        [
            f"*rank 0 timed out after {timeout} s while running jobs.hang_on_rank_one",
            f"*rank 1 timed out after {timeout} s while running jobs.hang_on_rank_one",
            "*rank 0 was here:",
            "*in barrier",
            "*rank 1 was here:",
            '*File "*jobs.py", line * in hang_on_rank_one',
            "*the world size 2 pool was torn down; it is rebuilt for the next case",
            "*RankFailure: rank 1 died with exit code 7 while running jobs.exit_on_rank_one",
            "*RankFailure: rank 1 died with exit code -11 (SIGSEGV) while running jobs.segfault_on_rank_one",
            "*RankFailure: rank 1 raised while running jobs.raise_on_rank_one:",
            "*ValueError: no workspace on rank 1",
        ]
    )
    durations = {c.get("name"): float(c.get("time")) for c in ET.parse(pytester.path / "report.xml").iter("testcase")}
    assert timeout <= durations["test_hang"] < 2 * timeout


def test_no_rank_process_outlives_the_session(pytester: pytest.Pytester) -> None:
    pids_file = pytester.path / "pids.txt"
    _inner(
        pytester,
        f"""
import os
from jobs import hang_on_rank_one, rank_sum, run_on_ranks

def record(config, ws):
    with open({str(pids_file)!r}, "a") as f:
        for pid, _ in run_on_ranks(config, ws, rank_sum, 0):
            f.write(f"{{pid}}\\n")

def test_pools(pytestconfig):
    record(pytestconfig, 2)
    record(pytestconfig, 4)

def test_hang_then_rebuild(pytestconfig):
    try:
        run_on_ranks(pytestconfig, 2, hang_on_rank_one, None)
    finally:
        record(pytestconfig, 2)

def test_interrupted():
    raise KeyboardInterrupt
""",
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--normfusion-timeout=3")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    pids = [int(p) for p in pids_file.read_text().split()]
    assert len(pids) == 8 and len(set(pids)) == 8  # ws2, ws4, and the rebuilt ws2
    assert [p for p in pids if _alive(p)] == []


def test_xdist_workers_run_world_sizes_2_and_4_at_once(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-n",
        "2",
        "--normfusion-impl=reference",
        "--normfusion-world-sizes=2,4",
        "--normfusion-case=allreduce_rms_norm-ws[24]-bf16-w_fp32-bias1-T1xH4096-eps1e-06-contiguous-normal-*",
        "--normfusion-case=allreduce_rms_norm-ws[24]-fp16-w_fp16-bias0-T7xH67-eps1e-05-strided-tiny-*",
    )
    result.assert_outcomes(passed=8)  # the single-device suite, matching no case, is deselected
    result.stdout.fnmatch_lines(["*allreduce_rms_norm    2 bf16  fp32      1      2 *", "*rank pool ws4: * cases*"])


def test_torchrun_ranks_share_the_group_and_rank_zero_reports(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))
    result = pytester.run(
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node=2",
        "-m",
        "pytest",
        "-p",
        "no:cacheprovider",
        "--normfusion-impl=reference",
        "--normfusion-impl=dist_candidates:OnlyRankZeroRight",
        "--normfusion-case=allreduce_rms_norm-ws2-bf16-w_bf16-bias0-T1xH4096-eps1e-06-contiguous-normal-*",
        "--normfusion-case=allreduce_rms_norm-ws4-bf16-w_bf16-bias0-T1xH4096-eps1e-06-contiguous-normal-residual",
        "-rs",
        timeout=300,
    )
    assert result.ret != 0
    result.stdout.fnmatch_lines(
        [
            "*rank(s) 1 of 2 failed:",
            "*rank(s) 1 [[]failed]: residual_out is not the all-reduced sum*",
            "*SKIPPED*pytest runs under torchrun with world size 2; this case needs 4*",
            "*2 failed, 2 passed, 2 skipped, 5 deselected*",  # the deselected: suites matching no case
        ]
    )
    assert result.stdout.str().count("passed, ") == 1, "only rank 0 reports"


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("--normfusion-world-sizes=0,2", "*--normfusion-world-sizes='0,2': expected positive integers*"),
        ("--normfusion-world-sizes=two", "*--normfusion-world-sizes='two': expected positive integers*"),
        ("--normfusion-timeout=0", "*--normfusion-timeout='0': expected a positive number of seconds*"),
        ("--normfusion-max-pool-rebuilds=-1", "*--normfusion-max-pool-rebuilds='-1': expected a non-negative*"),
    ],
)
def test_bad_pool_options_are_usage_errors(pytester: pytest.Pytester, option: str, message: str) -> None:
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", option)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_ranks_follow_the_parents_import_path(pytester: pytest.Pytester) -> None:
    """Modules the parent can import after the pool started (a folder put on sys.path later) import in the ranks."""
    late = pytester.mkdir("late")
    (late / "late_jobs.py").write_text("def double_rank(ctx, payload):\n    return 2 * ctx.rank\n")
    _inner(
        pytester,
        f"""
import sys
from jobs import run_on_ranks, which_rank

def test_start(pytestconfig):
    assert run_on_ranks(pytestconfig, 2, which_rank, None) == [0, 1]

def test_late_module(pytestconfig):
    sys.path.insert(0, {str(late)!r})
    import late_jobs
    assert run_on_ranks(pytestconfig, 2, late_jobs.double_rank, None) == [0, 2]
""",
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_user_candidate_from_the_working_directory_loads_in_every_rank(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        my_kernel="""
from pytest_normfusion import reference

class MyKernel:
    name = "my-kernel"

    def allreduce_rms_norm(self, x, residual, weight, eps, weight_bias=0.0, group=None):
        return reference.allreduce_rms_norm(x, residual, weight, eps, weight_bias, group)
"""
    )
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--normfusion-impl=my_kernel:MyKernel",
        "--normfusion-case=allreduce_rms_norm-ws2-bf16-w_bf16-bias0-T1xH4096-eps1e-06-contiguous-normal-*",
    )
    result.assert_outcomes(passed=2)  # the single-device suite, matching no case, is deselected
