"""The fusion-pass suite, run as a user runs it: ``pytest --normfusion-pass=...`` in an empty directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# world size 1, make_fx only: one in-process test per model (the pool and the
# compile tracer have their own tests below and in the repo's conformance run)
ONE_RUN = ("--normfusion-world-sizes=1", "-k", "make_fx")


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(TESTS))

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args)

    return run


def test_reference_pass_passes_every_model_at_world_sizes_1_and_2(run) -> None:
    result = run("--normfusion-pass=reference", "--normfusion-world-sizes=1,2", "-k", "make_fx")
    result.assert_outcomes(passed=12 * 2)
    result.stdout.fnmatch_lines(["normfusion: passes reference (reference)"])


# (wrong pass, the model it must fail, lines its failure report must hold)
WRONG = [
    (
        "DoesNothing",
        "residual-bf16",
        [
            "*[[]failed] model residual-bf16 [[]pass does-nothing, tracer make_fx, world size 1]",
            "0 allreduce_rms_norm nodes made, but should be 4 (*",
            "graph before -> after:",
            "(the pass left the graph unchanged)",
            "%fused_add_rms_norm = normfusion.fused_add_rms_norm(%all_reduce_1, %all_reduce, %arg1_1, 1e-06)",
            "seed 0; rerun: pytest --normfusion-pass=wrong_passes:DoesNothing --normfusion-seed=0 "
            "--normfusion-case=residual-bf16",
        ],
    ),
    (
        "IgnoresDtypes",
        "gemma-bf16-fp32-weight",
        [
            "4 allreduce_rms_norm nodes made, but should be 0 (*dtype rule forbids fusion)",
            "fused node 0 * breaks the fused kernel's dtype rule: weight dtype torch.float32, x dtype torch.bfloat16*",
            "-%fused_add_rms_norm = normfusion.fused_add_rms_norm(*",
            "+%allreduce_rms_norm_default* = normfusion.allreduce_rms_norm(*",
        ],
    ),
    (
        "DropsWeightBias",
        "gemma-float-bf16",
        [
            "fused node 0 (*) has weight_bias=0, but should be 1",
            "y (last site) differs from the original graph's: relative difference * (allowed 0.0312, *",
            "-%add = add.Tensor(%convert_element_type, 1.0)",
        ],
    ),
    (
        "StealsTheSecondUser",
        "residual-second-user-bf16",
        [
            "all_reduce nodes: 4 before, 0 after, but should be 1 (each fused node replaces its all-reduce; 1 kept "
            "for other users)",
            "all_reduce output of site 3 (its second user) differs from the original graph's: *",
        ],
    ),
    (
        "AppliesOneTwice",
        "gemma-plus-one-bf16",
        [
            "fused node 0 (*) applies + 1 twice: its weight %add_tensor is w + 1 and weight_bias=1; *",
            "y (last site) differs from the original graph's*",
        ],
    ),
]


def _failure_sections(result: pytest.RunResult) -> dict[str, list[str]]:
    """Each failed test's report lines, by test id."""
    sections: dict[str, list[str]] = {}
    current: list[str] = []
    for line in result.stdout.lines:
        match = re.fullmatch(r"_+ test_rewrite\[(.*)\] _+", line)
        if match:
            current = sections.setdefault(match.group(1), [])
        elif line.startswith("=") and sections:
            current = []
        else:
            current.append(line)
    return sections


def test_wrong_passes_fail_with_graph_diff(run) -> None:
    passes = [f"--normfusion-pass=wrong_passes:{wrong}" for wrong, _, _ in WRONG]
    models = [f"--normfusion-case={model}" for _, model, _ in WRONG]
    result = run(*passes, *models, *ONE_RUN)
    # does-nothing also fails the three other models that need fusing; drops-weight-bias and
    # applies-one-twice fail both Gemma models; every pass but ignores-dtypes leaves the
    # fp32-weight model alone, and all but steals-the-second-user the second-user model
    result.assert_outcomes(failed=10, passed=15)
    sections = _failure_sections(result)
    names = {"DoesNothing": "does-nothing", "IgnoresDtypes": "ignores-dtypes"}
    names |= {"DropsWeightBias": "drops-weight-bias", "AppliesOneTwice": "applies-one-twice"}
    names |= {"StealsTheSecondUser": "steals-the-second-user"}
    for wrong, model, lines in WRONG:
        pytest.LineMatcher(sections[f"{names[wrong]}-{model}-make_fx-ws1"]).fnmatch_lines(lines)
    assert "Captured log" not in result.stdout.str()  # torch's trace records would bury the diff


