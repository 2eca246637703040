"""The suite survives broken candidates: each gets a clear status and reason in the certificate."""

from __future__ import annotations

import broken

# bf16 x with an fp32 Gemma weight: the declining candidate's probe case.
CASE = "rms_norm-bf16-w_fp32-bias1-T3xH8-eps1e-05-contiguous-normal"

# impl name -> (status, failed checks, text its message must contain)
EXPECTED = {
    "reference": ("passed", [], ""),
    "raises": ("error", ["raised"], "raises.rms_norm raised RuntimeError: CUDA error: invalid configuration argument"),
    "wrong-dtype": ("failed", ["output-dtype"], "y.dtype=torch.float32, but should be torch.bfloat16"),
    "wrong-shape": ("failed", ["output-shape"], "y.shape=torch.Size([24]), but should be torch.Size([3, 8])"),
    "wrong-device": ("failed", ["output-device"], "y.device=meta, but should be cpu"),
    "non-tensor": ("failed", ["output-type"], "y is list, not a Tensor"),
    "modifies-weight-after": ("failed", ["weight-modified"], "weight was modified in place: "),
    "returns-input": ("failed", ["numerics"], "y conforms to no allowed profile"),
    "slow": ("timeout", ["timeout"], "slow.rms_norm timed out after 0.5 s"),
    "swallows-interrupts": ("timeout", ["timeout"], "swallows-interrupts.rms_norm timed out after 0.5 s"),
    "declines-but-wrong": ("silent-wrong", ["numerics"], "supports() declined this case (weight must be bf16)"),
    "supports-raises": ("error", ["supports-raised"], "supports-raises.supports raised KeyError: 'bf16'"),
}
# Where no output tensor of the right kind came back, there is no error to measure.
UNJUDGED = {
    "raises",
    "wrong-dtype",
    "wrong-shape",
    "wrong-device",
    "non-tensor",
    "slow",
    "swallows-interrupts",
    "supports-raises",
}


def test_gallery_is_covered() -> None:
    assert {cls.name for cls in broken.GALLERY} | {"reference"} == set(EXPECTED)


def test_every_broken_candidate_gets_its_status(run_suite) -> None:
    impls = ["--normfusion-impl=reference", *(f"--normfusion-impl=broken:{cls.__name__}" for cls in broken.GALLERY)]
    run = run_suite(*impls, f"--normfusion-case={CASE}", "--normfusion-case-timeout=0.5")
    cases = run.cases()
    assert sorted(cases) == sorted(f"{name}-{CASE}" for name in EXPECTED)
    for name, (status, checks, text) in EXPECTED.items():
        case = cases[f"{name}-{CASE}"]
        assert (name, case["status"], case["failed_checks"]) == (name, status, checks), case["message"]
        assert text in case["message"], (name, case["message"])
        assert (case["max_ulp"] is None) == (name in UNJUDGED), (name, case["max_ulp"])
    summary = run.certificate["summary"]
    assert summary["total"] == len(EXPECTED)
    assert summary["passed"] == 1 and summary["timeout"] == 2 and summary["silent-wrong"] == 1
    run.result.assert_outcomes(passed=1, failed=len(EXPECTED) - 1)
    run.result.stdout.fnmatch_lines(["*normfusion: certificate written to*cert.json*"])


def test_crashed_xdist_worker_still_reports_the_case(run_suite) -> None:
    run = run_suite(
        "--normfusion-impl=reference", "--normfusion-impl=broken:Crashes", f"--normfusion-case={CASE}", "-n", "2"
    )
    cases = run.cases()
    assert sorted(cases) == [f"crashes-{CASE}", f"reference-{CASE}"]
    crashed = cases[f"crashes-{CASE}"]
    assert crashed["status"] == "error" and "crashed while running" in crashed["reason"]
    assert crashed["failed_checks"] == ["crashed"]
    assert crashed["op"] == "rms_norm" and cases[f"reference-{CASE}"]["status"] == "passed"
