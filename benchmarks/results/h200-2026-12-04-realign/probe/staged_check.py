"""The staged aligned-body prototype (pipe.staged_aligned_kernel: one row a program, the body through shared
memory) on the GPU: against fp64, then timed beside the committed plan and the copy kernel at H 5125 (rms_norm).

    python staged_check.py OUT.json BUDGET_S
"""
import itertools, json, sys, time
import torch
sys.path.insert(0, ".gpuwork/probe")
import pipe
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.perf import timing
import copy_peer

dev = "cuda"
torch.manual_seed(0)


def ref(x, w, eps, bias):
    s = x.double()
    y = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps)
    return y * (w.double() + bias) if w is not None else y


bad = total = 0
for (H, T, xdt), (warps, heads) in itertools.product(
    [(5125, 4096, torch.bfloat16), (5125, 37, torch.float16), (5125, 1, torch.bfloat16), (5123, 64, torch.float32),
     (1027, 300, torch.bfloat16), (5127, 999, torch.float16)],
    [(4, True), (8, False), (2, True)],
):
    for wdt in (xdt, torch.float32, None):
        x = torch.randn(T, H, dtype=xdt, device=dev) * 3
        w = torch.randn(H, dtype=wdt, device=dev) if wdt is not None else None
        yr = ref(x, w, 1e-6, 1.0)
        y = pipe.launch_staged(x, w, 1e-6, 1.0, warps, heads)
        err = ((y.double() - yr).abs().max() / (yr.abs().max() * torch.finfo(xdt).eps)).item()
        ok = err <= 2 and bool(torch.isfinite(y).all())
        total += 1
        bad += not ok
        if not ok:
            print("BAD", H, T, xdt, wdt, warps, heads, f"err {err:.2f}", flush=True)
print("correctness: bad", bad, "of", total, flush=True)

l2 = timing.l2_bytes()
copy_gbps = timing.copy_bandwidth()
print("copy GB/s", round(copy_gbps))
PAIRS = ((torch.bfloat16, torch.bfloat16, 0.0), (torch.bfloat16, torch.float32, 1.0),
         (torch.float16, torch.float16, 0.0), (torch.float16, torch.float32, 1.0))
SHAPES = [(4096, *p) for p in PAIRS] + [(8192, *p) for p in PAIRS] + [(16384, *p) for p in PAIRS[:2]] + [(2048, *p) for p in PAIRS[:2]]
CONFIGS = [(4, True), (8, True), (2, True), (4, False), (8, False)]
rows = []
t0 = time.time()
for T, xdt, wdt, bias in SHAPES:
    if time.time() - t0 > float(sys.argv[2]):
        print("budget over")
        break
    H = 5125
    sets = timing.rotations(T * H * 2 * 2, l2)
    ins = [(torch.randn(T, H, dtype=xdt, device=dev), torch.randn(H, dtype=wdt, device=dev)) for _ in range(sets)]
    cands = {"committed": lambda x, w: tn.launch(x, None, w, 1e-6, bias), "copy": lambda x, w: copy_peer.moved(x)}
    for c in CONFIGS:
        cands["staged-w%d-%s" % (c[0], "heads" if c[1] else "elem")] = (lambda c: lambda x, w: pipe.launch_staged(x, w, 1e-6, bias, *c))(c)
    names = list(cands)
    prepared = [timing.prepare([(lambda f, a: lambda: f(*a))(cands[n], a) for a in ins]) for n in names]
    med = {n: t.summary.median for n, t in zip(names, timing.sample_in_blocks(prepared))}
    best = min((n for n in names if n.startswith("staged")), key=med.get)
    rows.append({"op": "rms_norm", "T": T, "H": H, "x": str(xdt)[6:], "w": str(wdt)[6:], "bias": bias,
                 "us": {n: round(med[n] * 1e6, 3) for n in names}})
    print(T, str(xdt)[6:], str(wdt)[6:], "committed/copy %.3f" % (med["copy"] / med["committed"]),
          "best %s/copy %.3f" % (best, med["copy"] / med[best]), "vs committed %.3f" % (med["committed"] / med[best]),
          {n: round(med[n] * 1e6, 2) for n in names}, flush=True)
    del prepared, ins
json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy_gbps": copy_gbps, "rows": rows},
          open(sys.argv[1], "w"), indent=1)
