"""The certificate: written once on the controller, complete under xdist, rendered and compared from JSON alone."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from pytest_normfusion import report
from pytest_normfusion.certificate import document, markdown, record, regressions

SMALL = Path(__file__).parent / "data" / "certificate-small.json"  # 2 impls x 2 cases, one impl failing
CASES = "--normfusion-case=rms_norm-*-w_none-bias0-T33xH67-eps1e-05-*-normal"  # 3 dtypes x 2 layouts


def _comparable(case: dict) -> dict:
    return {k: v for k, v in case.items() if k != "duration_s"}


def test_xdist_certificate_has_every_case_once(run_suite) -> None:
    impls = ("--normfusion-impl=reference", "--normfusion-impl=candidates:VarianceInInputDtype")
    alone = run_suite(*impls, CASES, report="alone.json")
    spread = run_suite(*impls, CASES, "-n", "2", report="spread.json")
    ids = [c["test_id"] for c in spread.certificate["cases"]]
    assert len(ids) == len(set(ids)) == 12
    assert [_comparable(c) for c in spread.certificate["cases"]] == [_comparable(c) for c in alone.certificate["cases"]]
    assert spread.certificate["run"]["xdist_workers"] == 2
    assert spread.certificate["summary"] == alone.certificate["summary"]
    assert spread.certificate["run"]["exit_status"] == 1
    failed = [c for c in spread.certificate["cases"] if c["status"] == "failed"]
    assert failed and all(
        c["repro"].startswith("pytest --normfusion-impl=candidates:VarianceInInputDtype") for c in failed
    )


def test_certificate_records_run_and_tolerances(run_suite) -> None:
    run = run_suite(
        "--normfusion-impl=reference", "--normfusion-case=rms_norm-fp16-w_fp16-bias0-T3xH8-*-contiguous-normal"
    )
    doc = run.certificate
    assert doc["schema"] == document.SCHEMA and doc["schema_version"] == document.SCHEMA_VERSION
    assert doc["environment"]["versions"]["torch"] and doc["environment"]["device"]["type"] == "cpu"
    assert doc["run"]["seed"] == 0 and "--normfusion-impl=reference" in doc["run"]["command"]
    assert doc["impls"][0]["name"] == "reference" and "rms_norm" in doc["impls"][0]["ops"]
    assert set(doc["tolerances"]["table"]) >= {"mismatch_fraction", "half_ulp"}
    for case in doc["cases"]:
        assert set(case) >= {*record.ERROR_KEYS, *record.TIMING_KEYS, "shape", "world_size", "repro"}
        assert case["us"] is None and case["speedups"] == {} and case["shape"] == [3, 8]
        assert case["check"] == "norm"
        assert case["status"] == "passed" and case["profile"] in ("fp32", "input-dtype")
    assert "| norm | rms_norm | fp16 | fp16 | 0 | False | 1 | 2/2 |" in run.markdown
    assert "## Failures\n\nNone." in run.markdown


def test_markdown_from_json_alone(tmp_path: Path) -> None:
    path = tmp_path / "cert.json"
    path.write_text(SMALL.read_text())
    assert report.main([str(path), "--no-plot"]) == 0
    md = path.with_suffix(".md").read_text()
    assert md == markdown.render(document.load(path))
    assert "| norm | rms_norm | bf16 | bf16 | 1 | False | 1 | 2/2 |" in md
    assert "| norm | rms_norm | bf16 | bf16 | 1 | False | 1 | 0/2 | 2 |" in md
    assert "`rounded-one-plus-w-rms_norm-bf16-w_bf16-bias1-T7xH5120-eps1e-05-strided-normal` **failed**" in md
    assert "  `pytest --normfusion-impl=candidates:RoundedOnePlusW --normfusion-seed=0 --normfusion-case=" in md
    assert "## Performance" not in md


def test_markdown_perf_table_when_timed() -> None:
    doc = document.load(SMALL)
    doc["cases"][0].update(us=12.5, gbps=1800.0, speedups={"torch-compile": 1.05, "flashinfer": 0.9})
    md = markdown.render(doc)
    assert "## Performance" in md and "| 12.5 | 1800 | - | flashinfer 0.90x, torch-compile 1.05x |" in md


def test_cli_rerenders_via_python_m(pytester: pytest.Pytester) -> None:
    path = pytester.path / "cert.json"
    path.write_text(SMALL.read_text())
    result = pytester.run(sys.executable, "-m", "pytest_normfusion.report", str(path), "--no-plot")
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"wrote {path.with_suffix('.md')}"])


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="matplotlib not installed (extra 'report')")
def test_plot(tmp_path: Path) -> None:
    assert markdown.plot(document.load(SMALL), tmp_path / "cert.png")
    assert (tmp_path / "cert.png").read_bytes()[:4] == b"\x89PNG"


def test_load_rejects_other_json(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"machine_info": {}}))
    with pytest.raises(document.CertificateError, match="not a pytest-normfusion certificate"):
        document.load(path)
    path.write_text(json.dumps({"schema": document.SCHEMA, "schema_version": document.SCHEMA_VERSION + 1}))
    with pytest.raises(document.CertificateError, match="newer than this reader"):
        document.load(path)


def _pair() -> tuple[dict, dict]:
    old = document.load(SMALL)
    return old, copy.deepcopy(old)


def test_compare_identical_has_no_regressions() -> None:
    old, new = _pair()
    assert regressions.compare(old, new, regressions.Thresholds()) == ([], [])


def test_compare_status_error_and_speed() -> None:
    old, new = _pair()
    passing = new["cases"][0]
    passing.update(status="failed", reason="y conforms to no allowed profile")
    new["cases"][1]["max_ulp"] = 0.5 + 1.25  # grew by 1.25 > 1 ulp
    new["cases"][2]["rel_err"] = 0.002442 * 1.6  # x1.6 > x1.5
    old["cases"][3]["us"], new["cases"][3]["us"] = 10.0, 11.5  # 15 % > 10 %
    found, warnings = regressions.compare(old, new, regressions.Thresholds())
    assert [(r.test_id, r.field) for r in found] == [
        (passing["test_id"], "status"),
        (new["cases"][1]["test_id"], "max_ulp"),
        (new["cases"][2]["test_id"], "rel_err"),
        (new["cases"][3]["test_id"], "us"),
    ]
    assert found[0].message.endswith("status passed -> failed: y conforms to no allowed profile")
    assert "max_ulp 0.5 -> 1.75 (grew by 1.25 ulp, threshold 1)" in found[1].message
    assert "(x1.6, threshold x1.5)" in found[2].message
    assert "median 10 us -> 11.5 us (15.0% slower, threshold 10%)" in found[3].message
    assert warnings == []


def test_compare_within_thresholds_is_quiet() -> None:
    old, new = _pair()
    new["cases"][1]["max_ulp"] = 0.5 + 1.0
    new["cases"][2]["rel_err"] = 0.002442 * 1.5
    old["cases"][3]["us"], new["cases"][3]["us"] = 10.0, 10.9
    new["cases"][2]["status"], old["cases"][2]["status"] = "passed", "failed"  # got better
    assert regressions.compare(old, new, regressions.Thresholds())[0] == []


def test_compare_cli_exit_status_and_device_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _pair()
    new["environment"]["device"] = {"type": "cuda", "name": "NVIDIA H100 80GB HBM3", "count": 1, "capability": "9.0"}
    paths = []
    for name, doc in (("old", old), ("new", new)):
        paths.append(tmp_path / f"{name}.json")
        document.write(doc, paths[-1])
    assert report.main(["compare", *map(str, paths)]) == 0
    out, err = capsys.readouterr()
    assert "warning: device differs" in err and "0 regression(s) in 4 case(s)" in out
    new["cases"][0]["status"] = "timeout"
    document.write(new, paths[1])
    assert report.main(["compare", *map(str, paths)]) == 1
    out, _ = capsys.readouterr()
    assert (
        "REGRESSION reference-rms_norm-bf16-w_bf16-bias1-T7xH5120-eps1e-05-contiguous-normal [norm]: status passed -> timeout"
        in out
    )
