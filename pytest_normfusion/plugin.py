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
DTYPES_OPTION = "--normfusion-dtypes"
SEED_OPTION = "--normfusion-seed"
QUICK_OPTION = "--normfusion-quick"
FULL_OPTION = "--normfusion-full"
CASE_OPTION = "--normfusion-case"
DEVICE_OPTION = "--normfusion-device"
MIN_SPEEDUP_OPTION = "--normfusion-min-speedup"
PERF_PEERS_OPTION = "--normfusion-perf-peers"
WORLD_SIZES_OPTION = "--normfusion-world-sizes"
TIMEOUT_OPTION = "--normfusion-timeout"
REBUILDS_OPTION = "--normfusion-max-pool-rebuilds"

SETTINGS = pytest.StashKey["Settings"]()
RESULTS = pytest.StashKey["Results"]()
PERF = pytest.StashKey["PerfSettings"]()


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
    parser.addini("normfusion_impl", type="linelist", help="default for " + IMPL_OPTION)
    parser.addini("normfusion_dtypes", default="fp16,bf16,fp32", help="default for " + DTYPES_OPTION)
    parser.addini("normfusion_seed", default="0", help="default for " + SEED_OPTION)
    parser.addini("normfusion_matrix", default="quick", help="quick or full")
    parser.addini("normfusion_device", default="auto", help="default for " + DEVICE_OPTION)
    parser.addini("normfusion_min_speedup", default="1.0", help="default for " + MIN_SPEEDUP_OPTION)
    parser.addini("normfusion_perf_peers", default="", help="default for " + PERF_PEERS_OPTION)
    parser.addini("normfusion_world_sizes", default="auto", help="default for " + WORLD_SIZES_OPTION)
    parser.addini("normfusion_timeout", default="60", help="default for " + TIMEOUT_OPTION)
    parser.addini("normfusion_max_pool_rebuilds", default="4", help="default for " + REBUILDS_OPTION)


def _option(config: pytest.Config, name: str) -> str:
    value = config.getoption("normfusion_" + name)
    return value if value is not None else config.getini("normfusion_" + name)


@pytest.hookimpl(trylast=True)  # after the terminal plugin's, so a torchrun rank can silence it
def pytest_configure(config: pytest.Config) -> None:
    from pytest_normfusion import matrix
    from pytest_normfusion.results import Results
    from pytest_normfusion.session import Settings, load_candidates, parse_seed, parse_world_sizes

    impl_specs = config.getoption("normfusion_impl") or config.getini("normfusion_impl")
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
    settings.world_sizes = parse_world_sizes(str(_option(config, "world_sizes")))
    settings.timeout = _positive(TIMEOUT_OPTION, _option(config, "timeout"), float)
    settings.max_pool_rebuilds = _positive(REBUILDS_OPTION, _option(config, "max_pool_rebuilds"), int, zero=True)
    if impl_specs:
        try:
            settings._candidates = load_candidates(impl_specs)
        except LoadError as exc:
            raise pytest.UsageError(str(exc)) from None
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args[:] = [str(conformance_dir())]
    config.stash[SETTINGS] = settings
    config.stash[PERF] = _perf_settings(config)
    config.addinivalue_line("markers", "perf: GPU speed checks against the reference and peers (pytest-normfusion)")
    config.stash[RESULTS] = results = Results()
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
    """The suite is in this run: an impl was named, or conformance/ is being collected."""
    settings = config.stash.get(SETTINGS, None)
    if settings is None:
        return False
    if settings.impl_specs:
        return True
    suite = conformance_dir()
    return any(suite == p or suite in p.parents for p in (Path(a.split("::")[0]).resolve() for a in config.args))


def _perf_selected(config: pytest.Config) -> bool:
    """The perf checks are collected only when ``-m`` selects them (e.g. ``-m perf``)."""
    markexpr = config.getoption("markexpr", "") or ""
    return "perf" in markexpr and "not perf" not in markexpr


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    if collection_path.name == "test_perf.py" and collection_path.parent == conformance_dir():
        return None if _perf_selected(config) else True
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """The suite's folder is a plain directory: its package is imported by its one name."""
    if path == conformance_dir():
        return pytest.Dir.from_parent(parent, path=path)
    return None


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.parent == conformance_dir():
        from pytest_normfusion.collect import SuiteModule

        return SuiteModule.from_parent(parent, path=module_path)
    return None


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _active(config):
        return None
    import torch

    from pytest_normfusion.session import resolve_device

    settings = config.stash[SETTINGS]
    device = resolve_device(settings.device)
    where = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    names = ", ".join(f"{c.name} ({c.spec})" for c in settings.candidates)
    return [
        f"normfusion: impls {names}",
        f"normfusion: device {where}, torch {torch.__version__}, seed {settings.seed}, "
        f"matrix {'full' if settings.full else 'quick'}, dtypes {','.join(settings.dtypes)}",
    ]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    results = config.stash.get(RESULTS, None)
    if results is None or not results.records:
        return
    terminalreporter.section("normfusion conformance")
    for line in results.table() + results.pool_lines():
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def normfusion_settings(pytestconfig: pytest.Config):
    """The session's parsed normfusion settings (seed, device, candidates, matrix)."""
    from pytest_normfusion.session import resolve_device

    settings = pytestconfig.stash[SETTINGS]
    settings.resolved_device = resolve_device(settings.device)
    return settings
