"""Time our Triton kernels' launch plans (rows per program x warps) against the peers, on one GPU.

    python benchmarks/tune_triton.py --out tune_triton.json [--peers flashinfer,liger_peer:Liger]
        [--tokens 4096,32768] [--hidden 8192] [--ops rms_norm] [--pairings bf16:0,fp32:1] [--pdl both]

For each op x weight pairing x H x T of the sweep, times every launch plan that
keeps 2 to 64 elements per thread (one row block per program, and programs
that loop over row blocks, loading the next one early), or the plans of
``--plans``, the plan ``impls/triton/plan.py`` picks, and the peers, all in one process
with ``pytest_normfusion.perf.timing`` (CUDA-graph replays, rotating inputs); with ``--pdl both``
each plan also without programmatic dependent launch (spec ending in ``n``). Writes
every record as JSON and prints, per shape, the best plan, the default plan and
the best peer. The data behind the per-device tables of ``impls/triton/plan.py`` (``plan_table.py`` prints one).
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import itertools
import json
import shlex
import sys
import time
from pathlib import Path
from typing import Any

# the T of the H200 table's cells
TOKENS = (1, 16, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
# most telling first: a run cut short by its budget keeps those
HIDDEN = (5120, 8192, 2048, 4096, 2880, 7168, 6144, 5125)
WARPS = (2, 4, 8, 16, 32)
# Looping programs: (programs per multiprocessor, warps per program).
PERSISTENT = ((1, 16), (2, 8), (2, 16), (4, 4), (4, 8))
# Chunked two-pass kernel: (chunk, warps); its second pass re-reads the row from L2.
CHUNKED = ((1024, 2), (1024, 4), (2048, 4), (2048, 8), (2048, 16), (4096, 8), (4096, 16))
# Programs sharing a row block, each storing its share of the columns, at few tokens.
SPLITS = (2, 4, 8, 16)
SPLIT_MAX_TOKENS = 16
# A row over a thread-block cluster, each program loading its share, at as few tokens: (programs, warps).
CLUSTERS = ((2, 4), (2, 8), (4, 2), (4, 4), (4, 8), (8, 1), (8, 2), (8, 4))
GROUP = 4  # candidates timed in alternation at once (their inputs are all on the GPU)
PAIRINGS = "x:0,fp32:1"  # weight dtype (x: x's dtype):weight_bias


def plans(tokens: int, hidden: int, multiprocessors: int) -> list[Any]:
    """Every single-pass plan with 2..64 elements per thread and no more rows than T: one
    row block per program, and programs looping over row blocks (fewer than the blocks),
    each with the row in two pieces where that holds fewer columns, and as one block; then the
    chunked kernel's."""
    from pytest_normfusion.impls.triton import plan as tn

    block = 1 << (hidden - 1).bit_length()
    whole = []
    for rows, warps in itertools.product((1, 2, 4), WARPS):
        per_thread = rows * block // (32 * warps)
        if rows <= tokens and rows * block <= tn.MAX_SINGLE_PASS and 2 <= per_thread <= 64:
            blocks = -(-tokens // rows)
            whole.append(tn.Plan(True, rows, block, warps, blocks))
            for per_sm, persistent_warps in PERSISTENT:
                programs = per_sm * multiprocessors
                if persistent_warps == warps and rows <= 2 and programs < blocks:
                    whole.append(tn.Plan(True, rows, block, warps, programs, looping=True))
    out = list(dict.fromkeys(q for p in whole for q in (tn.split_row(p, hidden), p)))
    if tokens <= SPLIT_MAX_TOKENS:  # a row's block shared by programs, one share each
        for split, warps in itertools.product(SPLITS, WARPS):
            if block // split >= 256 and 2 <= block // (32 * warps) <= 64:
                out.append(tn.Plan(True, 1, block, warps, tokens, split=split))
        for programs, warps in CLUSTERS:  # sm_90+
            p = tn.cluster(tokens, hidden, programs, warps)
            if p.num_warps == warps and p not in out:
                out.append(p)
    if hidden >= tn.ALIGNED_BODY_MIN_COLS and hidden % 8:  # rows of bf16 not 16-byte aligned
        for w, per_sm in itertools.product(WARPS, (None, 1, 2, 4)):
            programs = per_sm and per_sm * multiprocessors
            if 2 <= block // (32 * w) <= 64 and (programs is None or programs < tokens):
                out.append(tn.aligned_body(tokens, hidden, w, programs))
                if programs is None:  # its weight in vectors, from copies shifted by each head
                    out.append(tn.aligned_body(tokens, hidden, w, weight_heads=True))
    for chunk, warps in CHUNKED:
        if chunk <= 2 * block:
            out.append(tn.Plan(False, 1, chunk, warps, tokens))
    return out


def parse_plan(
    spec: str,
    tokens: int,
    hidden: int,
    residual: bool,
    multiprocessors: int,
    fp32_weight: bool = False,
    itemsize: int = 2,
) -> Any:
    """A ``Plan`` from ``default`` (what ``plan.plan`` picks on this device) or a spec of the
    device tables (``plan.from_spec``): ``r2w16`` (rows, warps; one row block per program),
    ``r1w8p2`` (2 programs per multiprocessor looping over the row blocks, each loading its
    next block early), either ending in ``u`` (the row as one power-of-two block, not two
    pieces); ``r1w4s4`` (4 programs a row, each storing a quarter of it); ``r1w4k5`` (5 programs
    a row in a thread-block cluster, each loading a fifth of it); ``r1w8g`` (one row a program,
    x staged in shared memory where the shape allows: ``plan.staged``); ``r1w8a`` (the
    aligned-body kernel, one row a program; ``r1w8av``: its weight in vectors from copies
    shifted by each head); ``c2048w8`` (the chunked kernel). None where the
    shape cannot hold the spec as given (looping programs need more blocks than programs; rows
    and warps within the block), rather than a plan cut to fit."""
    from pytest_normfusion.impls.triton import plan as tn

    if spec == "default":
        import torch

        table = tn.device_table(torch.device("cuda"))
        return tn.plan(tokens, hidden, residual, tn.MAX_SINGLE_PASS, multiprocessors, table, itemsize, fp32_weight)
    p = tn.from_spec(spec, tokens, hidden, tn.MAX_SINGLE_PASS, multiprocessors)
    return p if p is not None and plan_name(p, multiprocessors, hidden) == f"triton[{spec}]" else None


def plan_name(p: Any, multiprocessors: int, hidden: int) -> str:
    """``triton[r2w16]``: rows and warps; ``triton[r1w8p2]``: 2 programs per multiprocessor, looping;
    ``triton[r1w8a]``: the aligned-body kernel (``r1w8av``: its weight from shifted copies; ``r2w8a``:
    two rows of one head a program);
    ``triton[r1w4s4]``: 4 programs a row; ``triton[r1w4k5]``: 5 programs a row in a cluster;
    either with ``u`` where the row is one block that two pieces would hold in fewer columns;
    ``triton[c2048w4]``: the two-pass kernel in chunks of 2048 with 4 warps; any of them ending
    in ``n``: launched without programmatic dependent launch."""
    return f"triton[{_spec(p, multiprocessors, hidden)}{'' if p.pdl else 'n'}]"


def _spec(p: Any, multiprocessors: int, hidden: int) -> str:
    from pytest_normfusion.impls.triton import plan as tn

    if not p.single_pass:
        return f"c{p.block}w{p.num_warps}"
    if p.cluster:
        return f"r1w{p.num_warps}k{p.cluster}"
    if p.staged:
        return f"r1w{p.num_warps}g"
    if p.aligned_body:
        per_sm = f"p{p.programs // multiprocessors}" if p.looping else ""
        return f"r{p.rows}w{p.num_warps}{per_sm}a{'v' if p.weight_heads else ''}"
    per_sm = f"p{p.programs // multiprocessors}" if p.programs % multiprocessors == 0 else f"P{p.programs}"
    whole = "u" if tn.split_row(p, hidden) != p else ""
    split = f"s{p.split}" if p.split > 1 else ""
    return f"r{p.rows}w{p.num_warps}" + (per_sm if p.looping else "") + split + whole


def _ints(value: str) -> tuple[int, ...]:
    return tuple(int(v) for v in value.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--peers", default="flashinfer,liger_peer:Liger")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget-s", type=float, default=300.0, help="start no new shape after this")
    parser.add_argument("--ops", default="rms_norm,fused_add_rms_norm")
    parser.add_argument("--dtypes", default="bf16", help="x dtypes, comma-separated")
    parser.add_argument("--pairings", default=PAIRINGS, help="weight dtype:weight_bias, comma-separated")
    parser.add_argument("--hidden", type=_ints, default=HIDDEN)
    parser.add_argument("--tokens", type=_ints, default=TOKENS)
    parser.add_argument("--plans", help="plan specs (see parse_plan) instead of every plan")
    parser.add_argument("--group", type=int, default=GROUP, help="candidates timed in alternation at once")
    parser.add_argument(
        "--pdl",
        choices=("on", "both"),
        default="on",
        help="programmatic dependent launch (sm_90+) for every plan, or each plan with and without it",
    )
    args = parser.parse_args(argv)
    pairings = [(w, float(b)) for w, b in (p.split(":") for p in args.pairings.split(","))]

    import torch
    from copy_peer import Copy

    from pytest_normfusion.certificate import environment
    from pytest_normfusion.core.case import Case
    from pytest_normfusion.impls.triton import plan as tn
    from pytest_normfusion.loading import load_candidate
    from pytest_normfusion.perf import stats, sweep, timing, verdict

    meta = {
        **environment.flat("cuda"),
        "copy_gbps": timing.copy_bandwidth("cuda"),
        "command": shlex.join([sys.executable, *sys.argv]),
    }
    peers = [load_candidate(s) for s in args.peers.split(",") if s]
    records: list[dict[str, Any]] = []
    summary: list[str] = []
    started = time.monotonic()

    class Planned:
        """Our kernels with a fixed launch plan, as a candidate for ``perf.measure_all``."""

        def __init__(self, p: Any, hidden: int) -> None:
            self.p, self.name = p, plan_name(p, multiprocessors, hidden)

        def declines(self, case: Any) -> None:
            return None

        def method(self, op: str) -> Any:
            launch = functools.partial(tn.launch, launch_plan=self.p)
            if op == "rms_norm":
                return lambda x, w, eps, bias: launch(x, None, w, eps, bias)[0]
            return lambda x, r, w, eps, bias: launch(x, r, w, eps, bias)

    multiprocessors = torch.cuda.get_device_properties(0).multi_processor_count
    for hidden, tokens, dtype, op, (weight, bias) in itertools.product(
        args.hidden, args.tokens, args.dtypes.split(","), args.ops.split(","), pairings
    ):
        weight = dtype if weight == "x" else weight
        case = Case(op, dtype, weight, bias, tokens, hidden, 1e-6, residual=op != "rms_norm")
        if time.monotonic() - started > args.budget_s:
            print(f"budget of {args.budget_s:g} s spent; stopping before {case.id}", flush=True)
            break
        nbytes = verdict.case_bytes(case)
        fp32_weight, itemsize = weight == "fp32" and dtype != "fp32", 4 if dtype == "fp32" else 2
        default = parse_plan("default", tokens, hidden, op != "rms_norm", multiprocessors, fp32_weight, itemsize)
        if args.plans:
            chosen = [
                parse_plan(s, tokens, hidden, op != "rms_norm", multiprocessors, fp32_weight, itemsize)
                for s in args.plans.split(",")
            ]
        else:
            chosen = plans(tokens, hidden, multiprocessors)
        chosen = [p for p in [*chosen, default] if p is not None]
        if args.pdl == "both":
            chosen += [dataclasses.replace(p, pdl=False) for p in chosen if p.pdl]
        candidates = {plan_name(p, multiprocessors, hidden): p for p in chosen}
        rivals_all = [*peers, *(Planned(p, hidden) for p in candidates.values())]
        measured, skipped = {}, {}
        for i in range(0, len(rivals_all), args.group):  # alternating blocks within groups that fit in memory
            timed_group, skipped_group = sweep.measure_all(rivals_all[i : i + args.group], case, "cuda", args.seed)
            measured.update(timed_group)
            skipped.update(skipped_group)
        for name, why in skipped.items():
            print(f"{case.id} {name}: {why}", file=sys.stderr)
        timed = {name: t.summary.median * 1e6 for name, t in measured.items()}
        for name, us in timed.items():
            records.append(
                {
                    "case": case.id,
                    "op": op,
                    "dtype": dtype,
                    "weight_dtype": weight,
                    "weight_bias": bias,
                    "tokens": tokens,
                    "hidden": hidden,
                    "impl": name,
                    "us": us,
                    "gbps": stats.gbps(nbytes, us * 1e-6),
                }
            )
        ours = {k: v for k, v in timed.items() if k.startswith("triton[")}
        rivals = {k: v for k, v in timed.items() if not k.startswith("triton[") and k != Copy.name}  # a yardstick
        best = min(ours, key=ours.get)
        dflt = plan_name(default, multiprocessors, hidden)
        peer = min(rivals, key=rivals.get) if rivals else None
        line = (
            f"{op[:9]:9} {dtype} w_{weight} H{hidden:<5} T{tokens:<6} best {best:16} {ours[best]:8.2f}  "
            f"default {dflt:16} {ours.get(dflt, float('nan')):8.2f}"
        )
        if peer:
            line += f"  {peer:12} {rivals[peer]:8.2f}  ratio {rivals[peer] / ours[best]:.2f}"
        print(line, flush=True)
        summary.append(line)
        torch.cuda.empty_cache()
        args.out.write_text(json.dumps({"meta": meta, "records": records, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
