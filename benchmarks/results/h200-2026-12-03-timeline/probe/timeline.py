"""Probe (thirteenth H200 run): where the fixed cost of a call goes at T = 4096.

Back-to-back launches in one CUDA graph, inputs rotating over enough sets to span two L2 sizes;
every program stores %globaltimer at entry (t0), after griddepcontrol.wait (t1), once its row is
summed (t2, the norm only) and after its stores are issued (t3), with its multiprocessor. Kernels:
- norm: one row a program, weight then x loaded, sum of squares, scaled, stored (the rows kernel's
  r1w<warps> path, bf16 x and weight);
- rowcopy: the same programs and loads, x stored back negated, no sum (a copy of a norm's grain);
- copy<block>: a copy in programs of <block> elements (the grain of torch's elementwise kernels);
each with and without programmatic dependent launch; and torch.neg on the int16 view (the sweep's copy
kernel), timed only. Prints, per kernel and shape, medians over the launches of one replay.

    python timeline.py OUT.json
"""

from __future__ import annotations

import json
import lzma
import statistics
import sys

import torch
import triton
import triton.language as tl

LAUNCHES = 24
REPLAYS = 15


@triton.jit
def _now():
    return tl.inline_asm_elementwise("mov.u64 $0, %globaltimer;", "=l", [], dtype=tl.int64, is_pure=False, pack=1)


@triton.jit
def _now_after(v):
    """The timer once ``v`` (an int32) is known."""
    return tl.inline_asm_elementwise(
        "mov.u64 $0, %globaltimer; // $1", "=l,r", [v], dtype=tl.int64, is_pure=False, pack=1
    )


@triton.jit
def _sm():
    return tl.inline_asm_elementwise("mov.u32 $0, %smid;", "=r", [], dtype=tl.int32, is_pure=False, pack=1)


@triton.jit
def _probe(x_ptr, w_ptr, y_ptr, ts_ptr, n_cols, eps, BLOCK: tl.constexpr, NORM: tl.constexpr, PDL: tl.constexpr):
    pid = tl.program_id(0)
    t0 = _now()
    if PDL:
        tl.extra.cuda.gdc_wait()
    t1 = _now()
    cols = tl.arange(0, BLOCK)
    base = pid.to(tl.int64) * BLOCK
    if NORM:
        w = tl.load(w_ptr + cols)
    x = tl.load(x_ptr + base + cols)
    if PDL:
        tl.extra.cuda.gdc_launch_dependents()
    if NORM:
        s = x.to(tl.float32)
        ss = tl.sum(s * s, 0)
        t2 = _now_after(ss.to(tl.int32, bitcast=True))
        y = (s * tl.math.rsqrt(ss / n_cols + eps) * w.to(tl.float32)).to(y_ptr.dtype.element_ty)
    else:
        t2 = t1 * 0
        y = -x
    tl.store(y_ptr + base + cols, y)
    t3 = _now()
    out = ts_ptr + pid * 5
    tl.store(out + 0, t0)
    tl.store(out + 1, t1)
    tl.store(out + 2, t2)
    tl.store(out + 3, t3)
    tl.store(out + 4, _sm().to(tl.int64))


