"""Find a candidate (or a pass) by entry point name or ``module:attr``.

``attr`` may be an instance, a class (instantiated without arguments) or a
zero-argument factory. Errors are one line that says what was tried and what
is installed.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from pytest_normfusion.core.case import OPS, Case
from pytest_normfusion.core.fx import PATTERNS
from pytest_normfusion.core.tolerance import Tolerances

IMPL_GROUP = "pytest_normfusion.impls"
PASS_GROUP = "pytest_normfusion.passes"


class LoadError(Exception):
    """A spec that names nothing usable; the message is the whole explanation."""


class SupportsAnswerError(ValueError):
    """``supports(case)`` answered something other than True, False or a reason string."""


# What ``supports`` is asked at load time, so that a wrong kind of answer is found before any case runs.
PROBE_CASE = Case("rms_norm", "bf16", "bf16", 0.0, 1, 4096, 1e-6)


def installed(group: str) -> list[str]:
    """Entry point names of ``group``, sorted."""
    return sorted({ep.name for ep in entry_points(group=group)})


def resolve(spec: str, group: str) -> Any:
    """The object ``spec`` names: ``module:attr`` or an entry point name in ``group``."""
    what = "impl" if group == IMPL_GROUP else "pass"
    if ":" in spec:
        module_name, _, attr = spec.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
        except Exception as exc:  # the user's module: any error is a load error
            raise LoadError(f"{what} {spec!r}: cannot import {module_name!r}: {type(exc).__name__}: {exc}") from exc
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise LoadError(f"{what} {spec!r}: module {module_name!r} has no attribute {attr!r}")
            obj = getattr(obj, part)
        return obj
    matches = [ep for ep in entry_points(group=group) if ep.name == spec]
    if not matches:
        names = ", ".join(installed(group)) or "none"
        raise LoadError(f"unknown {what} {spec!r}: give an entry point name ({group}: {names}) or module:attr")
    try:
        return matches[0].load()
    except Exception as exc:
        raise LoadError(f"{what} {spec!r}: loading {matches[0].value} failed: {type(exc).__name__}: {exc}") from exc


@dataclasses.dataclass
class Candidate:
    """A loaded implementation and what the suite needs to know of it."""

    spec: str  # as the user gave it; ranks and repro lines load it again from this
    name: str
    obj: Any
    tolerances: Tolerances

    def method(self, op: str) -> Any:
        """The bound method for ``op``, or None when the candidate lacks it."""
        return getattr(self.obj, op, None)

    def declines(self, case: Case) -> str | None:
        """None when ``supports(case)`` accepts the case (or is absent), else the reason.

        Raises SupportsAnswerError for an answer that is neither True, False nor a reason string
        (None, say, which would otherwise decline every case without a word).
        """
        supports = getattr(self.obj, "supports", None)
        if supports is None:
            return None
        answer = supports(case)
        if answer is True:
            return None
        if answer is False:
            return "supports() returned False"
        if isinstance(answer, str) and answer.strip():
            return answer
        raise SupportsAnswerError(
            f"{self.name}.supports() returned {answer!r} for {case.id}; return True, False or a reason string"
        )

    def capabilities(self) -> dict[str, Any]:
        """What the certificate records of the candidate."""
        return {
            "spec": self.spec,
            "ops": [op for op in OPS if self.method(op) is not None],
            "has_supports": hasattr(self.obj, "supports"),
            "tolerance_overrides": {k: dataclasses.asdict(b) for k, b in self.tolerances.overrides.items()},
        }


def load_candidate(spec: str) -> Candidate:
    """Load and check a candidate; raises LoadError when it has none of the ops."""
    obj = resolve(spec, IMPL_GROUP)
    if isinstance(obj, type) or (callable(obj) and not any(hasattr(obj, op) for op in OPS)):
        try:
            obj = obj()
        except Exception as exc:
            raise LoadError(f"impl {spec!r}: calling {obj!r}() failed: {type(exc).__name__}: {exc}") from exc
    if not any(callable(getattr(obj, op, None)) for op in OPS):
        raise LoadError(f"impl {spec!r}: {type(obj).__name__} has none of the ops {', '.join(OPS)}")
    try:
        tolerances = Tolerances.for_candidate(getattr(obj, "tolerance_overrides", None))
    except ValueError as exc:
        raise LoadError(f"impl {spec!r}: {exc}") from exc
    candidate = Candidate(spec=spec, name=str(getattr(obj, "name", spec)), obj=obj, tolerances=tolerances)
    try:
        candidate.declines(PROBE_CASE)
    except SupportsAnswerError as exc:
        raise LoadError(f"impl {spec!r}: {exc}") from exc
    except Exception:  # supports() that raises is reported per case, with its traceback
        pass
    return candidate


@dataclasses.dataclass
class FusionPassCandidate:
    """A loaded fusion pass: a callable rewriting a GraphModule in place, and what it claims."""

    spec: str  # as the user gave it; ranks and repro lines load it again from this
    name: str
    fn: Any
    claims: frozenset[str] | None  # the model patterns it fuses; None: all of them

    def unclaimed(self, patterns: frozenset[str]) -> str | None:
        """Why a model exercising ``patterns`` is not this pass's business, or None."""
        if self.claims is None or patterns <= self.claims:
            return None
        return (
            f"pass {self.name} claims {', '.join(sorted(self.claims)) or 'nothing'}; "
            f"this model needs {', '.join(sorted(patterns - self.claims))}"
        )


def load_pass(spec: str) -> FusionPassCandidate:
    """Load a pass (an instance, a class or a factory of a callable, or the callable itself)."""
    obj = resolve(spec, PASS_GROUP)
    if isinstance(obj, type):
        try:
            obj = obj()
        except Exception as exc:
            raise LoadError(f"pass {spec!r}: calling {obj!r}() failed: {type(exc).__name__}: {exc}") from exc
    if not callable(obj):
        raise LoadError(f"pass {spec!r}: {type(obj).__name__} is not callable (a pass is fn(GraphModule))")
    claims = getattr(obj, "claims", None)
    if claims is not None:
        claims = frozenset(claims)
        unknown = sorted(claims - set(PATTERNS))
        if unknown:
            raise LoadError(f"pass {spec!r}: unknown claims {', '.join(unknown)}; known: {', '.join(PATTERNS)}")
    name = str(getattr(obj, "name", None) or getattr(obj, "__name__", None) or spec)
    return FusionPassCandidate(spec=spec, name=name, fn=obj, claims=claims)


def _named_once(loaded: list[Any], what: str) -> None:
    """Two of one name would give colliding test ids."""
    names = [item.name for item in loaded]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise LoadError(f"{what} name {', '.join(twice)} given twice; certify each {what} once")


def load_candidates(specs: Iterable[str]) -> list[Candidate]:
    """Load every spec; two candidates of one name are an error."""
    candidates = [load_candidate(spec) for spec in specs]
    _named_once(candidates, "impl")
    return candidates


def load_passes(specs: Iterable[str]) -> list[FusionPassCandidate]:
    """Load every pass spec; two passes of one name are an error."""
    passes = [load_pass(spec) for spec in specs]
    _named_once(passes, "pass")
    return passes


@functools.cache
def cached_candidate(spec: str) -> Candidate:
    """A candidate loaded once per process: ranks, perf peers and the reference share it."""
    return load_candidate(spec)


@functools.cache
def cached_pass(spec: str) -> FusionPassCandidate:
    """A pass loaded once per (rank) process."""
    return load_pass(spec)
