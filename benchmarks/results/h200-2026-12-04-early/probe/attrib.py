"""Where the time at H 5125 goes (twentieth run, call C): the prototype kernel (early.py, one row a program, its
weight's copies built once outside the timed call) at H 5120, where every row is aligned, and at 5125, beside
the committed plans and the rows kernel one row a program, each shape in one comparison with the copy kernel.

    python attrib.py OUT.json
"""
import json, sys
import torch
sys.path.insert(0, ".gpuwork/probe")
import early
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.perf import timing
import copy_peer

dev = "cuda"
torch.manual_seed(0)
l2 = timing.l2_bytes()
copy_gbps = timing.copy_bandwidth()
sms = torch.cuda.get_device_properties(0).multi_processor_count
print("copy GB/s", round(copy_gbps), flush=True)
B, F = torch.bfloat16, torch.float32
rows = []
for T, wdt, bias in ((4096, F, 1.0), (4096, B, 0.0), (8192, F, 1.0)):
    for H in (5120, 5125):
        sets = timing.rotations(T * H * 2 * 2, l2)
        ins = []
        for _ in range(sets):
            x = torch.randn(T, H, dtype=B, device=dev)
            w = torch.randn(H, dtype=wdt, device=dev)
            ins.append((x, w, early.prebuilt(w, 8)))
        cands = {"committed": lambda x, w, h: tn.launch(x, None, w, 1e-6, bias), "copy": lambda x, w, h: copy_peer.moved(x),
                 "proto-ideal": lambda x, w, h: early.launch(x, None, w, 1e-6, bias, 4, heads=h)}
        for spec in ("r1w4", "r2w8", "r1w8") if H == 5120 else ("r1w4av",):
            p = tn.from_spec(spec, T, H, tn.MAX_SINGLE_PASS, sms)
            cands[spec] = (lambda p: lambda x, w, h: tn.launch(x, None, w, 1e-6, bias, launch_plan=p))(p)
        names = list(cands)
        prepared = [timing.prepare([(lambda f, a: lambda: f(*a))(cands[n], a) for a in ins]) for n in names]
        med = {n: t.summary.median for n, t in zip(names, timing.sample_in_blocks(prepared))}
        rows.append({"op": "rms_norm", "T": T, "H": H, "x": "bfloat16", "w": str(wdt)[6:], "bias": bias,
                     "us": {n: round(med[n] * 1e6, 3) for n in names}})
        print("rms_norm", T, H, str(wdt)[6:], "copy/x:", " ".join(f"{n} {med['copy'] / med[n]:.3f}" for n in names if n != "copy"),
              "| us", {n: round(med[n] * 1e6, 2) for n in names}, flush=True)
        del prepared, ins
json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy_gbps": copy_gbps, "rows": rows},
          open(sys.argv[1], "w"), indent=1)
