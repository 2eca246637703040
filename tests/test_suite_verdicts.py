"""The suite passes legal candidates and fails wrong ones with a message naming case and element."""

from __future__ import annotations

import re

import pytest

# One cheap shape per magnitude class keeps these runs short; the full matrix runs in CI's main job.
SLICE = ("--normfusion-case=*-T7xH5120-*", "--normfusion-case=*-T33xH67-*")


def test_reference_passes_the_whole_quick_matrix_under_xdist(run_plain):
    result = run_plain("--normfusion-impl=reference", "-n", "2")
    assert result.parseoutcomes()["passed"] == 2184 + 3 * 78  # single-device + all-reduce at ws 1, 2, 4
    result.stdout.fnmatch_lines(["*normfusion conformance*", "impl reference", "rms_norm * bf16 * fp32 *1 *84 *fp32"])


def test_torch_compile_passes(run_plain):
    result = run_plain("--normfusion-impl=torch-compile", *SLICE)
    assert result.ret == 0, result.stdout.str()[-3000:]
    assert result.parseoutcomes()["passed"] == 624


@pytest.mark.parametrize(
    ("candidate", "case", "message"),
    [
        (
            "IgnoresWeightBias",
            "rms_norm-bf16-w_bf16-bias1-T7xH5120-eps1e-06-contiguous-normal",
            "y conforms to no allowed profile; it matches weight_bias=1 ignored*",
        ),
        (
            "VarianceInInputDtype",
            "rms_norm-fp16-w_fp16-bias0-T7xH5120-eps1e-05-contiguous-outlier",
            "y conforms to no allowed profile*",
        ),
        (
            "ResidualNotReturned",
            "fused_add_rms_norm-bf16-w_bf16-bias0-T33xH67-eps1e-05-strided-normal",
            "residual_out is not x + residual rounded to torch.bfloat16*",
        ),
        (
            "ModifiesWeight",
            "rms_norm-fp32-w_fp32-bias1-T33xH67-eps1e-05-contiguous-normal",
            "weight was modified in place: 67 / 67 elements changed",
        ),
        (
            "RoundedOnePlusW",
            "rms_norm-bf16-w_bf16-bias1-T7xH5120-eps1e-05-contiguous-normal",
            "y conforms to no allowed profile; it matches (1 + w) rounded to bf16 before the multiply (a known bug: vLLM #29810*",
        ),
        (
            "RoundedInverseRms",
            "rms_norm-fp16-w_fp32-bias1-T7xH5120-eps1e-05-contiguous-normal",
            "y conforms to no allowed profile; it matches the inverse RMS rounded to fp16 before the multiply*",
        ),
        (
            "InputDtypeMultiply",
            "rms_norm-bf16-w_fp32-bias0-T7xH5120-eps1e-05-contiguous-normal",
            "*profile input-dtype*not allowed: the weight is fp32 and x bf16*",
        ),
        (
            "EpsOutsideSqrt",
            "rms_norm-fp16-w_none-bias0-T7xH5120-eps1e-05-strided-tiny",
            "y conforms to no allowed profile; it matches eps added outside the square root*",
        ),
    ],
)
def test_wrong_candidate_fails_naming_case_element_seed_and_repro(run_plain, candidate, case, message):
    result = run_plain(f"--normfusion-impl=candidates:{candidate}", f"--normfusion-case={case}", "--normfusion-seed=7")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            f"[[]failed[]] {case} [[]impl *[]]",
            message,
            "seed 7; rerun: pytest --normfusion-impl=candidates:* --normfusion-seed=7 --normfusion-case=" + case,
        ]
    )
    element = re.search(r"(y|residual_out)\[\d+, \d+\] = \S+", result.stdout.str())
    assert element or candidate == "ModifiesWeight", "the message names no element"


@pytest.mark.parametrize(
    ("candidate", "check", "message"),
    [
        (
            "CachesScaledWeight",
            "second-call",
            "second call (fresh x; the weight rewritten in place through .data, * its y is right for the weight"
            " before the rewrite, not after it: weight data kept across calls went stale",
        ),
        ("ReusesOutput", "outputs-overwritten", "the second call returned the first call's y memory as its y: *"),
        (
            "ScratchInLastOutput",
            "outputs-overwritten",
            "the second call wrote into the first call's y: * elements changed, *",
        ),
    ],
)
def test_state_kept_across_calls_fails_the_second_call(run_suite, candidate, check, message):
    """A weight cache that outlives an in-place rewrite, and an output buffer the next call writes again,
    pass every first call and fail where the case is called a second time (normal magnitude)."""
    run = run_suite(f"--normfusion-impl=candidates:{candidate}", "--normfusion-case=rms_norm-*-T7xH5120-*-contiguous-*")
    cases = list(run.cases().values())
    again = [c for c in cases if c["id"].endswith("-normal") and ("-w_none-" not in c["id"] or check != "second-call")]
    assert sorted(c["id"] for c in cases if c["status"] == "failed") == sorted(c["id"] for c in again)
    assert all(c["status"] == "passed" for c in cases if c not in again)
    failed = [c for c in cases if c["status"] == "failed"]
    assert {tuple(c["failed_checks"]) for c in failed} == {(check,)}
    run.result.stdout.fnmatch_lines(
        [message, "seed 0; rerun: pytest --normfusion-impl=candidates:* --normfusion-case=*"]
    )


def test_wrong_candidates_pass_where_they_are_right(run_plain):
    """The same wrong candidates conform on the cases their bug does not touch."""
    result = run_plain(
        "--normfusion-impl=candidates:IgnoresWeightBias",
        "--normfusion-impl=candidates:InputDtypeMultiply",
        "--normfusion-impl=candidates:RoundedSum",
        "--normfusion-case=*-w_bf16-bias0-T7xH5120-*",
    )
    result.assert_outcomes(passed=24 + 12 + 12, skipped=12 + 12)
    result.stdout.fnmatch_lines(
        ["impl rounded-sum", "*", "fused_add_rms_norm *1 bf16 *bf16 *0 *12 *0 *fp32/rounded-sum"]
    )


def test_nan_behind_supports_is_reported_as_silent_wrong(run_plain):
    result = run_plain(
        "--normfusion-impl=candidates:NaNOnMixedDtypes", "--normfusion-case=rms_norm-bf16-w_*-bias0-T1xH4096-*normal"
    )
    result.assert_outcomes(passed=8, failed=4)
    result.stdout.fnmatch_lines(
        [
            "[[]silent-wrong[]] rms_norm-bf16-w_fp32-bias0-T1xH4096-*",
            "supports() declined this case (weight must be bf16), but the call returned wrong numbers instead of raising:",
            "y has 4096 / 4096 NaN/Inf elements where the fp64 ideal is finite; first y[[]0, 0[]] = nan *",
        ]
    )
