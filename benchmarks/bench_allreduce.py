"""All-reduce + residual + RMSNorm: FlashInfer's fused TRT-LLM kernel vs NCCL all_reduce + a fused-add norm.

Run one process per GPU, once per world size:

    torchrun --nproc-per-node=2 benchmarks/bench_allreduce.py --out bench_allreduce_ws2.json

Both sides are CUDA-graph timed over rotating inputs (pytest_normfusion.perf.timing),
with every rank capturing the same number of calls; a case's time is the slowest
rank's median. The unfused side all-reduces x in place (as an engine does on its
GEMM output), so repeated calls grow x: the values are meaningless, the time is
not (``perf.allreduce.time_allreduce``). The unfused norm is FlashInfer's fused_add_rmsnorm
when it takes the case, else our Triton kernel. Rank 0 writes the JSON.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any

TOKENS = (1, 16, 128, 512, 2048, 8192)
HIDDEN = (4096, 8192)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--dtype", default="bf16", choices=("fp16", "bf16"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import torch
    import torch.distributed as dist

    from pytest_normfusion.certificate import environment
    from pytest_normfusion.core.case import Case
    from pytest_normfusion.loading import load_candidate
    from pytest_normfusion.perf import allreduce

    local_rank = int(os.environ["LOCAL_RANK"])
    torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl", device_id=torch.device("cuda", local_rank))
    rank, world = dist.get_rank(), dist.get_world_size()

    fused = load_candidate("flashinfer")
    fallback = load_candidate("triton")
    records = []
    for hidden, tokens in ((h, t) for h in HIDDEN for t in TOKENS):
        case = Case(
            "allreduce_rms_norm", args.dtype, args.dtype, 0.0, tokens, hidden, 1e-6, residual=True, world_size=world
        )
        norm = allreduce.unfused_norm(fused, case, fallback)
        rec: dict[str, Any] = {
            "world_size": world,
            "tokens": tokens,
            "hidden": hidden,
            "dtype": args.dtype,
            "unfused_norm": norm.name,
        }
        why = fused.declines(case)
        if why:
            records.append({**rec, "declined": why})
            continue
        t_fused, t_unfused = allreduce.time_allreduce(
            fused, norm, case, None, torch.device("cuda", local_rank), args.seed
        )
        medians = torch.tensor([t_fused.summary.median, t_unfused.summary.median], device="cuda", dtype=torch.float64)
        dist.all_reduce(medians, op=dist.ReduceOp.MAX)  # each side's slowest rank
        fused_us, unfused_us = (1e6 * medians).tolist()
        records.append(
            {
                **rec,
                "fused_us": fused_us,
                "unfused_us": unfused_us,
                "speedup": unfused_us / fused_us,
                "fused_mode": t_fused.mode,
                "unfused_mode": t_unfused.mode,
            }
        )
        if rank == 0:
            print(f"ws{world} H{hidden} T{tokens}: fused {fused_us:.2f} us, unfused {unfused_us:.2f} us", flush=True)
    if rank == 0:
        meta = {
            **environment.flat("cuda"),
            "world_size": world,
            "command": shlex.join(["torchrun", f"--nproc-per-node={world}", *sys.argv]),
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        }
        args.out.write_text(json.dumps({"meta": meta, "records": records}, indent=1))
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
