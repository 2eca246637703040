"""pytest-normfusion: options, ini keys, hooks and fixtures. Imports no torch by itself.

Help-text rules: say what the option selects, its form, and its default.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

from pytest_normfusion.loading import LoadError

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
HYPOTHESIS_PROFILES = ("ci", "certify")
WORLD_SIZES_OPTION = "--normfusion-world-sizes"
TIMEOUT_OPTION = "--normfusion-timeout"
REBUILDS_OPTION = "--normfusion-max-pool-rebuilds"

# the fusion-pass suite's module in conformance/; every other module there certifies impls
PASS_SUITE_MODULE = "test_fusion_pass.py"
# the speed checks, collected only when -m selects them
PERF_SUITE_MODULE = "test_perf.py"

SETTINGS = pytest.StashKey["Settings"]()
RESULTS = pytest.StashKey["Results"]()
PERF = pytest.StashKey["PerfSettings"]()
EXPECTATIONS = pytest.StashKey["list[Entry]"]()
REPORT = pytest.StashKey["list[Path]"]()  # the files the certificate was written to


def conformance_dir() -> Path:
    """Where the installed suite lives (the repo's conformance/ in an editable install)."""
    spec = importlib.util.find_spec("pytest_normfusion.conformance")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("normfusion", "RMSNorm-family conformance (pytest-normfusion)")
    group.addoption(
        IMPL_OPTION,
        action="append",
        dest="normfusion_impl",
        default=[],
        metavar="NAME",
        help="candidate to certify: entry point name (group pytest_normfusion.impls) or module:attr "
        "(an instance, a class or a zero-argument factory); repeat for several. Default: reference.",
    )
    group.addoption(
        PASS_OPTION,
        action="append",
        dest="normfusion_pass",
        default=[],
        metavar="NAME",
        help="fusion pass to certify: entry point name (group pytest_normfusion.passes) or module:attr "
        "(a callable rewriting a torch.fx.GraphModule in place, or a class or factory of one); repeat "
        "for several. Alone (without an impl) it runs only the fusion-pass suite. Default: reference.",
    )
    group.addoption(
        DTYPES_OPTION,
        dest="normfusion_dtypes",
        metavar="LIST",
        help="x dtypes to run, comma-separated from fp16,bf16,fp32. Default: all.",
    )
    group.addoption(
        SEED_OPTION,
        dest="normfusion_seed",
        metavar="N",
        help="session seed every case's inputs derive from, or 'random'. Default: 0.",
    )
    group.addoption(
        QUICK_OPTION,
        dest="normfusion_matrix",
        action="store_const",
        const="quick",
        help="the quick matrix: every coverage class on cheap shapes (default).",
    )
    group.addoption(
        FULL_OPTION,
        dest="normfusion_matrix",
        action="store_const",
        const="full",
        help="the full matrix: the quick one plus large and more odd shapes.",
    )
    group.addoption(
        CASE_OPTION,
        action="append",
        dest="normfusion_case",
        default=[],
        metavar="ID",
        help="run only cases whose id matches (exact id or fnmatch pattern, from the full matrix); repeatable.",
    )
    group.addoption(
        DEVICE_OPTION,
        dest="normfusion_device",
        metavar="DEV",
        help="device for single-device cases: auto (CUDA if present), cpu or cuda. Default: auto.",
    )
    group.addoption(
        REPORT_OPTION,
        dest="normfusion_report",
        metavar="PATH",
        help="write the certificate JSON to PATH and its Markdown beside it (PATH with .md). Default: none.",
    )
    group.addoption(
        SKIPS_OPTION,
        dest="normfusion_skips",
        metavar="FILE",
        help="skip the tests FILE names: one fnmatch pattern a line over '<impl>-<case id>' or case ids, "
        "'# reason' inline or in the comment block above. Default: none.",
    )
    group.addoption(
        XFAILS_OPTION,
        dest="normfusion_xfails",
        metavar="FILE",
        help="expect the tests FILE names to fail (same form as " + SKIPS_OPTION + "). Default: none.",
    )
    group.addoption(
        XFAIL_STRICT_OPTION,
        dest="normfusion_xfail_strict",
        action="store_true",
        default=None,
        help="a test of the xfail file that passes fails the session. Default: it is reported as XPASS.",
    )
    group.addoption(
        CASE_TIMEOUT_OPTION,
        dest="normfusion_case_timeout",
        metavar="SECONDS",
        help="how long one single-device case may run before its status is timeout; 0: no limit. Default: 120.",
    )
    group.addoption(
        HYPOTHESIS_OPTION,
        dest="normfusion_hypothesis",
        nargs="?",
        const="ci",
        metavar="PROFILE",
        help="run the property-based layer (needs hypothesis) with profile ci (few examples) or certify "
        "(many). Default: off; the option alone means ci.",
    )
    group.addoption(
        WORLD_SIZES_OPTION,
        dest="normfusion_world_sizes",
        metavar="LIST",
        help="world sizes for all-reduce cases, comma-separated (e.g. 1,2,4,8), or auto. "
        "Default: auto (1,2,4 on CPU over gloo; 1,2,4,8 up to the GPU count on CUDA; torchrun's under torchrun).",
    )
    group.addoption(
        TIMEOUT_OPTION,
        dest="normfusion_timeout",
        metavar="SECONDS",
        help="how long one distributed case may run on its ranks before it fails as hung. Default: 60.",
    )
    group.addoption(
        REBUILDS_OPTION,
        dest="normfusion_max_pool_rebuilds",
        metavar="N",
        help="how often a world size's rank pool is rebuilt after a rank died or hung before its "
        "remaining cases fail at once. Default: 4.",
    )
    group.addoption(
        MIN_SPEEDUP_OPTION,
        dest="normfusion_min_speedup",
        metavar="RATIO",
        help="perf checks (marker perf, GPU): the candidate must be RATIO times as fast as the reference "
        "and every peer, timed in the same run. Default: 1.0.",
    )
    group.addoption(
        PERF_PEERS_OPTION,
        dest="normfusion_perf_peers",
        metavar="LIST",
        help="perf checks: impls to compare against besides the reference, comma-separated entry point "
        "names or module:attr (e.g. torch-compile,flashinfer). Default: none.",
    )
    parser.addini("normfusion_impl", type="linelist", help="default for " + IMPL_OPTION)
    parser.addini("normfusion_pass", type="linelist", help="default for " + PASS_OPTION)
    parser.addini("normfusion_dtypes", default="fp16,bf16,fp32", help="default for " + DTYPES_OPTION)
    parser.addini("normfusion_seed", default="0", help="default for " + SEED_OPTION)
    parser.addini("normfusion_matrix", default="quick", help="quick or full")
    parser.addini("normfusion_device", default="auto", help="default for " + DEVICE_OPTION)
    parser.addini("normfusion_min_speedup", default="1.0", help="default for " + MIN_SPEEDUP_OPTION)
    parser.addini("normfusion_perf_peers", default="", help="default for " + PERF_PEERS_OPTION)
    parser.addini("normfusion_report", default="", help="default for " + REPORT_OPTION)
    parser.addini("normfusion_skips", default="", help="default for " + SKIPS_OPTION)
    parser.addini("normfusion_xfails", default="", help="default for " + XFAILS_OPTION)
    parser.addini("normfusion_xfail_strict", type="bool", default=False, help="default for " + XFAIL_STRICT_OPTION)
    parser.addini("normfusion_case_timeout", default="120", help="default for " + CASE_TIMEOUT_OPTION)
    parser.addini("normfusion_hypothesis", default="", help="default for " + HYPOTHESIS_OPTION + " (ci, certify)")
    parser.addini("normfusion_world_sizes", default="auto", help="default for " + WORLD_SIZES_OPTION)
    parser.addini("normfusion_timeout", default="60", help="default for " + TIMEOUT_OPTION)
    parser.addini("normfusion_max_pool_rebuilds", default="4", help="default for " + REBUILDS_OPTION)


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption("normfusion_" + name)
    return value if value is not None else config.getini("normfusion_" + name)


def _path(config: pytest.Config, name: str) -> Path | None:
    """A path option relative to where pytest was invoked; from the ini file, relative to that file."""
    value = config.getoption("normfusion_" + name)
    base = config.invocation_params.dir
    if value is None:
        value = config.getini("normfusion_" + name)
        base = config.inipath.parent if config.inipath else config.rootpath
    return (base / value) if value else None


def _case_timeout(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise pytest.UsageError(f"{CASE_TIMEOUT_OPTION}={value!r}: expected seconds (a number >= 0; 0 means no limit)")
    return seconds


@pytest.hookimpl(trylast=True)  # after the terminal plugin's, so a torchrun rank can silence it
def pytest_configure(config: pytest.Config) -> None:
    from pytest_normfusion import expectations, matrix
    from pytest_normfusion.results import Results
    from pytest_normfusion.session import Settings, load_candidates, load_passes, parse_seed, parse_world_sizes

    impl_specs = config.getoption("normfusion_impl") or config.getini("normfusion_impl")
    pass_specs = config.getoption("normfusion_pass") or config.getini("normfusion_pass")
    try:
        dtypes = matrix.parse_dtypes(_option(config, "dtypes"))
    except ValueError as exc:
        raise pytest.UsageError(f"{DTYPES_OPTION}: {exc}") from None
    workerinput = getattr(config, "workerinput", None)
    if workerinput and "OMP_NUM_THREADS" not in os.environ:
        _share_cores(workerinput["workercount"])
    seed = workerinput["normfusion_seed"] if workerinput else parse_seed(str(_option(config, "seed")))
    kind = _option(config, "matrix")
    if kind not in ("quick", "full"):
        raise pytest.UsageError(f"normfusion_matrix = {kind!r}: expected quick or full")
    device = _option(config, "device")
    if device not in ("auto", "cpu", "cuda"):
        raise pytest.UsageError(f"{DEVICE_OPTION}={device!r}: expected auto, cpu or cuda")
    settings = Settings(impl_specs, dtypes, seed, kind == "full", config.getoption("normfusion_case"), device)
    settings.case_timeout = _case_timeout(str(_option(config, "case_timeout")))
    settings.hypothesis = _option(config, "hypothesis") or None
    if settings.hypothesis not in (None, *HYPOTHESIS_PROFILES):
        raise pytest.UsageError(
            f"{HYPOTHESIS_OPTION}={settings.hypothesis!r}: expected {' or '.join(HYPOTHESIS_PROFILES)} "
            f"(write {HYPOTHESIS_OPTION}=ci when a path follows it)"
        )
    try:
        config.stash[EXPECTATIONS] = expectations.load(
            _path(config, "skips"), _path(config, "xfails"), config.invocation_params.dir
        )
    except expectations.ExpectationError as exc:
        raise pytest.UsageError(str(exc)) from None
    settings.world_sizes = parse_world_sizes(str(_option(config, "world_sizes")))
    settings.timeout = _positive(TIMEOUT_OPTION, _option(config, "timeout"), float)
    settings.max_pool_rebuilds = _positive(REBUILDS_OPTION, _option(config, "max_pool_rebuilds"), int, zero=True)
    settings.pass_specs = list(pass_specs)
    if impl_specs or pass_specs:
        try:
            if impl_specs:
                settings._candidates = load_candidates(impl_specs)
            if pass_specs:
                settings._passes = load_passes(pass_specs)
        except LoadError as exc:
            raise pytest.UsageError(str(exc)) from None
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args[:] = [str(conformance_dir())]
    config.stash[SETTINGS] = settings
    config.stash[PERF] = _perf_settings(config)
    config.addinivalue_line("markers", "perf: GPU speed checks against the reference and peers (pytest-normfusion)")
    config.stash[RESULTS] = results = Results(lambda: [c.name for c in settings.candidates])
    config.pluginmanager.register(results, "normfusion-results")
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
        # torchrun: every rank runs the suite and rank 0 reports (it gathers every rank's
        # outcomes); all join the group now, so that they also leave together
        from pytest_normfusion import pool

        pool.runner(config)
        if os.environ["RANK"] != "0":
            config.pluginmanager.unregister(name="terminalreporter")


def _positive(option: str, value: str, kind: type, zero: bool = False):
    """``value`` as a positive ``kind`` (or zero when allowed); pytest.UsageError naming the form otherwise."""
    try:
        number = kind(value)
    except ValueError:
        number = -1
    if number < 0 or (number == 0 and not zero):
        form = "a non-negative integer" if kind is int else "a positive number of seconds"
        raise pytest.UsageError(f"{option}={value!r}: expected {form}")
    return number


def _perf_settings(config: pytest.Config):
    from pytest_normfusion.perf import PerfSettings, parse_min_speedup, parse_peers

    try:
        min_speedup = parse_min_speedup(str(_option(config, "min_speedup")))
    except ValueError as exc:
        raise pytest.UsageError(f"{MIN_SPEEDUP_OPTION}: {exc}") from None
    return PerfSettings(peers=parse_peers(str(_option(config, "perf_peers"))), min_speedup=min_speedup)


def _share_cores(workers: int) -> None:
    """One xdist worker's share of the cores: OpenMP threads spinning on oversubscribed
    cores made the quick matrix 20x slower at ``-n 2`` on 2 cores (242 s vs 12 s)."""
    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 1) // workers))


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist: every worker uses the controller's seed
    node.workerinput["normfusion_seed"] = node.config.stash[SETTINGS].seed


def _active(config: pytest.Config) -> bool:
    """The suite is in this run: an impl or a pass was named, or conformance/ is being collected."""
    settings = config.stash.get(SETTINGS, None)
    if settings is None:
        return False
    if settings.impl_specs or settings.pass_specs:
        return True
    suite = conformance_dir()
    return any(suite == p or suite in p.parents for p in (Path(a.split("::")[0]).resolve() for a in config.args))


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The suite's folder is a plain directory: its package is imported by its one name."""
    if path == conformance_dir():
        return pytest.Dir.from_parent(parent, path=path)
    return None


def _perf_selected(config: pytest.Config) -> bool:
    """The perf checks are collected only when ``-m`` selects them (e.g. ``-m perf``)."""
    markexpr = config.getoption("markexpr", "") or ""
    return "perf" in markexpr and "not perf" not in markexpr


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Only the suites asked for: a pass alone runs the pass suite, an impl alone the impl suite;
    the perf checks only when ``-m`` selects them."""
    settings = config.stash.get(SETTINGS, None)
    if settings is None or collection_path.suffix != ".py" or collection_path.parent != conformance_dir():
        return None
    if collection_path.name == PERF_SUITE_MODULE and not _perf_selected(config):
        return True
    suite = "passes" if collection_path.name == PASS_SUITE_MODULE else "impls"
    return None if settings.runs_suite(suite) else True


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.parent == conformance_dir():
        from pytest_normfusion.collect import SuiteModule

        return SuiteModule.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: entries are matched against the whole suite
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SETTINGS not in config.stash:
        return
    import warnings

    from pytest_normfusion.expectations import NormfusionWarning, unmatched_warning
    from pytest_normfusion.session import prepare, unselected

    dropped = unselected(items, config.stash[SETTINGS], conformance_dir())
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
    strict = _option(config, "xfail_strict")
    unmatched = prepare(items, config.stash[EXPECTATIONS], bool(strict))
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or workerinput["workerid"] == "gw0":  # every worker collects all; one warns
        for entry in unmatched:
            warnings.warn(NormfusionWarning(unmatched_warning(entry)), stacklevel=1)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    path = _path(config, "report") if SETTINGS in config.stash else None
    # the controller writes (workers' records reach it); --collect-only ran nothing to certify
    if path is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    from pytest_normfusion.certificate import write_run

    config.stash[REPORT] = write_run(
        path, config.stash[SETTINGS], config.stash[RESULTS].records, config.stash[EXPECTATIONS], config, int(exitstatus)
    )


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _active(config):
        return None
    import torch

    from pytest_normfusion.pool import backend_for, torchrun_env
    from pytest_normfusion.session import default_world_sizes, resolve_device

    settings = config.stash[SETTINGS]
    device = resolve_device(settings.device)
    where = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    lines = []
    if settings.runs_suite("impls"):
        lines.append("normfusion: impls " + ", ".join(f"{c.name} ({c.spec})" for c in settings.candidates))
    if settings.runs_suite("passes"):
        lines.append("normfusion: passes " + ", ".join(f"{p.name} ({p.spec})" for p in settings.passes))
    world_sizes = settings.world_sizes or default_world_sizes(device)
    ranks = "torchrun's group" if torchrun_env() else f"rank pools, timeout {settings.timeout:g} s"
    return [
        *lines,
        f"normfusion: device {where}, torch {torch.__version__}, seed {settings.seed}, "
        f"matrix {'full' if settings.full else 'quick'}, dtypes {','.join(settings.dtypes)}",
        f"normfusion: world sizes {','.join(map(str, world_sizes))} over {backend_for(device)} ({ranks})",
    ]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, None)
    if results is None:
        return
    if results.records:
        terminalreporter.section("normfusion conformance")
        for line in results.table() + results.pool_lines():
            terminalreporter.write_line(line)
    for line in results.xpassed():
        terminalreporter.write_line(line)
    if results.pass_records:
        terminalreporter.section("normfusion fusion passes")
        for line in results.pass_table():
            terminalreporter.write_line(line)
    written = config.stash.get(REPORT, None)
    if written:
        terminalreporter.write_line("normfusion: certificate written to " + " and ".join(str(p) for p in written))


@pytest.fixture(scope="session")
def normfusion_settings(pytestconfig: pytest.Config):
    """The session's parsed normfusion settings (seed, device, candidates, matrix)."""
    from pytest_normfusion.session import resolve_device

    settings = pytestconfig.stash[SETTINGS]
    settings.resolved_device = resolve_device(settings.device)
    return settings
