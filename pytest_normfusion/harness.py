"""The session object: settings, loaded candidates and passes, the ranks, and how a case becomes a test.

One ``NormfusionSession`` per pytest run (on the xdist controller and in every worker), made in
``pytest_configure`` and registered as the plugin ``normfusion-session``; everything below it gets plain
values from it. The conformance tests reach it through the ``normfusion`` fixture.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from pytest_normfusion import expectations, loading, options
from pytest_normfusion.certificate.record import CASE_PROPERTY, PASS_PROPERTY, CaseRecord, PassRecord
from pytest_normfusion.core.case import Case
from pytest_normfusion.core.outcome import Outcome
from pytest_normfusion.core.status import Status
from pytest_normfusion.loading import Candidate, FusionPassCandidate
from pytest_normfusion.settings import Settings

if TYPE_CHECKING:
    from pytest_normfusion.core.fx.models import ModelSpec
    from pytest_normfusion.core.fx.rewrite import FusionOutcome
    from pytest_normfusion.ranks.launcher import LauncherGroup
    from pytest_normfusion.ranks.pool import Pools
    from pytest_normfusion.results import Results

SESSION = pytest.StashKey["NormfusionSession"]()


class NormfusionSession:
    """What one pytest run of the suite holds; made once, read everywhere."""

    def __init__(self, config: pytest.Config, settings: Settings, entries: list[expectations.Entry]) -> None:
        self.config = config
        self.settings = settings
        self.expectations = entries
        self.results: Results | None = None  # the controller's collector (set by the plugin)

    @classmethod
    def of(cls, config: pytest.Config) -> NormfusionSession:
        return config.stash[SESSION]

    @functools.cached_property
    def candidates(self) -> list[Candidate]:
        """The impls to certify (default: the reference); LoadError when one cannot be loaded."""
        return loading.load_candidates(self.settings.impl_specs or ("reference",))

    @functools.cached_property
    def passes(self) -> list[FusionPassCandidate]:
        """The fusion passes to certify (default: the reference pass)."""
        return loading.load_passes(self.settings.pass_specs or ("reference",))

    def load_named(self) -> None:
        """Load the impls and passes named on the command line now: one that names nothing is a usage error."""
        try:
            if self.settings.impl_specs:
                self.candidates  # noqa: B018 (a cached property: loading is the point)
            if self.settings.pass_specs:
                self.passes  # noqa: B018
        except loading.LoadError as exc:
            raise pytest.UsageError(str(exc)) from None

    @functools.cached_property
    def ranks(self) -> Pools | LauncherGroup:
        """The session's rank pools, or torchrun's group (joined on first use); closed at the end."""
        from pytest_normfusion.ranks.launcher import LauncherGroup, torchrun_env
        from pytest_normfusion.ranks.pool import Pools

        settings = self.settings
        made: Pools | LauncherGroup
        if torchrun_env() is not None:
            made = LauncherGroup(settings.backend, settings.timeout)
        else:
            made = Pools(settings.backend, settings.timeout, settings.max_pool_rebuilds)
        self.config.add_cleanup(made.close)
        return made

    # ------------------------------------------------------------ collection

    def check_case_patterns(self) -> None:
        """Every ``--normfusion-case`` pattern must name some case or model; UsageError naming the nearest ids."""
        if not self.settings.case_patterns:
            return
        ids = known_ids()
        for pattern in self.settings.case_patterns:
            if not any(fnmatch.fnmatchcase(i, pattern) for i in ids):
                near = difflib.get_close_matches(pattern, ids, n=3, cutoff=0.6)
                hint = f"; nearest: {', '.join(near)}" if near else ""
                raise pytest.UsageError(f"{options.CASE_OPTION}={pattern}: matches no case or fusion model{hint}")

    def parametrize(self, metafunc: pytest.Metafunc, cases: list[Case]) -> None:
        """Parametrize ``nf_candidate`` x ``nf_case`` with ids ``<impl>-<case id>``."""
        params = [pytest.param(c, case, id=f"{c.name}-{case.id}") for c in self.candidates for case in cases]
        metafunc.parametrize(("nf_candidate", "nf_case"), params)

    def prepare(self, items: list[pytest.Item]) -> list[expectations.Entry]:
        """Apply the skip/xfail entries and give every conformance test its record; returns unmatched entries."""
        matched, hits = expectations.apply(items, self.expectations, self.settings.xfail_strict)
        for item in items:
            ids = expectations.ids_of(item)
            if ids is not None:
                _put(item, _placeholder(item, ids[1], matched.get(item)).as_dict())
        return [e for e in self.expectations if not hits[e]]

    def unselected(self, items: list[pytest.Item], suite_dir: Path) -> list[pytest.Item]:
        """Conformance tests that ``--normfusion-case`` leaves out.

        A case selection names matrix cases (or fusion models): a suite whose parameter set it
        emptied is left out rather than reported as an empty-parameter skip, and the property
        tests stay only when ``--normfusion-hypothesis`` asks for them too.
        """
        if not self.settings.case_patterns:
            return []

        def left_out(item: pytest.Item) -> bool:
            if item.path.parent == suite_dir and item.get_closest_marker("skip") is not None:
                return True  # pytest's "got empty parameter set" item: the suites carry no skip marks themselves
            callspec = getattr(item, "callspec", None)
            property_test = callspec is not None and "nf_op" in callspec.params
            return property_test and self.settings.hypothesis is None

        return [item for item in items if left_out(item)]

    # ---------------------------------------------------------------- verdicts

    def settle(self, node: pytest.Item, candidate: Candidate, case: Case, outcome: Outcome) -> None:
        """Record the outcome on the test item, then pass, skip or fail the test with its message."""
        repro = self.settings.repro(candidate.spec, case.id)
        _update(node, outcome, repro)
        if outcome.status is Status.PASSED:
            return
        if outcome.status is Status.SKIPPED:
            pytest.skip(outcome.message)
        m = outcome.metrics
        numbers = (
            f"vs fp64 ideal: max {m['max_ulp']} ulp, rel {m['rel_err']:.3g}; profile followed: {m['profile'] or 'none'}\n"
            if "max_ulp" in m
            else ""
        )
        pytest.fail(
            f"[{outcome.status}] {case.id} [impl {candidate.name}]\n{case.summary()}\n{outcome.message}\n"
            f"{numbers}seed {self.settings.seed}; rerun: {repro}",
            pytrace=False,
        )

    def settle_property(
        self, node: pytest.Item, candidate: Candidate, op: str, outcome: Outcome, case: Case | None
    ) -> None:
        """Record a property test's outcome (with the minimal failing case's fields), then pass or fail it."""
        repro = self.settings.repro_property(candidate.spec, f"{candidate.name}-properties-{op}")
        _update(node, outcome, repro, case)
        if outcome.status is not Status.PASSED:
            pytest.fail(
                f"[{outcome.status}] properties of {op} [impl {candidate.name}]\n{outcome.message}\nrerun: {repro}",
                pytrace=False,
            )

    def settle_pass(
        self,
        node: pytest.Item,
        fusion_pass: FusionPassCandidate,
        model: ModelSpec,
        tracer: str,
        world_size: int,
        outcome: FusionOutcome,
    ) -> None:
        """Record a fusion-pass run, then pass, or fail with the problems, the graph diff, the seed and a rerun line."""
        repro = self.settings.pass_repro(fusion_pass.spec, model.id, world_size)
        record = PassRecord(
            test_id=node.callspec.id,  # type: ignore[attr-defined]
            pass_name=fusion_pass.name,
            model=model.id,
            tracer=tracer,
            world_size=world_size,
            status=outcome.status.value,
            fused=outcome.fused,
            expected=model.expect.allowed,
            failed_checks=outcome.failed_checks,
            reason=(outcome.message.splitlines() or [""])[0],
            message=outcome.message,
            repro=repro,
            rel_diff=outcome.metrics.get("rel_diff"),
            rel_bound=outcome.metrics.get("rel_bound"),
        )
        node.user_properties.append((PASS_PROPERTY, record.as_dict()))
        if outcome.status is Status.PASSED:
            return
        pytest.fail(
            f"[{outcome.status}] model {model.id} [pass {fusion_pass.name}, tracer {tracer}, world size {world_size}]\n"
            f"model: {model.why}; expected {model.expect.allowed} fused nodes, weight_bias "
            f"{model.expect.weight_biases}, eps {model.expect.eps:g}\n"
            f"{outcome.message}\n"
            f"graph before -> after:\n{outcome.diff}\n"
            f"seed {self.settings.seed}; rerun: {repro}",
            pytrace=False,
        )

    # -------------------------------------------------------------- the end

    def write_certificate(self, exit_status: int) -> list[Path]:
        """The certificate JSON and its Markdown, from the controller's records."""
        from pytest_normfusion.certificate import document, environment, markdown
        from pytest_normfusion.core.tolerance import TOLERANCES

        assert self.settings.report is not None and self.results is not None
        workers = getattr(self.config.option, "numprocesses", None) or 0
        doc = document.build(
            environment=environment.describe(self.settings.device),
            run=self.settings.run_block(tuple(self.config.invocation_params.args), int(workers), exit_status),
            candidates=self.candidates if self.settings.runs_suite("impls") else [],
            tolerances=TOLERANCES,
            expectations=self.expectations,
            records=self.results.records,
            pass_records=self.results.pass_records,
        )
        path = self.settings.report
        path.parent.mkdir(parents=True, exist_ok=True)
        document.write(doc, path)
        return [path, markdown.write_markdown(doc, path)]


