"""All-reduce + RMSNorm: the judge's derived bounds (in process) and the suite over world sizes (pytester)."""

from __future__ import annotations

import json
import shlex
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import torch

from pytest_normfusion import reference
from pytest_normfusion.core.allreduce import _digest, exact_sums
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import make_inputs
from pytest_normfusion.core.judge_allreduce import judge_allreduce
from pytest_normfusion.core.tolerance import DEFAULT

TESTS = Path(__file__).parent


# ------------------------------------------------- the judge, without processes


def _ring_sum(xs: list[torch.Tensor], dtype: torch.dtype) -> torch.Tensor:
    """A ring all-reduce in ``dtype``: each of 4 chunks summed from another rank on, every partial rounded."""
    flat = [x.reshape(-1) for x in xs]
    out = torch.empty_like(flat[0])
    for c, idx in enumerate(torch.arange(flat[0].numel()).chunk(4)):
        s = flat[c % len(xs)][idx]
        for i in range(1, len(xs)):
            s = (s.float() + flat[(c + i) % len(xs)][idx].float()).to(dtype)
        out[idx] = s
    return out.reshape(xs[0].shape)


def _case(dtype: str, world_size: int, residual: bool, magnitude: str = "outlier") -> Case:
    # Gemma-style fp32 weight with weight_bias 1: the multiply must stay in fp32
    return Case("allreduce_rms_norm", dtype, "fp32", 1.0, 24, 1031, 1e-6, "strided", magnitude, residual, world_size)


def _judge(case: Case, seed: int, make_outputs) -> list[str]:
    """Judge rank 0's outputs from ``make_outputs(xs, residual, weight)``; the problems found."""
    everyone = [make_inputs(case, seed, "cpu", rank) for rank in range(case.world_size)]
    xs, r, w = [i.x for i in everyone], everyone[0].residual, everyone[0].weight
    y, r_out = make_outputs(xs, r, w)
    s32, s64, abs_sum = exact_sums(case, seed)
    return [p.text for p in judge_allreduce(case, y, r_out, s32, s64, abs_sum, w, DEFAULT).problems]


def _fused_add(s: torch.Tensor, r, w, case: Case, residual_sum: str = "fp32-sum"):
    """The reference fused add of a reduced sum; without a residual the sum is residual_out."""
    if r is None:
        return reference.rms_norm(s, w, case.eps, case.weight_bias), s
    return reference.fused_add_rms_norm(s, r, w, case.eps, case.weight_bias, residual_sum=residual_sum)


WORLD_SIZES = [2, 4, 8]
DTYPES = ["fp16", "bf16", "fp32"]


@pytest.mark.parametrize("residual", [False, True])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_reduction_in_input_dtype_then_fused_add_conforms(world_size, dtype, residual) -> None:
    case, seed = _case(dtype, world_size, residual), world_size  # another draw per world size
    assert _judge(case, seed, lambda xs, r, w: _fused_add(_ring_sum(xs, case.torch_dtype), r, w, case)) == []
    rounded = _judge(
        case, seed, lambda xs, r, w: _fused_add(_ring_sum(xs, case.torch_dtype), r, w, case, residual_sum="rounded-sum")
    )
    assert rounded == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_fp32_reduction_in_another_order_conforms(world_size, dtype) -> None:
    case = _case(dtype, world_size, residual=True, magnitude="normal")

    def reversed_fp32(xs, r, w):
        s = torch.stack([x.float() for x in reversed(xs)]).sum(0)
        return reference.norm_of_sum(s + r.float(), w, case.eps, case.weight_bias, xs[0].dtype, "fp32", "fp32-sum")

    assert _judge(case, 0, reversed_fp32) == []


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_residual_counted_on_every_rank_fails(world_size, dtype) -> None:
    case = _case(dtype, world_size, residual=True, magnitude="normal")
    problems = _judge(
        case, 0, lambda xs, r, w: _fused_add(_ring_sum([x + r for x in xs], case.torch_dtype), None, w, case)
    )
    assert problems and problems[0].startswith("residual_out is not the all-reduced sum + residual")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
