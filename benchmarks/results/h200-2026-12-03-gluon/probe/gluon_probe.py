"""The Gluon rms_norm probe (gluon_rms.py) beside our shipped kernels and the copy kernel: its error against
fp64 and against ours, then one CUDA-graph comparison per shape (bench_norms' method), with FlashInfer's
CuTe-DSL kernel where it runs. bf16 x and weight,
weight_bias 0. Writes JSON to argv[1]."""

import functools
import json
import pathlib
import sys
import time

import torch

from gluon_rms import gluon_rms_kernel
from pytest_normfusion.certificate import environment
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing, verdict

SHAPES = ((1024, 8192), (2048, 8192), (4096, 8192), (16384, 8192), (256, 8192), (512, 8192),
          (1024, 4096), (2048, 4096), (4096, 4096), )


def gluon(x, w, eps, weight_bias, warps=4):
    assert weight_bias == 0.0
    y = torch.empty_like(x)
    gluon_rms_kernel[(x.shape[0],)](x, w, y, eps, H=x.shape[1], VEC=8, RELOAD=True, USE_PDL=True,
                                    num_warps=warps, launch_pdl=True)
    return y


def main() -> None:
    triton, copy = load_candidate("triton"), load_candidate("copy_peer:Copy")
    cute = load_candidate("flashinfer_cute_peer:FlashInferCute")
    copy_gbps = timing.copy_bandwidth("cuda")
    out = {"meta": {**environment.flat("cuda"), "copy_gbps": copy_gbps, "command": " ".join(sys.argv)}, "records": []}
    l2 = timing.l2_bytes("cuda")
    start = time.time()
    for tokens, hidden in SHAPES:
        case = Case("rms_norm", "bf16", "bf16", 0.0, tokens, hidden, 1e-6)
        gen = torch.Generator(device="cuda").manual_seed(0)
        x, _, w = sweep.device_inputs(case, "cuda", gen)
        ref = x.double() * torch.rsqrt(x.double().pow(2).mean(-1, keepdim=True) + 1e-6) * w.double()
        ulp = ref.abs().clamp_min(2.0**-126).log2().floor().exp2() * 2.0**-7  # bf16's spacing at each value
        ours = triton.method("rms_norm")(x, w, 1e-6, 0.0).double()
        rec = {"tokens": tokens, "hidden": hidden}
        for warps in (4, 8):
            y = gluon(x, w, 1e-6, 0.0, warps).double()
            rec[f"gluon_w{warps}_max_ulp_vs_fp64"] = ((y - ref).abs() / ulp).max().item()
            rec[f"gluon_w{warps}_max_ulp_vs_ours"] = ((y - ours).abs() / ulp).max().item()
        rec["ours_max_ulp_vs_fp64"] = ((ours - ref).abs() / ulp).max().item()
        sets = timing.rotations(verdict.case_bytes(case), l2)
        inputs = [sweep.arguments(case, *sweep.device_inputs(case, "cuda", gen)) for _ in range(sets)]
        calls = {
            "triton": [functools.partial(triton.method("rms_norm"), *a) for a in inputs],
            "gluon_w4": [functools.partial(gluon, *a, 4) for a in inputs],
            "gluon_w8": [functools.partial(gluon, *a, 8) for a in inputs],
            "copy": [functools.partial(copy.method("rms_norm"), *a) for a in inputs],
        }
        if cute.declines(case) is None:
            calls["flashinfer-cute"] = [functools.partial(cute.method("rms_norm"), *a) for a in inputs]
        timed = sweep.sample({k: timing.prepare(v) for k, v in calls.items()})
        for name, t in timed.items():
            rec[name] = t.record(verdict.case_bytes(case), copy_gbps)
        out["records"].append(rec)
        print(f"{time.time() - start:5.0f}s {tokens} x {hidden}: " + " ".join(f"{k} {rec[k]['us']:.2f}" for k in timed)
              + f" | gluon_w4/triton {rec['gluon_w4']['us'] / rec['triton']['us']:.3f} gluon_w4/copy"
              f" {rec['gluon_w4']['us'] / rec['copy']['us']:.3f} | ulp vs fp64: ours {rec['ours_max_ulp_vs_fp64']:.2f}"
              f" gluon {rec['gluon_w4_max_ulp_vs_fp64']:.2f}, {rec['gluon_w8_max_ulp_vs_fp64']:.2f}", flush=True)
        pathlib.Path(sys.argv[1]).write_text(json.dumps(out, indent=1))
        del inputs, timed, calls
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
