"""Our Triton kernels against a slice of the conformance suite, in Triton's CPU interpreter.

Each run is a subprocess: Triton must be imported with its interpreter switched on,
which another test's earlier ``import triton`` (inductor's) would prevent in-process.
Skipped where triton is not installed; on a GPU host the same runs compile the kernels.
"""

from __future__ import annotations

import pytest

pytest.importorskip("triton")

# Every dtype, weight dtype, weight_bias and op on three shapes: odd H with strided
# rows and fp16-overflowing outliers, a realistic odd H, and many short rows (the
# many-rows-per-program path).
SLICE = (
    "*-T33xH67-eps1e-06-strided-outlier",
    "*-T83xH5125-eps1e-05-strided-normal",
    "*-T2049xH24-eps1e-06-contiguous-tiny",
)


def _run(pytester: pytest.Pytester, impl: str, *patterns: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        "test_norm",
        f"--normfusion-impl={impl}",
        *(f"--normfusion-case={p}" for p in patterns),
    )


def test_triton_conforms_on_a_slice_of_the_suite(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "triton", *SLICE)
    # 2 ops x (5 weight options for fp16 and bf16 + 3 for fp32) x 3 shapes
    result.assert_outcomes(passed=78)
    result.stdout.fnmatch_lines(["*rms_norm*bf16*fp32*1*fp32*", "*fused_add_rms_norm*fp16*fp16*fp32/fp32-sum*"])


def test_two_pass_kernel_conforms(pytester: pytest.Pytester) -> None:
    """A tiny single-pass bound sends every H past 64 to the chunked two-pass kernel."""
    pytester.makepyfile(
        chunked="from pytest_normfusion.impls.triton_kernels import Triton\n\n"
        "def make():\n    return Triton(max_single_pass=64)\n"
    )
    result = _run(
        pytester,
        "chunked:make",
        "*-bf16-*-T33xH67-eps1e-06-strided-outlier",
        "*-fp32-w_fp32-*-T7xH5120-*-contiguous-normal",
    )
    result.assert_outcomes(passed=10 + 8)  # bf16: 2 ops x 5 weight options; fp32: 2 ops x 2 biases x 2 eps
