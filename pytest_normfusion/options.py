"""The command-line options and ini keys, and their parsers (each raises pytest.UsageError naming the form).

Help-text rules: say what the option selects, its form, and its default. Every
option has an ini key ``normfusion_<name>``; the command line wins.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from pytest_normfusion.core import matrix

IMPL_OPTION = "--normfusion-impl"
PASS_OPTION = "--normfusion-pass"
DTYPES_OPTION = "--normfusion-dtypes"
SEED_OPTION = "--normfusion-seed"
QUICK_OPTION = "--normfusion-quick"
FULL_OPTION = "--normfusion-full"
CASE_OPTION = "--normfusion-case"
DEVICE_OPTION = "--normfusion-device"
MIN_SPEEDUP_OPTION = "--normfusion-min-speedup"
PERF_PEERS_OPTION = "--normfusion-perf-peers"
REPORT_OPTION = "--normfusion-report"
SKIPS_OPTION = "--normfusion-skips"
XFAILS_OPTION = "--normfusion-xfails"
XFAIL_STRICT_OPTION = "--normfusion-xfail-strict"
CASE_TIMEOUT_OPTION = "--normfusion-case-timeout"
HYPOTHESIS_OPTION = "--normfusion-hypothesis"
WORLD_SIZES_OPTION = "--normfusion-world-sizes"
TIMEOUT_OPTION = "--normfusion-timeout"
REBUILDS_OPTION = "--normfusion-max-pool-rebuilds"

DEVICES = ("auto", "cpu", "cuda")
MATRICES = ("quick", "full")
# Seconds a candidate call may take. The full matrix's largest case (fused add,
# 4096 x 4096) took 27 s per test, judging and torch.compile's compile included,
# on 2 shared CPU cores: a call past 120 s is hung, not slow.
DEFAULT_CASE_TIMEOUT = 120.0

# (option, dest, ini default, help); the flags and list options are added on their own below
_VALUED = (
    (DTYPES_OPTION, "dtypes", "fp16,bf16,fp32", "LIST", "x dtypes to run, comma-separated from fp16,bf16,fp32. Default: all."),
    (SEED_OPTION, "seed", "0", "N", "session seed every case's inputs derive from, or 'random'. Default: 0."),
    (DEVICE_OPTION, "device", "auto", "DEV",
     "device for single-device cases: auto (CUDA if present), cpu or cuda. Default: auto."),
    (REPORT_OPTION, "report", "", "PATH",
     "write the certificate JSON to PATH and its Markdown beside it (PATH with .md). Default: none."),
    (SKIPS_OPTION, "skips", "", "FILE",
     "skip the tests FILE names: one fnmatch pattern a line over '<impl>-<case id>' or case ids, "
     "'# reason' inline or in the comment block above. Default: none."),
    (XFAILS_OPTION, "xfails", "", "FILE", f"expect the tests FILE names to fail (same form as {SKIPS_OPTION}). Default: none."),
    (CASE_TIMEOUT_OPTION, "case_timeout", f"{DEFAULT_CASE_TIMEOUT:g}", "SECONDS",
     "how long one single-device case may run before its status is timeout; 0: no limit. Default: 120."),
    (WORLD_SIZES_OPTION, "world_sizes", "auto", "LIST",
     "world sizes for all-reduce cases, comma-separated (e.g. 1,2,4,8), or auto. "
     "Default: auto (1,2,4 on CPU over gloo; 1,2,4,8 up to the GPU count on CUDA; torchrun's under torchrun)."),
    (TIMEOUT_OPTION, "timeout", "60", "SECONDS",
     "how long one distributed case may run on its ranks before it fails as hung. Default: 60."),
    (REBUILDS_OPTION, "max_pool_rebuilds", "4", "N",
     "how often a world size's rank pool is rebuilt after a rank died or hung before its "
     "remaining cases fail at once. Default: 4."),
    (MIN_SPEEDUP_OPTION, "min_speedup", "1.0", "RATIO",
     "perf checks (marker perf, GPU): the candidate must be RATIO times as fast as the reference "
     "and every peer, timed in the same run. Default: 1.0."),
    (PERF_PEERS_OPTION, "perf_peers", "", "LIST",
     "perf checks: impls to compare against besides the reference, comma-separated entry point "
     "names or module:attr (e.g. torch-compile,flashinfer). Default: none."),
)  # fmt: skip


def add_options(parser: pytest.Parser) -> None:
    """Every option in one group, and its ini key."""
    group = parser.getgroup("normfusion", "RMSNorm-family conformance (pytest-normfusion)")
    group.addoption(
        IMPL_OPTION, action="append", dest="normfusion_impl", default=[], metavar="NAME",
        help="candidate to certify: entry point name (group pytest_normfusion.impls) or module:attr "
        "(an instance, a class or a zero-argument factory); repeat for several. Default: reference.",
    )  # fmt: skip
    group.addoption(
        PASS_OPTION, action="append", dest="normfusion_pass", default=[], metavar="NAME",
        help="fusion pass to certify: entry point name (group pytest_normfusion.passes) or module:attr "
        "(a callable rewriting a torch.fx.GraphModule in place, or a class or factory of one); repeat "
        "for several. Alone (without an impl) it runs only the fusion-pass suite. Default: reference.",
    )  # fmt: skip
    parser.addini("normfusion_impl", type="linelist", help="default for " + IMPL_OPTION)
    parser.addini("normfusion_pass", type="linelist", help="default for " + PASS_OPTION)
    group.addoption(QUICK_OPTION, dest="normfusion_matrix", action="store_const", const="quick",
                    help="the quick matrix: every coverage class on cheap shapes (default).")  # fmt: skip
    group.addoption(FULL_OPTION, dest="normfusion_matrix", action="store_const", const="full",
                    help="the full matrix: the quick one plus large and more odd shapes.")  # fmt: skip
    parser.addini("normfusion_matrix", default="quick", help="quick or full")
    group.addoption(
        CASE_OPTION, action="append", dest="normfusion_case", default=[], metavar="ID",
        help="run only cases whose id matches (exact id or fnmatch pattern, from the full matrix); repeatable.",
    )  # fmt: skip
    for option, name, default, metavar, help_text in _VALUED:
        group.addoption(option, dest="normfusion_" + name, metavar=metavar, help=help_text)
        parser.addini("normfusion_" + name, default=default, help="default for " + option)
    group.addoption(
        XFAIL_STRICT_OPTION, dest="normfusion_xfail_strict", action="store_true", default=None,
        help="a test of the xfail file that passes fails the session. Default: it is reported as XPASS.",
    )  # fmt: skip
    parser.addini("normfusion_xfail_strict", type="bool", default=False, help="default for " + XFAIL_STRICT_OPTION)
    group.addoption(
        HYPOTHESIS_OPTION, dest="normfusion_hypothesis", nargs="?", const="ci", metavar="BUDGET",
        help="run the property-based layer (needs hypothesis) with example budget ci (few examples) or "
        "certify (many). Default: off; the option alone means ci.",
    )  # fmt: skip
    parser.addini("normfusion_hypothesis", default="", help="default for " + HYPOTHESIS_OPTION + " (ci, certify)")


def value(config: pytest.Config, name: str) -> str:
    """An option's value as given, else its ini value."""
    given = config.getoption("normfusion_" + name)
    return given if given is not None else config.getini("normfusion_" + name)