def test_norm_before_the_reduce_fails(world_size, dtype) -> None:
    case = _case(dtype, world_size, residual=False, magnitude="normal")

    def norm_then_sum(xs, r, w):
        y = torch.stack([reference.rms_norm(x, w, case.eps, case.weight_bias).float() for x in xs]).sum(0)
        return y.to(xs[0].dtype), _ring_sum(xs, case.torch_dtype)

    problems = _judge(case, 0, norm_then_sum)
    assert problems and not problems[0].startswith("residual_out")
    assert any(
        "y is not the norm of the returned residual_out" in p or "ulp from the fp64 ideal" in p for p in problems
    )


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("world_size", WORLD_SIZES)
@pytest.mark.parametrize("residual", [False, True])
def test_residual_out_not_the_reduced_sum_fails(world_size, dtype, residual) -> None:
    case = _case(dtype, world_size, residual, magnitude="normal")

    def local_residual(xs, r, w):
        y, _ = _fused_add(_ring_sum(xs, case.torch_dtype), r, w, case)
        return y, (xs[0] if r is None else r)

    problems = _judge(case, 0, local_residual)
    assert problems and problems[0].startswith("residual_out is not the all-reduced sum")


# ------------------------------------------------------ the suite, over ranks


def _outcomes(pytester: pytest.Pytester) -> dict[str, tuple[str, str]]:
    """test id -> (passed | failed | skipped, failure text) from the inner run's JUnit XML."""
    out = {}
    for case in ET.parse(pytester.path / "report.xml").iter("testcase"):
        name = case.get("name", "")
        bad = case.find("failure")
        skipped = case.find("skipped")
        status = "failed" if bad is not None else "skipped" if skipped is not None else "passed"
        out[name[name.index("[") + 1 : -1] if "[" in name else name] = (
            status,
            (bad.text or "") if bad is not None else "",
        )
    return out


CANDIDATES = {
    "reference": "reference",
    "unfused-reduce-in-input-dtype": "dist_candidates:UnfusedReduceInInputDtype",
    "unfused-rounded-sum": "dist_candidates:UnfusedRoundedSum",
    "norm-before-reduce": "dist_candidates:NormBeforeReduce",
    "residual-on-every-rank": "dist_candidates:ResidualOnEveryRank",
    "only-rank-zero-right": "dist_candidates:OnlyRankZeroRight",
    "residual-out-not-reduced": "dist_candidates:ResidualOutNotReduced",
    "self-first-sum": "dist_candidates:SelfFirstSum",
}
# world sizes 1, 2, 4 are the default; 8 is selected by the case pattern alone
CASES = "allreduce_rms_norm-ws[1248]-bf16-w_fp32-bias1-T7xH67-eps1e-05-strided-tiny-*"


def _expected(impl: str, ws: int, residual: bool) -> str:
    """Which candidates must fail where: each wrong one only where its bug shows."""
    wrong_at = {
        "norm-before-reduce": ws > 1,
        "residual-on-every-rank": ws > 1 and residual,
        "only-rank-zero-right": ws > 1,
        "residual-out-not-reduced": residual or ws > 1,  # without a residual it returns the local x
        "self-first-sum": ws > 2,  # two ranks sum the same two terms; four differ in order
    }
    return "failed" if wrong_at.get(impl, False) else "passed"


@pytest.fixture
def candidates_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(TESTS))


@pytest.mark.usefixtures("candidates_on_path")
def test_legal_candidates_pass_and_wrong_ones_fail_at_every_world_size(pytester: pytest.Pytester) -> None:
    args = [f"--normfusion-impl={spec}" for spec in CANDIDATES.values()]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *args, f"--normfusion-case={CASES}", "--junitxml=report.xml"
    )
    outcomes = {k: v for k, v in _outcomes(pytester).items() if k.count("-ws")}
    assert len(outcomes) == len(CANDIDATES) * 4 * 2
    for test_id, (status, text) in outcomes.items():
        impl = next(name for name in CANDIDATES if test_id.startswith(name + "-allreduce"))
        ws = int(test_id.split("-ws")[1].split("-")[0])
        residual = test_id.endswith("-residual")
        assert status == _expected(impl, ws, residual), f"{test_id}: {status}\n{text}"
        if impl == "only-rank-zero-right" and ws > 1:
            assert f"rank(s) {', '.join(map(str, range(1, ws)))} of {ws} failed:" in text
        if impl == "self-first-sum" and status == "failed":
            assert "ranks disagree" in text
    result.stdout.fnmatch_lines(["*rank pool ws8: 1 spawn(s)*"])