def test_failures_on_ranks_name_the_ranks(run) -> None:
    result = run(
        "--normfusion-pass=wrong_passes:DropsWeightBias",
        "--normfusion-pass=wrong_passes:Raises",
        "--normfusion-case=gemma-float-bf16",
        "--normfusion-world-sizes=2",
    )
    result.assert_outcomes(failed=2)
    sections = _failure_sections(result)
    pytest.LineMatcher(sections["drops-weight-bias-gemma-float-bf16-make_fx-ws2"]).fnmatch_lines(
        [
            "[[]failed] model gemma-float-bf16 [[]pass drops-weight-bias, tracer make_fx, world size 2]",
            "rank 0,1: fused node 0 (*) has weight_bias=0, but should be 1",
            "rank 0,1: y (last site) differs from the original graph's*",
            "+%allreduce_rms_norm_default* = normfusion.allreduce_rms_norm(%arg7_1, None, %arg0_1, 1e-06, 0.0, '0')",
            "seed 0; rerun: pytest --normfusion-pass=wrong_passes:DropsWeightBias --normfusion-seed=0 "
            "--normfusion-world-sizes=2 --normfusion-case=gemma-float-bf16",
        ]
    )
    pytest.LineMatcher(sections["raises-gemma-float-bf16-make_fx-ws2"]).fnmatch_lines(
        [
            "[[]error] model gemma-float-bf16 [[]pass raises, tracer make_fx, world size 2]",
            "rank 0,1: pass raises raised RuntimeError: pattern table is corrupt",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_raising_pass_fails_cleanly(run) -> None:
    result = run("--normfusion-pass=wrong_passes:Raises", "--normfusion-case=plain-bf16", *ONE_RUN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "[[]error] model plain-bf16 [[]pass raises, tracer make_fx, world size 1]",
            "pass raises raised RuntimeError: pattern table is corrupt",
            "Traceback (most recent call last):",
            "*in __call__",
            "RuntimeError: pattern table is corrupt",
            "graph before -> after:",
            "(the pass left the graph unchanged)",
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()


def test_unclaimed_models_are_skipped_with_the_reason(run) -> None:
    result = run("--normfusion-pass=wrong_passes:ClaimsPlainOnly", "-rs", *ONE_RUN)
    result.assert_outcomes(passed=2, skipped=10)
    result.stdout.fnmatch_lines(
        [
            "SKIPPED [[]6] *: pass plain-only claims plain; this model needs residual",
            "SKIPPED [[]4] *: pass plain-only claims plain; this model needs gemma",
        ]
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "nope",
            "ERROR: unknown pass 'nope': give an entry point name (pytest_normfusion.passes: reference) or module:attr",
        ),
        (
            "wrong_passes:Missing",
            "ERROR: pass 'wrong_passes:Missing': module 'wrong_passes' has no attribute 'Missing'",
        ),
    ],
)
def test_bad_pass_name_is_a_usage_error(run, spec: str, message: str) -> None:
    result = run(f"--normfusion-pass={spec}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_a_pass_alone_runs_only_the_pass_suite(run) -> None:
    result = run("--normfusion-pass=reference", "--collect-only", "-q")
    result.stdout.fnmatch_lines(["*test_fusion_pass.py::test_rewrite[[]reference-plain-bf16-make_fx-ws1]"])
    assert "test_norms.py" not in result.stdout.str()
    impl_only = run("--normfusion-impl=reference", "--normfusion-case=rms_norm-bf16-*", "--collect-only", "-q")
    impl_only.stdout.fnmatch_lines(["*test_norms.py::test_norm[[]reference-rms_norm-bf16-*"])
    assert "test_fusion_pass.py" not in impl_only.stdout.str()


def test_ini_key_names_the_pass(run, pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnormfusion_pass = wrong_passes:DoesNothing\n")
    result = run("--normfusion-case=plain-bf16", *ONE_RUN)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*[[]failed] model plain-bf16 [[]pass does-nothing, *",
            "*normfusion fusion passes*",
            "does-nothing *plain-bf16 * 0 * 1 * 0  0 (4)",
        ]
    )