@functools.cache
def known_ids() -> tuple[str, ...]:
    """Every id a case selection can name: the full matrix, every all-reduce case, the perf sweeps, the fusion models."""
    from pytest_normfusion.core import matrix
    from pytest_normfusion.core.case import DTYPES
    from pytest_normfusion.core.fx.models import MODELS
    from pytest_normfusion.perf import allreduce, sweep

    cases = [
        *matrix.single_device_cases(DTYPES, full=True),
        *matrix.allreduce_cases(DTYPES, matrix.WORLD_SIZES, full=True),
        *sweep.sweep(DTYPES, full=True),
        *allreduce.sweep(DTYPES, matrix.WORLD_SIZES, full=True),
    ]
    return tuple(dict.fromkeys([*(c.id for c in cases), *(m.id for m in MODELS)]))


def _placeholder(item: pytest.Item, case_id: str, entry: expectations.Entry | None) -> CaseRecord:
    """The record a conformance test starts with; ``settle`` completes it, or the report explains it."""
    params = item.callspec.params  # type: ignore[attr-defined]
    candidate, case = params["nf_candidate"], params.get("nf_case")
    check = item.originalname.removeprefix("test_")  # type: ignore[attr-defined]
    record = CaseRecord.for_case(check, candidate.name, case, case_id, op=params.get("nf_op"))
    if entry is not None and entry.kind == "skip":
        record.status, record.reason = Status.SKIPPED.value, entry.shown()
    record.expectation = None if entry is None else expectations.as_data(entry)
    return record


def _put(node: pytest.Item, data: dict) -> None:
    """Attach the record to the item, replacing the one placed at collection (one per item)."""
    for i, (name, _) in enumerate(node.user_properties):
        if name == CASE_PROPERTY:
            node.user_properties[i] = (CASE_PROPERTY, data)
            return
    node.user_properties.append((CASE_PROPERTY, data))


def _update(node: pytest.Item, outcome: Outcome, repro: str, case: Case | None = None) -> None:
    """Settle the item's record with ``outcome`` (and the case, for a property test's minimal example)."""
    placed = next((dict(v) for name, v in node.user_properties if name == CASE_PROPERTY), None)
    if placed is None:  # a test outside the collected suite (e.g. called directly)
        return
    record = CaseRecord.from_dict(placed)
    if case is not None:
        record.describe(case)
    record.settle(outcome, repro)
    _put(node, record.as_dict())
