"""Options, loading and collection: bad input is one line and exit code 4; ids are stable."""

from __future__ import annotations

import pytest

ONE_CASE = "--normfusion-case=*-bf16-w_bf16-bias0-T33xH67-eps1e-05-strided-outlier"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (
            ["--normfusion-impl=nosuch"],
            "ERROR: unknown impl 'nosuch': give an entry point name (pytest_normfusion.impls: *reference, torch-compile*) or module:attr",
        ),
        (
            ["--normfusion-impl=nomodule:Impl"],
            "ERROR: impl 'nomodule:Impl': cannot import 'nomodule': ModuleNotFoundError: *",
        ),
        (
            ["--normfusion-impl=candidates:Nope"],
            "ERROR: impl 'candidates:Nope': module 'candidates' has no attribute 'Nope'",
        ),
        (
            ["--normfusion-impl=os:sep"],
            "ERROR: impl 'os:sep': str has none of the ops rms_norm, fused_add_rms_norm, allreduce_rms_norm",
        ),
        (["--normfusion-impl=reference", "--normfusion-impl=reference"], "ERROR: impl name reference given twice*"),
        (["--normfusion-dtypes=bf16,fp8"], "ERROR: --normfusion-dtypes: unknown dtype fp8; choose from fp16,bf16,fp32"),
        (
            ["--normfusion-impl=reference", "--normfusion-seed=abc"],
            "ERROR: --normfusion-seed='abc': expected an integer or 'random'",
        ),
        (
            ["--normfusion-impl=reference", "--normfusion-device=tpu"],
            "ERROR: --normfusion-device='tpu': expected auto, cpu or cuda",
        ),
        (
            ["--normfusion-impl=broken:SupportsAnswersNone"],
            "ERROR: impl 'broken:SupportsAnswersNone': supports-answers-none.supports() returned None for "
            "rms_norm-bf16-w_bf16-bias0-T1xH4096-eps1e-06-contiguous-normal; return True, False or a reason string",
        ),
        (
            ["--normfusion-impl=reference", "--normfusion-case=rms_norm-bf16-w_bf16-bias0-T7xH5121-*"],
            "ERROR: --normfusion-case=rms_norm-bf16-w_bf16-bias0-T7xH5121-*: matches no case or fusion model; "
            "nearest: rms_norm-bf16-w_bf16-bias0-T7xH5120-*",
        ),
    ],
)
def test_bad_input_is_a_one_line_usage_error(run_plain, args, error):
    result = run_plain(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([error])
    assert "Traceback" not in result.stderr.str()


@pytest.mark.parametrize("attr", ["InPlace", "INSTANCE", "make_reference"])
def test_impl_may_be_class_instance_or_factory_and_write_in_place(run_plain, attr):
    result = run_plain(f"--normfusion-impl=candidates:{attr}", ONE_CASE)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["normfusion: impls in-place (candidates:*)"])


def test_missing_op_is_skipped_with_its_reason(run_plain):
    result = run_plain("--normfusion-impl=candidates:InputDtypeMultiply", ONE_CASE, "-rs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * input-dtype-multiply has no fused_add_rms_norm"])


def test_clear_error_for_declined_case_is_a_skip(run_plain):
    result = run_plain(
        "--normfusion-impl=candidates:RaisesOnMixed",
        "--normfusion-case=rms_norm-fp16-w_*-bias0-T1xH1-*-contiguous-normal",
        "-rs",
    )
    result.assert_outcomes(passed=4, skipped=2)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * declined by supports(): supports() returned False (probed: raises TypeError: weight must be torch.float16, got torch.float32)"
        ]
    )


def test_ids_are_stable_across_runs_seeds_and_workers(run_plain):
    first = run_plain("--normfusion-impl=reference", "--collect-only", "-q", "--normfusion-seed=1")
    second = run_plain("--normfusion-impl=reference", "--collect-only", "-q", "--normfusion-seed=random")
    ids = [line for line in first.outlines if "::test_norm[" in line]
    assert len(ids) == 2184
    assert ids == [line for line in second.outlines if "::test_norm[" in line]
    assert "test_norm[reference-rms_norm-bf16-w_fp32-bias1-T83xH5125-eps1e-06-strided-outlier]" in "\n".join(ids)


def test_random_seed_is_shared_by_xdist_workers_and_printed(run_plain):
    result = run_plain(
        "--normfusion-impl=candidates:IgnoresWeightBias",
        "--normfusion-seed=random",
        "-n",
        "2",
        "--normfusion-case=rms_norm-bf16-w_bf16-bias1-T7xH5120-*-contiguous-*",
    )
    result.assert_outcomes(failed=6)
    seeds = {line.split("seed ")[1].split(";")[0] for line in result.outlines if line.startswith("seed ")}
    assert len(seeds) == 1, seeds


def test_plugin_is_inert_in_other_projects(pytester: pytest.Pytester):
    pytester.makepyfile("def test_other():\n    assert 1 + 1 == 2\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["collected 1 item"])
    assert "normfusion:" not in result.stdout.str()


def test_ini_keys_select_impl_and_dtypes(run_plain, pytester: pytest.Pytester):
    pytester.makeini("[pytest]\nnormfusion_impl = reference\nnormfusion_dtypes = fp32\n")
    result = run_plain("--collect-only", "-q")
    ids = [line for line in result.outlines if "::test_norm[" in line]
    assert len(ids) == 2 * 3 * 2 * 42
    assert all("-fp32-" in i for i in ids)


def test_a_run_that_certifies_nothing_for_an_impl_fails_with_one_line(run_plain):
    result = run_plain("--normfusion-impl=reference", "--normfusion-impl=broken:DeclinesEverything", ONE_CASE)
    result.assert_outcomes(passed=2, skipped=2)  # declines-everything has no fused_add_rms_norm either
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        ["normfusion: nothing was certified for impl declines-everything: all 2 of its cases were skipped*"]
    )


def test_declined_case_returning_the_wrong_dtype_is_a_skip_naming_it(run_plain):
    result = run_plain(
        "--normfusion-impl=broken:DeclinedReturnsWeightDtype",
        "--normfusion-case=rms_norm-bf16-w_*-bias0-T3xH8-eps1e-05-contiguous-normal",
        "-rs",
    )
    result.assert_outcomes(passed=2, skipped=1)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED * declined by supports(): the output takes the weight's dtype "
            "(probed: y.dtype=torch.float32, but should be torch.bfloat16)"
        ]
    )


def test_a_wrong_residual_out_does_not_hide_a_wrong_y(run_suite):
    case = "fused_add_rms_norm-bf16-w_bf16-bias0-T3xH8-eps1e-05-contiguous-normal"
    run = run_suite("--normfusion-impl=broken:WrongResidualDtypeAndWrongY", f"--normfusion-case={case}")
    (record,) = run.certificate["cases"]
    assert record["status"] == "failed"
    assert record["failed_checks"] == ["numerics", "output-dtype"]
