"""Sweep rms_norm and fused_add_rms_norm over impls x shapes x dtypes on one GPU; write JSON.

    python benchmarks/bench_norms.py --out bench_norms.json \
        --impls reference,torch-compile,flashinfer,triton,liger_peer:Liger,copy_peer:Copy

One record per impl x op x shape x dtype x weight x weight_bias (fields in
``RECORD_FIELDS``); an impl that declines a case or raises gets a record with
``declined`` or ``error`` and no timing. The top level holds the device, driver,
versions, the device-copy bandwidth and the command. Timing: pytest_normfusion.perf.timing.
"""

from __future__ import annotations

import argparse
import datetime
import itertools
import json
import shlex
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

RECORD_FIELDS = (
    "impl",
    "op",
    "dtype",
    "weight_dtype",
    "weight_bias",
    "residual",
    "tokens",
    "hidden",
    "us",
    "gbps",
    "copy_gbps",
    "device",
    "torch",
    "triton",
)
TOKENS = (1, 4, 16, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
# every T of the device tables' cells, and 128
TOKENS_QUICK = (1, 16, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
HIDDEN = (2048, 2880, 4096, 5120, 5125, 6144, 7168, 8192)
# weight dtype (x: x's dtype):weight_bias; same-dtype plain, then Gemma with an fp32 weight,
# then the other two pairings
PAIRINGS = "x:0,fp32:1,x:1,fp32:0"
# torch-compile: H static, T dynamic (shipped); compile_peer:Static: every size static
DEFAULT_IMPLS = "torch-compile,compile_peer:Static,flashinfer,triton,liger_peer:Liger,copy_peer:Copy"


def cases(
    dtypes: list[str], tokens: tuple[int, ...], hidden: tuple[int, ...] = HIDDEN, pairings: str = PAIRINGS
) -> Iterator[Any]:
    """The sweep, most telling first (a run cut short by its budget keeps those)."""
    from pytest_normfusion.core.case import Case

    for dtype in dtypes:
        for weight, bias in (p.split(":") for p in pairings.split(",")):
            weight = dtype if weight == "x" else weight
            for op, h, t in itertools.product(("rms_norm", "fused_add_rms_norm"), hidden, tokens):
                yield Case(op, dtype, weight, float(bias), t, h, 1e-6, residual=op != "rms_norm")


def bench_case(candidates: list[Any], case: Any, env: dict[str, Any], copy_gbps: float, seed: int) -> list[Any]:
    """One record per candidate; the candidates are timed in alternating blocks (``perf.sweep.measure_all``)."""
    from pytest_normfusion.perf import sweep, verdict

    timed, skipped = sweep.measure_all(candidates, case, "cuda", seed)
    records = []
    for candidate in candidates:
        rec: dict[str, Any] = {
            "impl": candidate.name,
            "op": case.op,
            "dtype": case.dtype,
            "weight_dtype": case.weight,
            "weight_bias": case.weight_bias,
            "residual": case.residual,
            "tokens": case.tokens,
            "hidden": case.hidden,
            "us": None,
            "gbps": None,
            "copy_gbps": copy_gbps,
            "device": env["device"],
            "torch": env["torch"],
            "triton": env["triton"],
        }
        why = skipped.get(candidate.name)
        if why is not None:
            rec["error" if why.startswith("raised ") else "declined"] = why
        else:
            rec.update(timed[candidate.name].record(verdict.case_bytes(case), copy_gbps))
        records.append(rec)
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path, help="JSON file to write")
    parser.add_argument("--impls", default=DEFAULT_IMPLS, help=f"comma-separated specs (default {DEFAULT_IMPLS})")
    parser.add_argument("--dtypes", default="bf16", help="comma-separated x dtypes (default bf16)")
    parser.add_argument("--quick", action="store_true", help=f"tokens {TOKENS_QUICK} instead of {TOKENS}")
    parser.add_argument("--tokens", help="comma-separated token counts instead of either")
    parser.add_argument("--hidden", default=",".join(map(str, HIDDEN)), help="comma-separated hidden sizes")
    parser.add_argument("--pairings", default=PAIRINGS, help=f"weight dtype:weight_bias, comma-separated ({PAIRINGS})")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--budget-s", type=float, default=None, help="start no new case after this many seconds (meta says truncated)"
    )
    args = parser.parse_args(argv)

    import torch

    from pytest_normfusion.certificate import environment
    from pytest_normfusion.loading import LoadError, load_candidate
    from pytest_normfusion.perf import timing

    if not torch.cuda.is_available():
        print("bench_norms: no CUDA device; nothing measured", file=sys.stderr)
        return 2
    env = environment.flat("cuda")
    copy_gbps = timing.copy_bandwidth("cuda")
    candidates, load_errors = [], {}
    for spec in (s.strip() for s in args.impls.split(",") if s.strip()):
        try:
            candidates.append(load_candidate(spec))
        except LoadError as exc:
            load_errors[spec] = str(exc)
            print(f"bench_norms: skipping {spec}: {exc}", file=sys.stderr)
    records: list[dict[str, Any]] = []
    meta = {
        **env,
        "copy_gbps": copy_gbps,
        "l2_bytes": timing.l2_bytes("cuda"),
        "command": shlex.join([sys.executable, *sys.argv]),
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "load_errors": load_errors,
        # True until the sweep ends: a run killed from outside (a stage's timeout) leaves it so
        "truncated": True,
    }
    hidden = tuple(int(h) for h in args.hidden.split(","))
    dtypes = [d.strip() for d in args.dtypes.split(",")]
    tokens = tuple(int(t) for t in args.tokens.split(",")) if args.tokens else TOKENS_QUICK if args.quick else TOKENS
    sweep = list(cases(dtypes, tokens, hidden, args.pairings))
    started = time.monotonic()
    for case in sweep:
        if args.budget_s is not None and time.monotonic() - started > args.budget_s:
            print(f"bench_norms: budget of {args.budget_s:g} s spent; stopping before {case.id}", file=sys.stderr)
            break
        for rec in bench_case(candidates, case, env, copy_gbps, args.seed):
            records.append(rec)
            shown = (
                f"{rec['us']:.2f} us {rec['gbps']:.0f} GB/s" if rec["us"] else rec.get("declined") or rec.get("error")
            )
            print(f"{rec['impl']:>14} {case.id}: {shown}", flush=True)
        # rewritten after every case: a run cut short still leaves its records
        args.out.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    else:
        meta["truncated"] = False
    args.out.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    print(f"bench_norms: {len(records)} records -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
