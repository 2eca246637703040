"""pytest-normfusion: the hooks and fixtures; imported by no module of ours. Imports no torch by itself."""

from __future__ import annotations

import importlib
import importlib.util
import os
import warnings
from pathlib import Path
from types import ModuleType

import pytest

from pytest_normfusion import expectations, options
from pytest_normfusion.harness import SESSION, NormfusionSession
from pytest_normfusion.results import Results
from pytest_normfusion.settings import Settings, share_cores

# the fusion-pass suite's module in conformance/; every other module there certifies impls
PASS_SUITE_MODULE = "test_fusion_pass.py"
# the speed checks, collected only when -m selects them
PERF_SUITE_MODULE = "test_perf.py"
REPORT = pytest.StashKey["list[Path]"]()  # the files the certificate was written to


def conformance_dir() -> Path:
    """Where the installed suite lives (the repo's conformance/ in an editable install)."""
    spec = importlib.util.find_spec("pytest_normfusion.conformance")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))).resolve()


class SuiteModule(pytest.Module):
    """A conformance module imported as ``pytest_normfusion.conformance.<name>``, never by path."""

    def _getobj(self) -> ModuleType:
        return importlib.import_module(f"pytest_normfusion.conformance.{self.path.stem}")


def pytest_addoption(parser: pytest.Parser) -> None:
    options.add_options(parser)


@pytest.hookimpl(trylast=True)  # after the terminal plugin's, so a torchrun rank can silence it
def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput:
        share_cores(workerinput["workercount"])
    settings = Settings.from_config(config, seed=workerinput["normfusion_seed"] if workerinput else None)
    try:
        entries = expectations.load(
            options.path(config, "skips"), options.path(config, "xfails"), config.invocation_params.dir
        )
    except expectations.ExpectationError as exc:
        raise pytest.UsageError(str(exc)) from None
    session = NormfusionSession(config, settings, entries)
    if settings.impl_specs or settings.pass_specs:
        session.load_named()
        if config.args_source != pytest.Config.ArgsSource.ARGS:
            config.args[:] = [str(conformance_dir())]
    if not workerinput:
        session.check_case_patterns()
    config.stash[SESSION] = session
    config.pluginmanager.register(session, "normfusion-session")
    config.addinivalue_line("markers", "perf: GPU speed checks against the reference and peers (pytest-normfusion)")
    session.results = Results(lambda: [c.name for c in session.candidates])
    config.pluginmanager.register(session.results, "normfusion-results")
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
        # torchrun: every rank runs the suite and rank 0 reports (it gathers every rank's
        # outcomes); all join the group now, so that they also leave together
        _ = session.ranks
        if os.environ["RANK"] != "0":
            config.pluginmanager.unregister(name="terminalreporter")


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:  # xdist: every worker uses the controller's seed
    node.workerinput["normfusion_seed"] = NormfusionSession.of(node.config).settings.seed


def _active(config: pytest.Config) -> bool:
    """The suite is in this run: an impl or a pass was named, or conformance/ is being collected."""
    session = config.stash.get(SESSION, None)
    if session is None:
        return False
    if session.settings.impl_specs or session.settings.pass_specs:
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
    session = config.stash.get(SESSION, None)
    if session is None or collection_path.suffix != ".py" or collection_path.parent != conformance_dir():
        return None
    if collection_path.name == PERF_SUITE_MODULE and not _perf_selected(config):
        return True
    suite = "passes" if collection_path.name == PASS_SUITE_MODULE else "impls"
    return None if session.settings.runs_suite(suite) else True


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> pytest.Module | None:
    if module_path.parent == conformance_dir():
        return SuiteModule.from_parent(parent, path=module_path)
    return None


@pytest.hookimpl(tryfirst=True)  # before -k / -m deselect: entries are matched against the whole suite
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    session = config.stash.get(SESSION, None)
    if session is None:
        return
    dropped = session.unselected(items, conformance_dir())
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(dropped)
        items[:] = [item for item in items if item not in gone]
    unmatched = session.prepare(items)
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None or workerinput["workerid"] == "gw0":  # every worker collects all; one warns
        for entry in unmatched:
            warnings.warn(expectations.NormfusionWarning(expectations.unmatched_warning(entry)), stacklevel=1)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    normfusion = config.stash.get(SESSION, None)
    # the controller writes (workers' records reach it); --collect-only ran nothing to certify
    if normfusion is None or hasattr(config, "workerinput") or config.option.collectonly:
        return
    if normfusion.results is not None and normfusion.results.uncertified() and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED  # a run that certified nothing for an impl is no pass
    if normfusion.settings.report is not None:
        config.stash[REPORT] = normfusion.write_certificate(int(session.exitstatus))


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    if not _active(config):
        return None
    import torch

    from pytest_normfusion.ranks.launcher import torchrun_env

    session = NormfusionSession.of(config)
    settings = session.settings
    where = torch.cuda.get_device_name() if settings.device == "cuda" else "cpu"
    lines = []
    if settings.runs_suite("impls"):
        lines.append("normfusion: impls " + ", ".join(f"{c.name} ({c.spec})" for c in session.candidates))
    if settings.runs_suite("passes"):
        lines.append("normfusion: passes " + ", ".join(f"{p.name} ({p.spec})" for p in session.passes))
    ranks = "torchrun's group" if torchrun_env() else f"rank pools, timeout {settings.timeout:g} s"
    return [
        *lines,
        f"normfusion: device {where}, torch {torch.__version__}, seed {settings.seed}, "
        f"matrix {'full' if settings.full else 'quick'}, dtypes {','.join(settings.dtypes)}",
        f"normfusion: world sizes {','.join(map(str, settings.world_sizes))} over {settings.backend} ({ranks})",
    ]


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    session = config.stash.get(SESSION, None)
    results = None if session is None else session.results
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
    for impl, count in results.uncertified().items():
        terminalreporter.write_line(
            f"normfusion: nothing was certified for impl {impl}: all {count} of its cases were skipped "
            "(declined by supports(), lacking the op, or listed)",
            red=True,
        )
    written = config.stash.get(REPORT, None)
    if written:
        terminalreporter.write_line("normfusion: certificate written to " + " and ".join(str(p) for p in written))


@pytest.fixture(scope="session")
def normfusion(pytestconfig: pytest.Config) -> NormfusionSession:
    """The session object: settings, candidates, passes, ranks, and ``settle``."""
    return NormfusionSession.of(pytestconfig)


@pytest.fixture(scope="session")
def normfusion_settings(normfusion: NormfusionSession) -> Settings:
    """The session's parsed normfusion settings (seed, device, candidates, matrix)."""
    return normfusion.settings


@pytest.fixture(scope="session")
def normfusion_ranks(normfusion: NormfusionSession):
    """The session's ranks (rank pools, or torchrun's group): ``normfusion_ranks.run(world_size, fn, payload)``."""
    return normfusion.ranks
