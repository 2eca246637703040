"""Render a certificate as Markdown (and a plot), from its JSON alone."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pytest_normfusion.certificate.document import STATUSES
from pytest_normfusion.certificate.record import TIMING_KEYS
from pytest_normfusion.core.status import BAD


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


MODE_FIELDS = ("check", "op", "dtype", "weight", "weight_bias", "residual", "world_size")


def _mode_key(case: dict[str, Any]) -> tuple[Any, ...]:
    """check x op x dtype x weight dtype x mode (bias, residual, world size); unknown parts are ''."""
    return tuple("" if case.get(k) is None else case[k] for k in MODE_FIELDS)


def summary_matrix(cases: list[dict[str, Any]]) -> list[str]:
    """Per impl: counts per status for every op x dtype x weight x mode, profiles and worst error."""
    lines: list[str] = []
    by_impl: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for case in cases:
        by_impl[case["impl"]].append(case)
    for impl in sorted(by_impl):
        groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
        for case in by_impl[impl]:
            groups[_mode_key(case)].append(case)
        rows = []
        for key in sorted(groups, key=lambda k: tuple(str(v) for v in k)):
            group = groups[key]
            counts = Counter(c["status"] for c in group)
            ulps = [c["max_ulp"] for c in group if c["max_ulp"] is not None]
            profiles = sorted({c["profile"] for c in group if c["profile"]})
            rows.append(
                [
                    *(v if v != "" else "any" for v in key),
                    f"{counts['passed']}/{len(group)}",
                    *(counts[s] or "" for s in STATUSES[1:]),
                    ", ".join(profiles) or None,
                    max(ulps) if ulps else None,
                ]
            )
        header = [
            "check",
            "op",
            "dtype",
            "weight",
            "bias",
            "residual",
            "ws",
            "passed",
            *STATUSES[1:],
            "profile",
            "max ulp",
        ]
        lines += [f"### {impl}", "", *_table(header, rows), ""]
    return lines


def failures(cases: list[dict[str, Any]]) -> list[str]:
    """Every failing case with its reason and the command that re-runs it alone."""
    lines = []
    for case in cases:
        if case["status"] in BAD:
            lines.append(f"- `{case['test_id']}` **{case['status']}**: {case['reason']}")
            if case["repro"]:
                lines.append(f"  `{case['repro']}`")
    return lines


def performance(cases: list[dict[str, Any]]) -> list[str]:
    """The timed cases, when a run measured any: median latency, GB/s, copy fraction, speedups."""
    timed = [c for c in cases if any(c.get(k) is not None for k in TIMING_KEYS) or c.get("speedups")]
    if not timed:
        return []
    rows = [
        [
            c["impl"],
            c.get("check"),
            c["id"],
            *(c.get(k) for k in TIMING_KEYS),
            ", ".join(f"{name} {ratio:.2f}x" for name, ratio in sorted((c.get("speedups") or {}).items())) or None,
        ]
        for c in timed
    ]
    header = ["impl", "check", "case", "median us", "GB/s", "of copy bandwidth", "speedup vs"]
    return ["## Performance", "", *_table(header, rows), ""]


def render(doc: dict[str, Any]) -> str:
    """The Markdown of a certificate."""
    env, run, cases = doc["environment"], doc["run"], doc["cases"]
    versions = ", ".join(f"{name} {v or '-'}" for name, v in env["versions"].items())
    device = env["device"]
    s = doc["summary"]
    impls = ", ".join(f"{i['name']} (`{i['spec']}`: {', '.join(i['ops'])})" for i in doc["impls"])
    capability = f", capability {device['capability']}" if device["capability"] else ""
    lines = [
        "# pytest-normfusion certificate",
        "",
        f"- impls: {impls}",
        f"- device: {device['type']} {device['name'] or ''} x{device['count']}{capability}; "
        f"driver {env['driver'] or '-'}, CUDA driver API {env['cuda_driver_api'] or '-'}, "
        f"CUDA runtime {env['cuda_runtime'] or '-'}",
        f"- versions: {versions}",
        f"- host {env['host']}, {env['platform']}, Python {env['python']}; created {doc['created']}",
        f"- command: `{run['command']}` (seed {run['seed']}, matrix {run['matrix']}, "
        f"xdist workers {run['xdist_workers']}, exit status {run['exit_status']})",
        f"- result: {s['total']} cases: " + ", ".join(f"{s[k]} {k}" for k in STATUSES if s[k]),
        "",
        "## Summary",
        "",
        "Passed / cases per check (test) x op x dtype x weight dtype x mode (weight_bias, residual, "
        "world size); "
        "the other columns count cases by status; profile is what the passing cases followed; "
        "max ulp is the largest distance from the fp64 ideal.",
        "",
        *summary_matrix(cases),
    ]
    bad = failures(cases)
    lines += ["## Failures", "", *(bad or ["None."]), ""]
    if doc["expectations"]:
        rows = [[e["kind"], f"`{e['pattern']}`", e["reason"], e["source"], e["matched"]] for e in doc["expectations"]]
        lines += ["## Expected failures", "", *_table(["kind", "pattern", "reason", "source", "matched"], rows), ""]
    table = doc["tolerances"]["table"]
    lines += [
        "## Tolerances",
        "",
        *_table(["bound", "value", "reason"], [[k, b["value"], b["reason"]] for k, b in table.items()]),
        "",
    ]
    overrides = doc["tolerances"]["overrides"]
    if overrides:
        rows = [[o["impl"], o["name"], o["value"], o["default"], o["reason"]] for o in overrides]
        lines += ["### Overrides", "", *_table(["impl", "bound", "value", "default", "reason"], rows), ""]
    lines += performance(cases)
    lines += fusion_passes(doc.get("passes") or [])
    return "\n".join(lines).rstrip() + "\n"


def fusion_passes(runs: list[dict[str, Any]]) -> list[str]:
    """One row per pass x model: runs by status, fused nodes made (expected); failures with repro lines."""
    if not runs:
        return []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for run in runs:
        groups[(run["pass_name"], run["model"])].append(run)
    rows = []
    for (name, model), group in sorted(groups.items()):
        counts = Counter(r["status"] for r in group)
        made = ",".join(str(n) for n in sorted({r["fused"] for r in group}))
        rows.append(
            [
                name,
                model,
                f"{counts['passed']}/{len(group)}",
                counts["failed"],
                counts["error"],
                f"{made} ({group[0]['expected']})",
            ]
        )
    lines = [
        "## Fusion passes",
        "",
        *_table(["pass", "model", "passed", "failed", "error", "fused nodes (expected)"], rows),
        "",
    ]
    for run in runs:
        if run["status"] in BAD:
            lines.append(f"- `{run['test_id']}` **{run['status']}**: {run['reason']}")
            if run.get("repro"):
                lines.append(f"  `{run['repro']}`")
    return lines


def plot(doc: dict[str, Any], path: Path) -> bool:
    """Max ulp from the fp64 ideal against H per impl and dtype; False when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    points: dict[str, list[tuple[int, float]]] = defaultdict(list)
    for case in doc["cases"]:
        if case["max_ulp"] is not None and case["shape"]:
            points[f"{case['impl']} {case['dtype']}"].append((case["shape"][1], case["max_ulp"]))
    fig, ax = plt.subplots(figsize=(9, 4))
    for label in sorted(points):
        hs, ulps = zip(*points[label], strict=True)
        ax.scatter(hs, ulps, s=8, label=label)
    ax.set_xscale("log")
    # linear to 1 ulp, logarithmic above: a conforming kernel's 0.5-8 ulp and a
    # silent-wrong one's 1e40 stay readable in one plot
    ax.set_yscale("symlog", linthresh=1.0)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("hidden size H")
    ax.set_ylabel("max ulp from the fp64 ideal")
    ax.set_title(f"pytest-normfusion, seed {doc['run']['seed']}")
    if points:
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def write_markdown(doc: dict[str, Any], json_path: Path) -> Path:
    """``cert.json`` -> ``cert.md`` beside it."""
    md = Path(json_path).with_suffix(".md")
    md.write_text(render(doc))
    return md
