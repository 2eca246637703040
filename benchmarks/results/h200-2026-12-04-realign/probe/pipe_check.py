"""The pipelined aligned-body prototype (pipe.py) on the GPU: against fp64 (every head, both weights, with and
without a residual), then timed beside the committed plan and the copy kernel of the same bytes at H 5125."""
import itertools, json, sys, time
import torch
sys.path.insert(0, ".gpuwork/probe")
import pipe
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
CONFIGS = [(4, 4, 2, True), (4, 4, 4, True), (3, 4, 4, True), (2, 4, 4, True), (4, 4, 2, False)]
for (H, T, xdt), (per_sm, warps, stages, one) in (lambda *a: [] if "--skip" in sys.argv else itertools.product(*a))(
    [(5125, 4096, torch.bfloat16), (5125, 37, torch.float16), (5125, 2000, torch.float16), (5125, 1, torch.bfloat16),
     (5123, 64, torch.float32), (5127, 999, torch.float16)],
    [(4, 4, 2, True), (2, 4, 4, True)],
):
    for wdt, res in itertools.product((xdt, torch.float32, None), (False, True)):
        x = torch.randn(T, H, dtype=xdt, device=dev) * 3
        r = torch.randn(T, H, dtype=xdt, device=dev) if res else None
        w = torch.randn(H, dtype=wdt, device=dev) if wdt is not None else None
        yr = ref(x, r, w, 1e-6, 1.0)
        y, ro = pipe.launch(x, r, w, 1e-6, 1.0, per_sm, warps, stages, one_sum=one)
        yc, _ = tn.launch(x, r, w, 1e-6, 1.0)
        eps_out = torch.finfo(xdt).eps
        err = ((y.double() - yr).abs().max() / (yr.abs().max() * eps_out)).item()
        errc = ((yc.double() - yr).abs().max() / (yr.abs().max() * eps_out)).item()
        ok = err <= 2 and torch.isfinite(y).all().item()
        if ro is not None:
            ok &= torch.equal(ro, (x.float() + r.float()).to(xdt))
        total += 1
        bad += not ok
        if not ok or (T == 4096 and wdt is None):
            print(H, T, xdt, wdt, res, (per_sm, warps, stages, one), f"err {err:.2f} (committed {errc:.2f})", "ok" if ok else "BAD", flush=True)
print("correctness: bad", bad, "of", total, flush=True)

l2 = timing.l2_bytes()
copy_gbps = timing.copy_bandwidth()
print("copy GB/s", round(copy_gbps))
PAIRS = ((torch.bfloat16, torch.bfloat16, 0.0), (torch.bfloat16, torch.float32, 1.0),
         (torch.float16, torch.float16, 0.0), (torch.float16, torch.float32, 1.0))
SHAPES = [("rms_norm", 4096, *p) for p in PAIRS] + [("fused_add", T, x, torch.float32, 1.0) for T in (2048, 4096) for x in (torch.bfloat16, torch.float16)]
SHAPES += [("rms_norm", 8192, *p) for p in PAIRS[:2]] + [("rms_norm", 16384, *p) for p in PAIRS[:2]]
rows = []
t0 = time.time()
for op, T, xdt, wdt, bias in SHAPES:
    if time.time() - t0 > float(sys.argv[2]):
        print("budget over"); break
    H = 5125
    res = op == "fused_add"
    nbytes = T * H * 2 * (4 if res else 2)
    sets = timing.rotations(nbytes, l2)
    ins = [(torch.randn(T, H, dtype=xdt, device=dev), torch.randn(T, H, dtype=xdt, device=dev) if res else None,
            torch.randn(H, dtype=wdt, device=dev)) for _ in range(sets)]
    cands = {"committed": lambda x, r, w: tn.launch(x, r, w, 1e-6, bias),
             "copy": (lambda x, r, w: (copy_peer.moved(x), copy_peer.moved(r))) if res else (lambda x, r, w: copy_peer.moved(x))}
    for c in CONFIGS:
        cands["pipe%d-%d-%d-%d" % c] = (lambda c: lambda x, r, w: pipe.launch(x, r, w, 1e-6, bias, *c[:3], one_sum=c[3]))(c)
    names = list(cands)
    prepared = [timing.prepare([(lambda f, a: lambda: f(*a))(cands[n], a) for a in ins]) for n in names]
    res_t = timing.sample_in_blocks(prepared)
    med = {n: t.summary.median for n, t in zip(names, res_t)}
    best = min((n for n in names if n.startswith("pipe")), key=med.get)
    line = {"op": op, "T": T, "H": H, "x": str(xdt)[6:], "w": str(wdt)[6:], "bias": bias,
            "us": {n: round(med[n] * 1e6, 3) for n in names}}
    rows.append(line)
    print(op, T, str(xdt)[6:], str(wdt)[6:], "committed/copy %.3f" % (med["copy"] / med["committed"]),
          "best pipe %s/copy %.3f" % (best, med["copy"] / med[best]), "pipe vs committed %.3f" % (med["committed"] / med[best]),
          {n: round(med[n] * 1e6, 2) for n in names}, flush=True)
    del prepared, ins
json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "copy_gbps": copy_gbps, "rows": rows},
          open(sys.argv[1], "w"), indent=1)
