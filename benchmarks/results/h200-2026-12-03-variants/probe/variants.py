"""Variants of our kernels beside the shipped ones and the copy kernel, timed in one CUDA-graph
comparison per shape (bench_norms' method: rotating input sets, alternating blocks):
- early: every kernel lets the next one launch (griddepcontrol.launch_dependents) on entry, before
  its wait, rather than after its first loads;
- stream: the rows kernel's x and residual loaded evict_first, its outputs stored .cs.
Cases: .gpuwork/probe/cases.json ("big": inputs >= 32 MiB under 0.97 of the copy in call D's sweep;
"controls": T 1-1024 at H 2048, 5120, 8192). Writes JSON to argv[1]."""

import functools
import importlib.util
import json
import pathlib
import re
import sys
import time

import torch

from pytest_normfusion.certificate import environment
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls.triton import kernels as shipped
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import stats, sweep, timing, verdict


def early(src: str) -> str:
    src = src.replace("tl.extra.cuda.gdc_launch_dependents()", "pass")
    return re.sub(r"^(\s*)tl\.extra\.cuda\.gdc_wait\(\)$",
                  r"\1tl.extra.cuda.gdc_launch_dependents()\n\1tl.extra.cuda.gdc_wait()", src, flags=re.M)


def stream(src: str) -> str:
    load = "    return tl.load(ptr + rows[:, None] * stride + cols[None, :], mask=mask, other=0.0)\n"
    store = "        mask=row_ok & col_ok[None, :],\n    )\n"
    assert load in src and store in src
    src = src.replace(load, load.replace("other=0.0)", 'other=0.0, eviction_policy="evict_first")'))
    return src.replace(store, '        mask=row_ok & col_ok[None, :],\n        cache_modifier=".cs",\n    )\n')


def module(name: str, transform) -> object:
    path = pathlib.Path("/tmp/nfvar") / f"nf_kernels_{name}.py"
    path.parent.mkdir(exist_ok=True)
    path.write_text(transform(pathlib.Path(shipped.__file__).read_text()))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = mod
    spec.loader.exec_module(mod)
    return mod


def with_kernels(mod, fn, *args):
    saved, tn.kernels = tn.kernels, mod
    try:
        return fn(*args)
    finally:
        tn.kernels = saved


def main() -> None:
    variants = {"triton": shipped, "early": module("early", early), "stream": module("stream", stream)}
    triton, copy = load_candidate("triton"), load_candidate("copy_peer:Copy")
    cases = json.loads(pathlib.Path(__file__).with_name("cases.json").read_text())
    copy_gbps = timing.copy_bandwidth("cuda")
    out = {"meta": {**environment.flat("cuda"), "copy_gbps": copy_gbps, "command": " ".join(sys.argv)}, "records": []}
    l2 = timing.l2_bytes("cuda")
    start = time.time()
    for group, keys in cases.items():
        for op, dtype, weight, bias, tokens, hidden in keys:
            case = Case(op, dtype, weight, float(bias), tokens, hidden, 1e-6, residual=op != "rms_norm")
            sets = timing.rotations(verdict.case_bytes(case), l2)
            gen = torch.Generator(device="cuda").manual_seed(0)
            inputs = [sweep.arguments(case, *sweep.device_inputs(case, "cuda", gen)) for _ in range(sets)]
            fn = triton.method(op)
            prepared = {name: timing.prepare([functools.partial(with_kernels, mod, fn, *a) for a in inputs])
                        for name, mod in variants.items()}
            prepared["copy"] = timing.prepare([functools.partial(copy.method(op), *a) for a in inputs])
            timed = sweep.sample(prepared)
            nbytes = verdict.case_bytes(case)
            rec = {"group": group, "op": op, "dtype": dtype, "weight_dtype": weight, "weight_bias": bias,
                   "tokens": tokens, "hidden": hidden, "plan": repr(tn.plan(tokens, hidden, case.residual,
                   tn.MAX_SINGLE_PASS, tn.multiprocessors(torch.device("cuda")), tn.device_table(torch.device("cuda")),
                   case.itemsize, weight == "fp32" and dtype != "fp32"))}
            for name, t in timed.items():
                rec[name] = t.record(nbytes, copy_gbps)
            out["records"].append(rec)
            print(f"{time.time() - start:6.0f}s {op[:9]} {dtype} w_{weight} b{bias:g} {tokens} x {hidden}: "
                  + " ".join(f"{k} {rec[k]['us']:.2f}" for k in timed)
                  + f" | early/triton {rec['early']['us'] / rec['triton']['us']:.3f}"
                  f" stream/triton {rec['stream']['us'] / rec['triton']['us']:.3f}"
                  f" triton/copy-eager {rec['triton']['gbps'] / copy_gbps:.3f}", flush=True)
            del prepared, timed, inputs
            torch.cuda.empty_cache()
            pathlib.Path(sys.argv[1]).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