@pytest.mark.usefixtures("candidates_on_path")
def test_every_failed_allreduce_case_names_its_checks(pytester: pytest.Pytester) -> None:
    """Failed all-reduce cases carry their failed checks (a residual failure under 'residual'), and a
    residual_out of the wrong dtype does not hide a wrong y."""
    impls = [
        CANDIDATES["residual-out-not-reduced"],
        CANDIDATES["norm-before-reduce"],
        "dist_candidates:ResidualOutInFp32WrongY",
    ]
    case = "allreduce_rms_norm-ws2-bf16-w_bf16-bias0-T7xH67-eps1e-05-strided-tiny-residual"
    pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *[f"--normfusion-impl={i}" for i in impls], f"--normfusion-case={case}",
        "--normfusion-report=cert.json",
    )  # fmt: skip
    checks = {
        c["impl"]: (c["status"], c["failed_checks"])
        for c in json.loads((pytester.path / "cert.json").read_text())["cases"]
    }
    assert checks == {
        "residual-out-not-reduced": ("failed", ["residual"]),
        "norm-before-reduce": ("failed", ["numerics"]),
        "residual-out-in-fp32-wrong-y": ("failed", ["numerics", "output-dtype"]),
    }


@pytest.mark.usefixtures("candidates_on_path")
def test_state_kept_across_calls_fails_the_second_call_on_every_rank(pytester: pytest.Pytester) -> None:
    """Every rank calls a normal-magnitude case twice, the weight rewritten in place between the calls: a stale
    weight cache and a workspace returned twice fail there, on every rank, and pass the tiny-magnitude case."""
    impls = ["reference", "dist_candidates:CachesScaledWeight", "dist_candidates:ReturnsWorkspace"]
    cases = [
        "allreduce_rms_norm-ws2-bf16-w_fp32-bias1-T1xH4096-eps1e-06-contiguous-normal-*",
        "allreduce_rms_norm-ws2-bf16-w_fp32-bias1-T7xH67-eps1e-05-strided-tiny-residual",
    ]
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", *[f"--normfusion-impl={i}" for i in impls],
        *[f"--normfusion-case={c}" for c in cases], "--normfusion-report=cert.json",
    )  # fmt: skip
    cert = json.loads((pytester.path / "cert.json").read_text())
    # keyed by impl and the case id's last two parts: magnitude, residual
    checks = {(c["impl"], "-".join(c["id"].split("-")[-2:])): (c["status"], c["failed_checks"]) for c in cert["cases"]}
    normal, tiny = "normal", "tiny-residual"
    assert checks == {
        **{("reference", f"{normal}-{r}"): ("passed", []) for r in ("residual", "no_residual")},
        ("reference", tiny): ("passed", []),
        **{("caches-scaled-weight", f"{normal}-{r}"): ("failed", ["second-call"]) for r in ("residual", "no_residual")},
        ("caches-scaled-weight", tiny): ("passed", []),
        **{
            ("returns-workspace", f"{normal}-{r}"): ("failed", ["outputs-overwritten"])
            for r in ("residual", "no_residual")
        },
        ("returns-workspace", tiny): ("passed", []),
    }
    result.stdout.fnmatch_lines(
        [
            "rank(s) 0, 1 of 2 failed:",
            "rank(s) 0, 1 [[]failed[]]: second call (fresh x and residual; the weight rewritten in place through .data,*"
            " its y is right for the weight before the rewrite, not after it: weight data kept across calls went stale",
        ]
    )
    result.stdout.fnmatch_lines(
        ["rank(s) 0, 1 [[]failed[]]: the second call returned the first call's y memory as its y: *"]
    )


