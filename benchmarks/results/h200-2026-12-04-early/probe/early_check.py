"""The twentieth run's prototype (early.py) on the GPU: against fp64 and bit for bit against its copies' path,
then timed at H 5125 beside the committed plan and the copy kernel of the same bytes, in one comparison a shape.

    python early_check.py OUT.json BUDGET_S
"""
import itertools, json, sys, time
import torch
sys.path.insert(0, ".gpuwork/probe")
import early
from pytest_normfusion.impls.triton import plan as tn
from pytest_normfusion.perf import timing
import copy_peer

dev = "cuda"
torch.manual_seed(0)


def ref(x, r, w, eps, bias):
    s = x.double() + (r.double() if r is not None else 0)
    y = s * torch.rsqrt(s.pow(2).mean(-1, keepdim=True) + eps)
    return y * (w.double() + bias)


bad = total = 0
for (H, T, xdt), wsame, res in itertools.product(
    [(5125, 4096, torch.bfloat16), (5125, 999, torch.float16), (1027, 300, torch.bfloat16), (5123, 700, torch.float32)],
    (True, False), (False, True),
):
    wdt = xdt if wsame else torch.float32
    x = torch.randn(T, H, dtype=xdt, device=dev) * 3
    r = torch.randn(T, H, dtype=xdt, device=dev) if res else None
    w = torch.randn(H, dtype=wdt, device=dev)
    yr = ref(x, r, w, 1e-6, 1.0)
    base, base_r = early.launch(x, r, w, 1e-6, 1.0, 4)
    for kw in (dict(heads=None), dict(early=T // 3), dict(early=T // 3, xcg=True), dict(heads=early.prebuilt(w, 16 // x.element_size()))):
        y, ro = early.launch(x, r, w, 1e-6, 1.0, 4, **kw)
        err = ((y.double() - yr).abs().max() / (yr.abs().max() * torch.finfo(xdt).eps)).item()
        same = torch.equal(y, base) and (not res or torch.equal(ro, base_r))
        ok = err <= 2 and same and bool(torch.isfinite(y).all())
        total += 1
        bad += not ok
        if not ok:
            print("BAD", H, T, xdt, wdt, res, {k: v for k, v in kw.items() if k != "heads"}, f"err {err:.2f} same {same}", flush=True)
print("correctness: bad", bad, "of", total, flush=True)

l2 = timing.l2_bytes()
copy_gbps = timing.copy_bandwidth()
sms = torch.cuda.get_device_properties(0).multi_processor_count
print("copy GB/s", round(copy_gbps), "SMs", sms, flush=True)
B, F, H16 = torch.bfloat16, torch.float32, torch.float16
SHAPES = [  # op, T, x, weight, bias: the failing shapes first
    ("rms_norm", 4096, B, F, 1.0), ("rms_norm", 4096, B, B, 0.0), ("fused_add", 2048, B, F, 1.0),
    ("rms_norm", 8192, B, F, 1.0), ("rms_norm", 4096, H16, F, 1.0), ("rms_norm", 4096, H16, H16, 0.0),
    ("fused_add", 4096, B, F, 1.0), ("rms_norm", 16384, B, F, 1.0), ("fused_add", 2048, H16, F, 1.0),
    ("rms_norm", 2048, B, F, 1.0), ("rms_norm", 8192, B, B, 0.0), ("fused_add", 2048, B, B, 0.0),
    ("rms_norm", 16384, B, B, 0.0),
]
rows = []
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
        both = torch.randn(2 * T, H, dtype=xdt, device=dev) if res else x  # the same bytes in one launch
        ins.append((x, r, w, early.prebuilt(w, 8), both))
    if res:
        cands = {"committed": lambda x, r, w, h, b: tn.launch(x, r, w, 1e-6, bias),
                 "copy": lambda x, r, w, h, b: copy_peer.moved(b),
                 "copy2": lambda x, r, w, h, b: (copy_peer.moved(x), copy_peer.moved(r))}
    else:
        cands = {"committed": lambda x, r, w, h, b: tn.launch(x, None, w, 1e-6, bias),
                 "copy": lambda x, r, w, h, b: copy_peer.moved(x)}
    variants = {"heads": dict(), "ideal": dict(heads="pre"), "elem": dict(heads=None),
                "early2": dict(early=2 * sms), "early4": dict(early=4 * sms), "early6": dict(early=6 * sms),
                "cg-heads": dict(xcg=True), "cg-ideal": dict(xcg=True, heads="pre"), "cg-elem": dict(xcg=True, heads=None),
                "cg-early4": dict(xcg=True, early=4 * sms)}
    for name, kw in variants.items():
        def call(x, r, w, h, b, kw=kw):
            k = dict(kw)
            if k.get("heads") == "pre":
                k["heads"] = h
            return early.launch(x, r, w, 1e-6, bias, 4, **k)
        cands[name] = call
    names = list(cands)
    prepared = [timing.prepare([(lambda f, a: lambda: f(*a))(cands[n], a) for a in ins]) for n in names]
    med = {n: t.summary.median for n, t in zip(names, timing.sample_in_blocks(prepared))}
    copy_us = min(med[n] for n in names if n.startswith("copy"))
    rows.append({"op": op, "T": T, "H": H, "x": str(xdt)[6:], "w": str(wdt)[6:], "bias": bias,
                 "us": {n: round(med[n] * 1e6, 3) for n in names}})
    print(op, T, str(xdt)[6:], str(wdt)[6:], "copy/x:",
          " ".join(f"{n} {copy_us / med[n]:.3f}" for n in names if not n.startswith("copy")),
          "| us", {n: round(med[n] * 1e6, 2) for n in names}, flush=True)
    del prepared, ins
json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy_gbps": copy_gbps, "sms": sms,
           "correct_bad": bad, "correct_total": total, "rows": rows}, open(sys.argv[1], "w"), indent=1)
