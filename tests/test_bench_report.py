"""benchmarks/report.py: benchmark JSON -> docs/performance.md tables, from a checked-in synthetic fixture."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "tests" / "fixtures" / "bench_norms_tiny.json"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "benchmarks" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


report = _module("report")


def test_norm_tables_from_the_fixture() -> None:
    lines = report.norms_tables(report.load(FIXTURE))
    assert lines[0].startswith("Measured 1970-01-01T00:00:00+00:00 on synthetic fixture (not a measurement)")
    text = "\n".join(lines)
    assert "#### rms_norm, x bf16, weight bf16, weight_bias 0" in text
    assert "| H x T | alpha | beta |" in text
    assert "| 4096 x 1 | 2.00 us | **1.50 us** |" in text  # launch-bound: microseconds, best in bold
    assert "| 4096 x 1024 | **800** | 400 |" in text  # GB/s above 16 tokens
    assert "| 4096 x 1024 | **790** | declined |" in text


def test_copy_target_takes_each_record_against_its_own_runs_copy() -> None:
    """A merged sweep holds runs that measured the copy apart: each record is held to its own run's."""

    def record(hidden: int, gbps: float, copy_gbps: float) -> dict:
        shape = dict(op="rms_norm", dtype="bf16", weight_dtype="bf16", weight_bias=0.0, residual=False)
        return dict(shape, impl=report.OURS, tokens=4096, hidden=hidden, us=10.0, gbps=gbps, copy_gbps=copy_gbps)

    data = {"meta": {"copy_gbps": 4000.0}, "records": [record(4096, 3900.0, 4000.0), record(8192, 3900.0, 4200.0)]}
    (line,) = report.targets(data)
    assert line.startswith("- The device's 1 GiB copy (4000-4200 GB/s, each run's own): 2 shapes"), line
    assert "under 0.95: 1: rms_norm bf16 w_bf16 bias0 4096 x 8192 (0.929)" in line, line
    data["records"][1]["copy_gbps"] = 4000.0
    (line,) = report.targets(data)
    assert line.startswith("- The device's 1 GiB copy (4000 GB/s): 2 shapes with >= 32 MiB of input, 0.975 to"), line


def test_copy_target_holds_each_shape_to_the_copy_kernel_of_its_bytes() -> None:
    """Each shape against the copy kernel moving its bytes in the same run; fused_add against the faster
    of that kernel's two launches and rms_norm's one launch of the same bytes (twice the tokens)."""

    def record(impl: str, hidden: int, us: float, op: str = "rms_norm", tokens: int = 4096) -> dict:
        shape = dict(op=op, dtype="bf16", weight_dtype="bf16", weight_bias=0.0, residual=op != "rms_norm")
        return dict(shape, impl=impl, hidden=hidden, tokens=tokens, us=us, gbps=3600.0 * 10.0 / us, copy_gbps=4000.0)

    records = [record(report.OURS, 4096, 10.0), record(report.COPY_KERNEL, 4096, 10.5)]
    records += [record(report.OURS, 8192, 10.0), record(report.COPY_KERNEL, 8192, 9.0)]
    # fused_add at 2048 x 4096: two launches 11.0 us, one launch of its bytes (rms_norm 4096 x 4096) 10.5
    records += [record(report.OURS, 4096, 10.4, "fused_add_rms_norm", 2048)]
    records += [record(report.COPY_KERNEL, 4096, 11.0, "fused_add_rms_norm", 2048)]
    same, device = report.targets({"meta": {"copy_gbps": 4000.0}, "records": records})
    assert same.startswith("- Copy of the same bytes (the `copy` kernel in the same run"), same
    assert same.endswith(
        "3 shapes with >= 32 MiB of input, 0.900 to 1.050 of it; under 0.95: 1: rms_norm bf16 w_bf16 bias0 4096 x 8192 (0.900)"
    ), same
    assert device.startswith("- The device's 1 GiB copy (4000 GB/s): 3 shapes") and "under 0.95: 3" in device, device
    # without the one launch the fused_add shape is held to the two launches: 11.0 / 10.4
    records = [r for r in records if not (r["op"] == "rms_norm" and r["hidden"] == 4096)]
    same, _ = report.targets({"meta": {"copy_gbps": 4000.0}, "records": records})
    assert "2 shapes with >= 32 MiB of input, 0.900 to 1.058 of it" in same, same


