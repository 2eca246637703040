"""The certificate: one JSON document per run, built from the per-case records (docs/certificate.md).

Written on the xdist controller (or the only process) at session end; the
Markdown beside it is rendered from the JSON alone by ``report.py``.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import shlex
from collections import Counter
from pathlib import Path
from typing import Any

SCHEMA = "pytest-normfusion/certificate"
SCHEMA_VERSION = 1
STATUSES = ("passed", "failed", "skipped", "silent-wrong", "timeout", "error", "xfailed", "xpassed")
# Error metrics against the fp64 ideal (compare.Verdict.metrics); null where no output was judged.
ERROR_KEYS = ("profile", "max_ulp", "rel_err")
# Timing metrics a GPU timing run adds to a case's record (timing.py): median latency in
# microseconds, GB/s, its fraction of the device-copy bandwidth; null where nothing was timed.
# Ratios against other impls ride as ``speedup_vs_<name>`` keys in ``speedups``.
TIMING_KEYS = ("us", "gbps", "copy_fraction")
SPEEDUP_PREFIX = "speedup_vs_"
MESSAGE_LIMIT = 4000  # characters of a case's full message kept (tracebacks can be long)


class CertificateError(Exception):
    """A file that is not a certificate this version can read."""


def case_entry(rec: dict[str, Any]) -> dict[str, Any]:
    """One record as the certificate lists it: every key present, null where not measured."""
    tokens, hidden = rec.get("tokens"), rec.get("hidden")
    message = rec.get("message") or ""
    entry = {
        "check": rec.get("check"),
        "id": rec["case"],
        "test_id": f"{rec['impl']}-{rec['case']}",
        "impl": rec["impl"],
        "op": rec.get("op"),
        "dtype": rec.get("dtype"),
        "weight": rec.get("weight"),
        "weight_bias": rec.get("weight_bias"),
        "residual": rec.get("residual"),
        "shape": None if tokens is None else [tokens, hidden],
        "eps": rec.get("eps"),
        "layout": rec.get("layout"),
        "magnitude": rec.get("magnitude"),
        "world_size": rec.get("world_size"),
        "status": rec["status"],
        "raw_status": rec.get("raw_status"),
        "failed_checks": rec.get("failed_checks") or [],
        "reason": rec.get("reason") or "",
        "message": message[:MESSAGE_LIMIT] + ("\n[... truncated]" if len(message) > MESSAGE_LIMIT else ""),
        "expectation": rec.get("expectation"),
        "repro": rec.get("repro"),
        "duration_s": rec.get("duration_s"),
    }
    entry.update({k: rec.get(k) for k in (*ERROR_KEYS, *TIMING_KEYS)})
    entry["speedups"] = {k.removeprefix(SPEEDUP_PREFIX): v for k, v in rec.items() if k.startswith(SPEEDUP_PREFIX)}
    taken = {*entry, "case", "tokens", "hidden"}  # the rest (e.g. timing_mode, us_iqr) is kept as extra
    entry["extra"] = {k: v for k, v in rec.items() if k not in taken and not k.startswith(SPEEDUP_PREFIX)}
    return entry


def case_key(case: dict[str, Any]) -> tuple[str, str, str]:
    """What identifies a case across certificates: the check (test), the impl and the case id."""
    return case.get("check") or "", case["impl"], case["id"]


def build(
    *,
    environment: dict[str, Any],
    run: dict[str, Any],
    candidates: list[Any],
    tolerances: dict[str, Any],
    expectations: list[Any],
    records: list[dict[str, Any]],
) -> dict[str, Any]:
    """The certificate document; cases sorted by (check, impl, id) so xdist's arrival order does not show."""
    cases = sorted((case_entry(r) for r in records), key=case_key)
    hits = Counter((c["expectation"] or {}).get("source") for c in cases)
    overrides = [
        {
            "impl": c.name,
            "name": name,
            "value": bound.value,
            "default": tolerances[name].value,
            "reason": bound.reason,
        }
        for c in candidates
        for name, bound in c.tolerances.overrides.items()
    ]
    return {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment,
        "run": run,
        "impls": [{"name": c.name, **c.capabilities()} for c in candidates],
        "tolerances": {
            "table": {name: dataclasses.asdict(b) for name, b in tolerances.items()},
            "overrides": overrides,
        },
        "expectations": [{**dataclasses.asdict(e), "matched": hits[e.source]} for e in expectations],
        "summary": summary(cases),
        "cases": cases,
    }


def summary(cases: list[dict[str, Any]]) -> dict[str, int]:
    """Case count per status (every status present), and the total."""
    counts = Counter(c["status"] for c in cases)
    return {"total": len(cases), **{s: counts[s] for s in STATUSES}}


def run_block(settings: Any, invocation_args: tuple[str, ...], workers: int, exit_status: int) -> dict[str, Any]:
    """The ``run`` block: how the session was asked for, and how it ended."""
    return {
        "command": shlex.join(["pytest", *invocation_args]),
        "seed": settings.seed,
        "matrix": "full" if settings.full else "quick",
        "dtypes": list(settings.dtypes),
        "case_patterns": list(settings.case_patterns),
        "device": settings.resolved_device,
        "case_timeout_s": settings.case_timeout,
        "xdist_workers": workers,
        "exit_status": exit_status,
    }


def write(document: dict[str, Any], path: Path) -> None:
    """The JSON, one case a line: diffable, and small enough to commit."""
    cases = document["cases"]
    head = json.dumps({**document, "cases": []}, indent=1, sort_keys=False)
    lines = ",\n".join("  " + json.dumps(c, sort_keys=False) for c in cases)
    body = head[: head.rindex("[]")] + ("[\n" + lines + "\n ]" if cases else "[]") + head[head.rindex("[]") + 2 :]
    path.write_text(body + "\n")


def load(path: Path) -> dict[str, Any]:
    """Read a certificate; CertificateError when it is not one, or of a newer schema."""
    try:
        document = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise CertificateError(f"{path}: cannot read a certificate: {exc}") from None
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise CertificateError(f"{path}: not a pytest-normfusion certificate (no schema {SCHEMA!r})")
    if document.get("schema_version", 0) > SCHEMA_VERSION:
        raise CertificateError(
            f"{path}: schema version {document['schema_version']} is newer than this reader's {SCHEMA_VERSION}; "
            "upgrade pytest-normfusion"
        )
    return document


def write_run(
    path: Path, settings: Any, records: list[dict[str, Any]], entries: list[Any], config: Any, exit_status: int
) -> list[Path]:
    """Build the session's certificate, write it to ``path`` and its Markdown beside it; both paths."""
    from pytest_normfusion import environment
    from pytest_normfusion.report import write_markdown
    from pytest_normfusion.session import resolve_device
    from pytest_normfusion.tolerance import TOLERANCES

    settings.resolved_device = resolve_device(settings.device)
    workers = getattr(config.option, "numprocesses", None)
    document = build(
        environment=environment.describe(settings.resolved_device),
        run=run_block(
            settings, tuple(config.invocation_params.args), workers if isinstance(workers, int) else 0, exit_status
        ),
        candidates=settings.candidates,
        tolerances=TOLERANCES,
        expectations=entries,
        records=records,
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    write(document, path)
    return [path, write_markdown(document, path)]
