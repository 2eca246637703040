"""The certificate: one JSON document per run, built from the records (docs/certificate.md).

Pure: ``build`` takes plain values (the environment, the run block, the records) and returns the
document; the session writes it, and ``markdown.py`` renders it from the JSON alone.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_normfusion.certificate.record import CaseRecord, PassRecord
from pytest_normfusion.core.status import DISPLAY

SCHEMA = "pytest-normfusion/certificate"
SCHEMA_VERSION = 1
STATUSES = tuple(s.value for s in DISPLAY)


class CertificateError(Exception):
    """A file that is not a certificate this version can read."""


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
    records: Sequence[CaseRecord],
    pass_records: Sequence[PassRecord] = (),
) -> dict[str, Any]:
    """The certificate document; cases sorted by (check, impl, id) so xdist's arrival order does not show."""
    cases = sorted((r.as_dict() for r in records), key=case_key)
    passes = sorted((r.as_dict() for r in pass_records), key=lambda p: p["test_id"])
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
        "pass_summary": summary(passes),
        "passes": passes,
        "cases": cases,
    }


def summary(cases: list[dict[str, Any]]) -> dict[str, int]:
    """Case count per status (every status present), and the total."""
    counts = Counter(c["status"] for c in cases)
    return {"total": len(cases), **{s: counts[s] for s in STATUSES}}


def write(document: dict[str, Any], path: Path) -> None:
    """The JSON, one case (and one pass run) a line: diffable, and small enough to commit."""
    cases = document["cases"]
    head = json.dumps({**document, "cases": []}, indent=1, sort_keys=False)  # "cases" is the last key
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
