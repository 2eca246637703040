"""The property-based layer: hypothesis draws cases beyond the fixed matrix (needs hypothesis).

Shapes (T from 1, H from 1, odd ones included), row padding (strided rows),
magnitudes (a log-uniform scale plus a few outliers) and eps are drawn; the
tensors come from a drawn seed, so hypothesis shrinks the parameters, not
millions of floats, and the minimal failing case is small and readable.
Examples are derived from the session seed: the same seed draws the same
examples, in any process.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from pytest_normfusion.core import matrix
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.inputs import Inputs, derive_seed, weight_values
from pytest_normfusion.core.outcome import Outcome
from pytest_normfusion.core.single import run_on_inputs
from pytest_normfusion.core.status import Status
from pytest_normfusion.loading import Candidate

# Examples per budget: ci keeps a CPU run to seconds, certify is for a release.
BUDGETS = {"ci": 25, "certify": 1000}
# Drawn values are clipped here: x + residual must be finite in fp16 (max 65504), or no
# residual_out could be (found by this layer: x = r = 1e5 made the reference's r_out inf).
VALUE_LIMIT = 3e4


@dataclasses.dataclass(frozen=True)
class Example:
    """The drawn parameters of one example; its tensors are a function of these alone."""

    dtype: str
    weight: str
    weight_bias: float
    tokens: int
    hidden: int
    pad: int  # extra elements per row: 0 packs the rows, more makes them strided
    log10_scale: float  # x ~ N(0, 1) * 10**log10_scale
    outliers: int  # elements per row scaled by 10**log10_outlier
    log10_outlier: float
    log10_eps: float
    data_seed: int

    def case(self, op: str) -> Case:
        """The Case the judge reads (id, eps, dtypes, residual, row padding)."""
        return Case(
            op,
            self.dtype,
            self.weight,
            self.weight_bias,
            self.tokens,
            self.hidden,
            10.0**self.log10_eps,
            "strided" if self.pad else "contiguous",
            f"scale1e{self.log10_scale:+.2f}",
            op != "rms_norm",
            pad=self.pad,
        )


def examples(dtypes: tuple[str, ...]) -> st.SearchStrategy[Example]:
    """Examples over the session's dtypes; small values first, so shrinking heads for T=1, H=1."""

    @st.composite
    def draw_example(draw: Any) -> Example:
        dtype = draw(st.sampled_from(dtypes))
        weight, bias = draw(st.sampled_from(matrix.weight_options(dtype)))
        return Example(
            dtype=dtype,
            weight=weight,
            weight_bias=bias,
            tokens=draw(st.integers(1, 64)),
            hidden=draw(st.one_of(st.integers(1, 96), st.integers(97, 8192))),
            pad=draw(st.integers(0, 9)),
            log10_scale=draw(st.floats(-5.0, 2.5)),
            outliers=draw(st.integers(0, 3)),
            log10_outlier=draw(st.floats(1.0, 3.0)),
            log10_eps=draw(st.floats(-12.0, -1.0)),
            data_seed=draw(st.integers(0, 2**32 - 1)),
        )

    return draw_example()


def example_inputs(example: Example, case: Case) -> Inputs:
    """x (and the residual) of the example, laid out with its row padding; junk in the padding."""
    gen = torch.Generator().manual_seed(example.data_seed)

    def activations() -> torch.Tensor:
        t, h = example.tokens, example.hidden
        values = torch.randn(t, h, generator=gen) * 10.0**example.log10_scale
        if example.outliers:
            cols = torch.randint(0, h, (t, example.outliers), generator=gen)
            values.scatter_(1, cols, values.gather(1, cols) * 10.0**example.log10_outlier)
        values = values.clamp(-VALUE_LIMIT, VALUE_LIMIT).to(case.torch_dtype)
        wide = torch.randn(t, case.row_stride, generator=gen).to(case.torch_dtype)
        wide[:, :h] = values
        return wide[:, :h]

    weight = None
    if case.weight != "none":
        weight = weight_values(case.hidden, case.weight_bias, gen).to(case.weight_torch_dtype)
    return Inputs(x=activations(), residual=activations() if case.residual else None, weight=weight)


class PropertyFailure(AssertionError):
    """An example the candidate got wrong; carries the outcome and the example."""

    def __init__(self, outcome: Outcome, example: Example, case: Case) -> None:
        super().__init__(f"[{outcome.status}] {case.summary()}\n{outcome.message}")
        self.outcome, self.example, self.case = outcome, example, case


def hypothesis_seed(session_seed: int, test_id: str) -> int:
    """The seed hypothesis draws this test's examples from, derived from the session seed."""
    return derive_seed(session_seed, f"properties:{test_id}") % 2**32


def check(
    candidate: Candidate,
    op: str,
    *,
    session_seed: int,
    test_id: str,
    budget: str,
    dtypes: tuple[str, ...],
    timeout: float,
) -> tuple[Outcome, Case | None]:
    """Run the budget's examples; the outcome of the minimal failing one (shrunk), or passed."""

    def one(example: Example) -> None:
        case = example.case(op)
        outcome = run_on_inputs(candidate, case, example_inputs(example, case), timeout)
        if outcome.status not in (Status.PASSED, Status.SKIPPED):  # skipped: declined, and the probe conformed
            raise PropertyFailure(outcome, example, case)

    hyp_seed = hypothesis_seed(session_seed, test_id)
    run = settings(
        max_examples=BUDGETS[budget],
        database=None,  # nothing written into the user's directory
        deadline=None,  # CPU timing varies with load; --normfusion-case-timeout bounds a call
        print_blob=True,
        report_multiple_bugs=False,  # one minimal failure, the first kind found
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(given(example=examples(dtypes))(one))
    try:
        seed(hyp_seed)(run)()
    except PropertyFailure as exc:  # raised by the final replay of the minimal example
        notes = "\n".join(n.strip() for n in getattr(exc, "__notes__", []))
        seeded = f"hypothesis seed {hyp_seed} (derived from --normfusion-seed={session_seed}), budget {budget}"
        outcome = exc.outcome
        note = "\n".join(filter(None, [f"shrunk to: {exc.case.summary()}", outcome.note, notes, seeded]))
        return Outcome(outcome.status, outcome.problems, note, outcome.metrics), exc.case
    return Outcome(Status.PASSED, note=f"{BUDGETS[budget]} examples conform (hypothesis seed {hyp_seed})"), None