def sets_for(nbytes: int) -> int:
    l2 = torch.cuda.get_device_properties(0).L2_cache_size
    return max(2, -(-2 * l2 // nbytes))


def run(kind: str, pdl: bool, rows: int, cols: int, warps: int, block: int) -> dict:
    dtype = torch.bfloat16
    n = rows * cols
    sets = sets_for(2 * n * 2)
    xs = [torch.randn(rows, cols, device="cuda", dtype=dtype) for _ in range(sets)]
    ys = [torch.empty_like(x) for x in xs]
    w = torch.randn(cols, device="cuda", dtype=dtype)
    norm = kind == "norm"
    grain = cols if kind in ("norm", "rowcopy", "torchneg") else block
    programs = n // grain
    ts = torch.zeros(LAUNCHES, programs, 5, dtype=torch.int64, device="cuda")
    neg = kind == "torchneg"

    def launch(k: int) -> None:
        x, y = xs[k % sets], ys[k % sets]
        if neg:
            torch.neg(x.view(torch.int16), out=y.view(torch.int16))
            return
        _probe[(programs,)](
            x, w, y, ts[k], cols, 1e-6, BLOCK=grain, NORM=norm, PDL=pdl, num_warps=warps, launch_pdl=pdl
        )

    for k in range(LAUNCHES):  # compile, warm
        launch(k)
    torch.cuda.synchronize()
    if norm:
        ref = (xs[0].double() * torch.rsqrt(xs[0].double().pow(2).mean(-1, keepdim=True) + 1e-6) * w.double())
        err = (ys[0].double() - ref).abs().max().item()
    elif neg:
        err = (ys[0].view(torch.int16) + xs[0].view(torch.int16)).abs().max().item()
    else:
        err = (ys[0].float() + xs[0].float()).abs().max().item()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.stream(stream), torch.cuda.graph(graph, stream=stream):
        for k in range(LAUNCHES):
            launch(k)
    torch.cuda.current_stream().wait_stream(stream)
    for _ in range(3):
        graph.replay()
    torch.cuda.synchronize()
    samples = []
    for _ in range(REPLAYS):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        graph.replay()
        end.record()
        end.synchronize()
        samples.append(start.elapsed_time(end) * 1e3 / LAUNCHES)
    rec = {
        "kind": kind, "pdl": pdl, "rows": rows, "cols": cols, "warps": warps, "grain": grain,
        "programs": programs, "sets": sets, "max_err": err, "us_per_call": statistics.median(samples),
        "samples_us": samples,
    }  # fmt: skip
    if neg:
        return rec
    t = ts.cpu()
    base = int(t[:, :, :4][t[:, :, :4] > 0].min())
    rel = (t[:, :, :4] - base).double() / 1e3  # us from the replay's first timestamp
    first_ok, last_ok = 2, LAUNCHES - 2
    starts = [float(rel[k, :, 1].min()) for k in range(LAUNCHES)]
    ends = [float(rel[k, :, 3].max()) for k in range(LAUNCHES)]
    per = {
        "period_us": [starts[k + 1] - starts[k] for k in range(first_ok, last_ok)],
        "span_us": [ends[k] - starts[k] for k in range(first_ok, last_ok)],
        "boundary_us": [starts[k + 1] - ends[k] for k in range(first_ok, last_ok)],
        "resident_early": [int((rel[k + 1, :, 0] < ends[k]).sum()) for k in range(first_ok, last_ok)],
        "last_start_to_end_us": [ends[k] - float(rel[k, :, 1].max()) for k in range(first_ok, last_ok)],
        "first_end_us": [float(rel[k, :, 3].min()) - starts[k] for k in range(first_ok, last_ok)],
        "program_us": [float((rel[k, :, 3] - rel[k, :, 1]).median()) for k in range(first_ok, last_ok)],
        "wait_us": [float((rel[k, :, 1] - rel[k, :, 0]).median()) for k in range(first_ok, last_ok)],
    }
    if norm:
        per["load_us"] = [float((rel[k, :, 2] - rel[k, :, 1]).median()) for k in range(first_ok, last_ok)]
        per["after_sum_us"] = [float((rel[k, :, 3] - rel[k, :, 2]).median()) for k in range(first_ok, last_ok)]
        per["last_after_sum_us"] = [
            float((rel[k, :, 3] - rel[k, :, 2])[rel[k, :, 3].argmax()]) for k in range(first_ok, last_ok)
        ]
    rec.update({k: statistics.median(v) for k, v in per.items()})
    # programs ending per 0.25 us from each launch's start (launch 12): the shape of ramp and drain
    k = LAUNCHES // 2
    bins = ((rel[k, :, 3] - starts[k]) / 0.25).floor().long()
    rec["ends_per_quarter_us"] = torch.bincount(bins.clamp(min=0)).tolist()
    bins = ((rel[k, :, 1] - starts[k]) / 0.25).floor().long()
    rec["starts_per_quarter_us"] = torch.bincount(bins.clamp(min=0)).tolist()
    diffs = rel[:, :, :4].flatten().sort().values.diff()
    rec["timer_step_ns"] = float(diffs[diffs > 0].min()) * 1e3
    rec["raw_launch12"] = (t[k] - base).tolist()  # ns: t0 t1 t2 t3 (from the replay's first), sm
    return rec


def main() -> None:
    out = sys.argv[1]
    records = []
    shapes = [(4096, 8192, 8), (4096, 4096, 8), (2048, 8192, 8), (16384, 8192, 8)]
    for rows, cols, warps in shapes:
        for kind, pdl, w, block in (
            ("norm", True, warps, 0), ("norm", False, warps, 0),
            ("rowcopy", True, warps, 0), ("rowcopy", False, warps, 0),
            ("copy", True, 4, 4096), ("copy", False, 4, 4096),
            ("torchneg", False, 0, 0),
        ):  # fmt: skip
            rec = run(kind, pdl, rows, cols, w, block)
            records.append(rec)
            line = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in rec.items() if not isinstance(v, list)}
            print(json.dumps(line), flush=True)
            print("  ends/0.25us:", rec.get("ends_per_quarter_us", [])[:200], flush=True)
            torch.cuda.empty_cache()
    with lzma.open(out, "wt") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                   "triton": triton.__version__, "records": records}, f)  # fmt: skip


if __name__ == "__main__":
    main()