@pytest.mark.usefixtures("candidates_on_path")
def test_hung_and_dead_ranks_fail_their_case_and_the_next_one_passes(pytester: pytest.Pytester) -> None:
    case = "allreduce_rms_norm-ws2-bf16-w_bf16-bias0-T1xH4096-eps1e-06-contiguous-normal-residual"
    impls = ["HangsOnRankOne", "ExitsOnRankOne", "SegfaultsOnRankOne", "RaisesOnRankOne"]
    timeout = 5
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        *[f"--normfusion-impl=dist_candidates:{name}" for name in impls],
        "--normfusion-impl=reference",
        f"--normfusion-case={case}",
        f"--normfusion-timeout={timeout}",
        "--junitxml=report.xml",
    )
    result.assert_outcomes(failed=4, passed=1)  # the single-device suite, matching no case, is deselected
    result.stdout.fnmatch_lines(
        [
            f"[[]timeout] {case} [[]impl hangs-on-rank-one]",
            f"*rank 1 timed out after {timeout} s while running pytest_normfusion.core.allreduce.rank_job",
            "*in allreduce_rms_norm",
            f"[[]error] {case} [[]impl exits-on-rank-one]",
            "rank 1 died with exit code 7 while running pytest_normfusion.core.allreduce.rank_job",
            f"[[]error] {case} [[]impl segfaults-on-rank-one]",
            "rank 1 died with exit code -11 (SIGSEGV) while running pytest_normfusion.core.allreduce.rank_job",
            f"[[]error] {case} [[]impl raises-on-rank-one]",
            "rank 1 failed while running *raises-on-rank-one.allreduce_rms_norm raised RuntimeError: rank 1 ran out*",
            "rank(s) 0 did not finish within 2 s after that (blocked in a collective with the failed rank?)",
        ]
    )
    durations = {c.get("name"): float(c.get("time")) for c in ET.parse(pytester.path / "report.xml").iter("testcase")}
    hang = next(t for name, t in durations.items() if "hangs-on-rank-one" in name)
    assert hang < 2 * timeout + 10  # the timeout, plus starting the pool in this first case


@pytest.mark.usefixtures("candidates_on_path")
def test_repro_line_of_a_distributed_case_reruns_it_alone(pytester: pytest.Pytester) -> None:
    case = "allreduce_rms_norm-ws2-fp16-w_fp16-bias0-T7xH67-eps1e-05-strided-tiny-residual"
    first = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--normfusion-impl=dist_candidates:ResidualOnEveryRank",
        "--normfusion-seed=7",
        "--normfusion-case=allreduce_rms_norm-ws2-fp16-w_fp16-bias0-T7xH67-*-strided-*",
    )
    line = next(ln for ln in first.outlines if ln.startswith("seed 7; rerun: ") and ln.endswith(case))
    argv = shlex.split(line.split("rerun: ", 1)[1])
    assert argv[0] == "pytest"
    again = pytester.runpytest_subprocess("-p", "no:cacheprovider", *argv[1:])
    again.assert_outcomes(failed=1)
    again.stdout.fnmatch_lines([f"[[]failed] {case} [[]impl residual-on-every-rank]", "*rank(s) 0, 1 of 2 failed:"])


@pytest.mark.usefixtures("candidates_on_path")
def test_rebuild_cap_is_named_in_the_summary(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--normfusion-impl=dist_candidates:ExitsOnRankOne",
        "--normfusion-case=allreduce_rms_norm-ws2-bf16-w_bf16-bias0-T1xH4096-*-contiguous-*-residual",
        "--normfusion-max-pool-rebuilds=1",
    )
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*the world size 2 pool failed 2 times; the cap is 1 rebuilds (--normfusion-max-pool-rebuilds)*",
            "rank pool ws2: hit the rebuild cap (--normfusion-max-pool-rebuilds); its later cases failed unrun",
        ]
    )


def test_output_digest_is_the_bits() -> None:
    """Ranks are compared by a digest of their outputs' bits: equal bits agree, any flipped bit
    (a -0.0 for a 0.0 included) does not, and layout does not matter."""
    y = torch.randn(300, 1031).to(torch.bfloat16)
    r = torch.randn(300, 1031)
    assert _digest(y, r) == _digest(y.clone(), r.clone())
    assert _digest(y, r) == _digest(y.t().contiguous().t(), r)  # a non-contiguous view of the same values
    flipped = r.clone()
    flipped.view(torch.int32)[7, 11] ^= 1
    assert _digest(y, flipped) != _digest(y, r)
    assert _digest(torch.zeros(4)) != _digest(-torch.zeros(4))
