"""The 2-D heads prototype (heads2d.py) on the GPU: against fp64 (r_out bit for bit against x + r rounded), then
timed at H 5125 beside the committed plan and the copy kernel of the same bytes, one comparison a shape.

    python heads2d_check.py OUT.json BUDGET_S
"""
import itertools, json, sys, time
import torch
sys.path.insert(0, ".gpuwork/probe")
import heads2d, early
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.perf import timing
import copy_peer

dev = "cuda"
torch.manual_seed(0)


def ref(x, r, w, eps, bias):
    s = x.double() + (r.double() if r is not None else 0)
    y = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps)
    return y * (w.double() + bias) if w is not None else y


bad = total = 0
worst = 0.0
for (H, T, xdt), wkind, res, (rows, warps), heads in itertools.product(
    [(5125, 4096, torch.bfloat16), (5125, 999, torch.float16), (1027, 301, torch.bfloat16), (5123, 77, torch.float32),
     (5127, 5, torch.float16), (2051, 1, torch.bfloat16)],
    ("same", "fp32", "none"), (False, True), ((1, 4), (2, 8), (4, 16)), ("kernel", None),
):
    wdt = {"same": xdt, "fp32": torch.float32, "none": None}[wkind]
    if wdt is None and heads is not None:
        continue
    x = torch.randn(T, H, dtype=xdt, device=dev) * 3
    r = torch.randn(T, H, dtype=xdt, device=dev) if res else None
    w = torch.randn(H, dtype=wdt, device=dev) if wdt is not None else None
    y, ro = heads2d.launch(x, r, w, 1e-6, 1.0, rows, warps, heads=heads)
    yr = ref(x, r, w, 1e-6, 1.0)
    err = ((y.double() - yr).abs().max() / (yr.abs().max() * torch.finfo(xdt).eps)).item()
    rok = not res or torch.equal(ro, (x.float() + r.float()).to(xdt))
    ok = err <= 2 and rok and bool(torch.isfinite(y).all())
    worst = max(worst, err)
    total += 1
    bad += not ok
    if not ok:
        print("BAD", H, T, xdt, wkind, res, rows, warps, heads, f"err {err:.2f} r_out {rok}", flush=True)
print("correctness: bad", bad, "of", total, "worst", round(worst, 3), "eps", flush=True)

l2 = timing.l2_bytes()
copy_gbps = timing.copy_bandwidth()
print("copy GB/s", round(copy_gbps), flush=True)
B, F, H16 = torch.bfloat16, torch.float32, torch.float16
SHAPES = [
    ("rms_norm", 4096, B, F, 1.0), ("rms_norm", 4096, B, B, 0.0), ("fused_add", 2048, B, F, 1.0),
    ("rms_norm", 8192, B, F, 1.0), ("rms_norm", 4096, H16, F, 1.0), ("rms_norm", 4096, H16, H16, 0.0),
    ("fused_add", 4096, B, F, 1.0), ("rms_norm", 16384, B, F, 1.0), ("rms_norm", 8192, B, B, 0.0),
    ("fused_add", 2048, H16, F, 1.0), ("rms_norm", 32768, B, F, 1.0), ("fused_add", 8192, B, F, 1.0),
]
PLANS = [(1, 4), (2, 4), (2, 8), (4, 8), (4, 16), (2, 16)]
rows_out = []
t0 = time.time()
for op, T, xdt, wdt, bias in SHAPES:
    if time.time() - t0 > float(sys.argv[2]):
        print("budget over", flush=True)
        break
    H = 5125
    res = op == "fused_add"
    sets = timing.rotations(T * H * 2 * (4 if res else 2), l2)
    ins = []
    for _ in range(sets):
        x = torch.randn(T, H, dtype=xdt, device=dev)
        r = torch.randn(T, H, dtype=xdt, device=dev) if res else None
        w = torch.randn(H, dtype=wdt, device=dev)
        both = torch.randn(2 * T, H, dtype=xdt, device=dev) if res else x
        ins.append((x, r, w, early.prebuilt(w, 8), both))
    cands = {"committed": lambda x, r, w, h, b: tn.launch(x, r, w, 1e-6, bias), "copy": lambda x, r, w, h, b: copy_peer.moved(b)}
    if res:
        cands["copy2"] = lambda x, r, w, h, b: (copy_peer.moved(x), copy_peer.moved(r))
    for rows, warps in PLANS:
        cands[f"r{rows}w{warps}"] = (lambda p: lambda x, r, w, h, b: heads2d.launch(x, r, w, 1e-6, bias, *p))((rows, warps))
        cands[f"r{rows}w{warps}-ideal"] = (lambda p: lambda x, r, w, h, b: heads2d.launch(x, r, w, 1e-6, bias, *p, heads=h))((rows, warps))
    for rows, warps in ((2, 8), (4, 16), (2, 16)):
        cands[f"r{rows}w{warps}-elem"] = (lambda p: lambda x, r, w, h, b: heads2d.launch(x, r, w, 1e-6, bias, *p, heads=None))((rows, warps))
    names = list(cands)
    prepared = [timing.prepare([(lambda f, a: lambda: f(*a))(cands[n], a) for a in ins]) for n in names]
    med = {n: t.summary.median for n, t in zip(names, timing.sample_in_blocks(prepared))}
    copy_us = min(med[n] for n in names if n.startswith("copy"))
    rows_out.append({"op": op, "T": T, "H": H, "x": str(xdt)[6:], "w": str(wdt)[6:], "bias": bias,
                     "us": {n: round(med[n] * 1e6, 3) for n in names}})
    best = min((n for n in names if n.startswith("r") and not n.endswith("ideal")), key=med.get)
    print(op, T, str(xdt)[6:], str(wdt)[6:], f"committed {copy_us / med['committed']:.3f}", f"best {best} {copy_us / med[best]:.3f}",
          "|", " ".join(f"{n} {copy_us / med[n]:.3f}" for n in names if not n.startswith(("copy", "committed"))), flush=True)
    del prepared, ins
json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy_gbps": copy_gbps,
           "correct_bad": bad, "correct_total": total, "rows": rows_out}, open(sys.argv[1], "w"), indent=1)