def test_copy_peer_moves_bf16_and_fp16_by_one_integer_kernel() -> None:
    """The copy yardstick reads and writes each input once, as integers of its width: one kernel for
    bf16 and fp16 (torch.neg on fp16 ran slower than on bf16 on an H200)."""
    import torch

    copy = _module("copy_peer").Copy()
    gen = torch.Generator().manual_seed(0)
    for dtype, integer in ((torch.bfloat16, torch.int16), (torch.float16, torch.int16), (torch.float32, torch.int32)):
        x, r = (torch.randn(3, 40, generator=gen).to(dtype) for _ in range(2))
        y = copy.rms_norm(x, None, 1e-6)
        y2, r2 = copy.fused_add_rms_norm(x, r, torch.ones(40), 1e-6, 1.0)
        for src, out in ((x, y), (x, y2), (r, r2)):
            assert out.dtype == integer and out.shape == src.shape, (dtype, out.dtype)
            assert torch.equal(out, -src.view(integer)) and out.data_ptr() != src.data_ptr(), dtype


def test_allreduce_table() -> None:
    data = {
        "meta": {"device": "synthetic", "date": "1970-01-01"},
        "records": [
            {"world_size": 2, "hidden": 4096, "tokens": 1, "fused_us": 4.0, "unfused_us": 8.0, "speedup": 2.0},
            {"world_size": 2, "hidden": 4096, "tokens": 8, "declined": "too small"},
        ],
    }
    lines = report.allreduce_table([data])
    assert "| 2 | 4096 x 1 | 4.00 | 8.00 | 2.00x |" in lines
    assert "| 2 | 4096 x 8 | declined: too small | | |" in lines


def test_section_between_markers_is_replaced_and_nothing_else() -> None:
    doc = f"intro\n{report.RESULTS_START}\nold table\n{report.RESULTS_END}\noutro\n"
    new = report.replace_section(doc, ["new", "lines"])
    assert new == f"intro\n{report.RESULTS_START}\nnew\nlines\n{report.RESULTS_END}\noutro\n"
    with pytest.raises(ValueError, match="lacks the markers"):
        report.replace_section("no markers", [])


def test_without_data_the_section_says_unmeasured() -> None:
    assert report.results_section([], []) == [report.NOT_MEASURED]


def test_committed_doc_is_what_report_writes_from_the_committed_results(tmp_path: Path) -> None:
    """docs/performance.md's tables are the committed sweeps (H100, H200) rendered by the one command, unedited."""
    doc = tmp_path / "performance.md"
    doc.write_text((ROOT / "docs" / "performance.md").read_text())
    results = ROOT / "benchmarks" / "results"
    norms = [
        results / "h100-2026-11-23-looping" / "bench_norms.json",
        results / "h200-2026-12-04-pairs" / "bench_norms.json",
    ]
    command = [sys.executable, str(ROOT / "benchmarks" / "report.py"), "--doc", str(doc)]
    subprocess.run([*command, *(arg for path in norms for arg in ("--norms", str(path)))], check=True)
    assert doc.read_text() == (ROOT / "docs" / "performance.md").read_text()


def test_one_command_renders_the_fixture_into_the_doc(tmp_path: Path) -> None:
    doc = tmp_path / "performance.md"
    doc.write_text((ROOT / "docs" / "performance.md").read_text())
    run = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "report.py"), "--norms", str(FIXTURE), "--doc", str(doc)],
        check=True,
        capture_output=True,
        text=True,
    )
    assert "wrote" in run.stdout
    text = doc.read_text()
    assert report.NOT_MEASURED not in text and "| 4096 x 1024 | **800** | 400 |" in text
    assert text.startswith("# Performance")


def test_plot_is_written_when_matplotlib_is_present(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "plot.png"
    assert report.plot(report.load(FIXTURE), png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bench_record_fields_match_the_brief() -> None:
    bench = _module("bench_norms")
    expected = "impl op dtype weight_dtype weight_bias residual tokens hidden us gbps copy_gbps device torch triton"
    assert " ".join(bench.RECORD_FIELDS) == expected
    assert json.loads(FIXTURE.read_text())["records"][0].keys() >= {"impl", "us", "gbps"}


def test_gpu_run_script_parses_and_needs_out() -> None:
    script = ROOT / "benchmarks" / "gpu_run.sh"
    subprocess.run(["bash", "-n", str(script)], check=True)
    run = subprocess.run(["bash", str(script)], capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert run.returncode != 0 and "set OUT to the folder for results" in run.stderr