def path(config: pytest.Config, name: str) -> Path | None:
    """A path option relative to where pytest was invoked; from the ini file, relative to that file."""
    given = config.getoption("normfusion_" + name)
    base = config.invocation_params.dir
    if given is None:
        given = config.getini("normfusion_" + name)
        base = config.inipath.parent if config.inipath else config.rootpath
    return (base / given) if given else None


def parse_choice(option: str, text: str, choices: tuple[str, ...]) -> str:
    if text not in choices:
        raise pytest.UsageError(f"{option}={text!r}: expected {', '.join(choices[:-1])} or {choices[-1]}")
    return text


def parse_dtypes(text: str) -> tuple[str, ...]:
    try:
        return matrix.parse_dtypes(text)
    except ValueError as exc:
        raise pytest.UsageError(f"{DTYPES_OPTION}: {exc}") from None


def parse_seed(text: str) -> int:
    """An integer, or ``random`` for a fresh one (printed in the header and repro lines)."""
    if text == "random":
        return random.SystemRandom().randrange(2**31)
    try:
        return int(text)
    except ValueError:
        raise pytest.UsageError(f"{SEED_OPTION}={text!r}: expected an integer or 'random'") from None


def parse_world_sizes(text: str) -> tuple[int, ...] | None:
    """``"1,2,4"`` -> ``(1, 2, 4)`` sorted; ``auto`` -> None."""
    if text.strip() == "auto":
        return None
    try:
        sizes = sorted({int(v) for v in text.split(",") if v.strip()})
    except ValueError:
        sizes = []
    if not sizes or sizes[0] < 1:
        raise pytest.UsageError(
            f"{WORLD_SIZES_OPTION}={text!r}: expected positive integers separated by commas (e.g. 1,2,4,8) or auto"
        )
    return tuple(sizes)


def parse_number(option: str, text: str, kind: type, *, zero: bool = False) -> float:
    """``text`` as a positive ``kind`` (or zero when allowed)."""
    try:
        number = kind(text)
    except ValueError:
        number = -1
    if number < 0 or (number == 0 and not zero):
        if kind is int:
            form = "a non-negative integer"
        else:
            form = "seconds (a number >= 0; 0 means no limit)" if zero else "a positive number of seconds"
        raise pytest.UsageError(f"{option}={text!r}: expected {form}")
    return number


def parse_min_speedup(text: str) -> float:
    """A positive ratio."""
    try:
        ratio = float(text)
    except ValueError:
        ratio = 0.0
    if not ratio > 0:
        raise pytest.UsageError(f"{MIN_SPEEDUP_OPTION}: expected a positive number such as 1.0, got {text!r}")
    return ratio


def parse_list(text: str) -> tuple[str, ...]:
    """``"torch-compile, flashinfer"`` -> ``("torch-compile", "flashinfer")``, order kept, no repeats."""
    names: list[str] = []
    for name in (v.strip() for v in text.split(",")):
        if name and name not in names:
            names.append(name)
    return tuple(names)


def parse_hypothesis(text: str) -> str | None:
    if not text:
        return None
    if text not in ("ci", "certify"):
        raise pytest.UsageError(
            f"{HYPOTHESIS_OPTION}={text!r}: expected ci or certify (write {HYPOTHESIS_OPTION}=ci when a path follows it)"
        )
    return text
