"""Probe (not shipped): 1) the cluster kernel's mbarrier exchange against fp64 and the rows
kernel; 2) where a T=1 call's time goes (exchange variants); 3) PDL on/off at T 128-1024."""
import contextlib, functools, json, math, sys, time
import torch
from pytest_normfusion.core.case import Case
from pytest_normfusion.impls.triton import kernels as K, plan as tn
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep

out = {}
dev = torch.device("cuda")
mp = torch.cuda.get_device_properties(0).multi_processor_count

def ref(x, r, w, eps, bias):
    s = x.double() + (r.double() if r is not None else 0)
    y = s * torch.rsqrt((s * s).mean(-1, keepdim=True) + eps)
    if w is not None:
        y = y * (w.double() + bias)
    return y, s

def ulp_dist(a, b):  # in units of a's dtype ulp at |b|
    a64, b64 = a.double(), b.double()
    fin = torch.finfo(a.dtype)
    e = torch.floor(torch.log2(b64.abs().clamp_min(fin.tiny)))
    u = torch.pow(2.0, e - (fin.bits - 1 - (8 if a.dtype == torch.bfloat16 else 5 if a.dtype == torch.float16 else 8)))
    return ((a64 - b64).abs() / u).max().item()

# 1) correctness
t0 = time.time(); worst = {}; bad = []; n = 0
dts = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
for T in (1, 3):
    for H in (1000, 2048, 5125, 8192):
        for dn, dt in dts.items():
            for wk in ("x", "fp32", "none"):
                for res in (False, True):
                    configs = ((2, 4), (5, 2), (8, 4), (8, 1)) if dn == "bf16" and H != 1000 else ((8, 4),)
                    for parts, warps in configs:
                        try:
                            p = tn.cluster(T, H, parts, warps)
                        except ValueError:
                            continue
                        g = torch.Generator(device="cuda").manual_seed(n)
                        x = torch.randn(T, H, device="cuda", generator=g).to(dt)
                        r = torch.randn(T, H, device="cuda", generator=g).to(dt) if res else None
                        w = None if wk == "none" else (torch.randn(H, device="cuda", generator=g) * 0.1).to(dt if wk == "x" else torch.float32)
                        y, ro = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=p)
                        rows_plan = tn.Plan(True, 1, 1 << (H - 1).bit_length(), 4, T)
                        y2, ro2 = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=rows_plan)
                        yr, sr = ref(x, r, w, 1e-6, 1.0)
                        d_rows = ulp_dist(y, y2.double())
                        d_ref = ulp_dist(y, yr)
                        d_rows_ref = ulp_dist(y2, yr)
                        ok_r = True if ro is None else torch.equal(ro, ro2)
                        n += 1
                        worst[dn] = max(worst.get(dn, 0), d_rows)
                        if d_rows > 1.0 or not ok_r or d_ref > max(2.01, d_rows_ref + 1):
                            bad.append((T, H, dn, wk, res, parts, warps, d_rows, d_ref, d_rows_ref, ok_r))
torch.cuda.synchronize()
# many calls in a row and inside a CUDA graph
x = torch.randn(1, 8192, device="cuda").bfloat16(); w = torch.randn(8192, device="cuda")
p = tn.cluster(1, 8192, 8, 4)
y0, _ = tn.launch(x, None, w, 1e-6, 1.0, launch_plan=p)
for _ in range(3000):
    y1, _ = tn.launch(x, None, w, 1e-6, 1.0, launch_plan=p)
torch.cuda.synchronize()
many_ok = torch.equal(y0, y1)
gr = torch.cuda.CUDAGraph()
with torch.cuda.graph(gr):
    ys = [tn.launch(x, None, w, 1e-6, 1.0, launch_plan=p)[0] for _ in range(64)]
for _ in range(20):
    gr.replay()
torch.cuda.synchronize()
graph_ok = all(torch.equal(y0, yy) for yy in ys)
out["check"] = dict(cases=n, worst_vs_rows_ulp=worst, bad=bad, many_calls_equal=many_ok, graph_equal=graph_ok, s=time.time() - t0)
print("CHECK", json.dumps(out["check"]), flush=True)

# 2) where a T=1 call's time goes
OLD_START = "barrier.cluster.arrive.relaxed.aligned;\nmov.u32 $0, $1;"
def old_sum(parts):
    push = "".join(f"mapa.shared::cluster.u32 nf_dst, nf_mine, {k};\n@nf_first st.shared::cluster.f32 [nf_dst], $1;\n" for k in range(parts))
    add = "".join(f"ld.shared.f32 nf_v, [nf_slots+{4 * k}];\nadd.f32 nf_sum, nf_sum, nf_v;\n" for k in range(1, parts))
    return ("{\n" f".shared .align 4 .f32 nf_slots[{parts}];\n"
            ".reg .u32 nf_mine, nf_dst, nf_rank, nf_tid;\n.reg .f32 nf_sum, nf_v;\n.reg .pred nf_first;\n"
            "mov.u32 nf_rank, %cluster_ctarank;\nmov.u32 nf_tid, %tid.x;\nsetp.eq.u32 nf_first, nf_tid, 0;\n"
            "mov.u32 nf_mine, nf_slots;\nmad.lo.u32 nf_mine, nf_rank, 4, nf_mine;\n"
            "barrier.cluster.wait.aligned;\n" f"{push}"
            "barrier.cluster.arrive.release.aligned;\nbarrier.cluster.wait.acquire.aligned;\n"
            "ld.shared.f32 nf_sum, [nf_slots];\n" f"{add}" "mov.f32 $0, nf_sum;\n}")
NONE_START, NONE_SUM = "mov.u32 $0, $1;", "mov.f32 $0, $1;"
WAIT_ONLY_START = OLD_START
WAIT_ONLY_SUM = "barrier.cluster.wait.aligned;\nmov.f32 $0, $1;"

@contextlib.contextmanager
def patched(start=None, summ=None, plain=False, pdl=True):
    saved = (K.cluster_start_ptx, K.cluster_sum_ptx, tn._launch_in_clusters, tn._pdl_flags)
    if start is not None:
        K.cluster_start_ptx = lambda parts: start
    if summ is not None:
        K.cluster_sum_ptx = summ if callable(summ) else (lambda parts: summ)
    if plain:
        tn._launch_in_clusters = lambda kernel, rows, parts, *a, **kw: kernel[(rows * parts,)](*a, **kw)
    if not pdl:
        tn._pdl_flags = lambda device: {"USE_PDL": False}
    try:
        yield
    finally:
        K.cluster_start_ptx, K.cluster_sum_ptx, tn._launch_in_clusters, tn._pdl_flags = saved

class Variant:
    def __init__(self, name, p, **patch):
        self.name, self.p, self.patch = name, p, patch
    def declines(self, case):
        return None
    def method(self, op):
        def call(*a):
            with patched(**self.patch):
                if op == "rms_norm":
                    x, w, eps, bias = a
                    return tn.launch(x, None, w, eps, bias, launch_plan=self.p)[0]
                x, r, w, eps, bias = a
                return tn.launch(x, r, w, eps, bias, launch_plan=self.p)
        return call

class Empty:
    name = "empty"
    def declines(self, case): return None
    def method(self, op):
        import triton, triton.language as tl
        @triton.jit
        def k(p):
            tl.store(p + tl.program_id(0), 1.0)
        buf = torch.empty(16, device="cuda")
        def call(*a):
            k[(1,)](buf)
            return buf
        return call

def timeit(cands, case, seed=0):
    timed, skipped = sweep.measure_all(cands, case, "cuda", seed)
    return {k: (round(v.summary.median * 1e6, 3), round(v.summary.iqr * 1e6, 3)) for k, v in timed.items()}, skipped

diag = []
for op, H, wd, bias, parts, warps in (("rms_norm", 8192, "fp32", 1.0, 8, 4), ("fused_add_rms_norm", 8192, "fp32", 1.0, 8, 4),
                                      ("rms_norm", 5125, "bf16", 0.0, 6, 2), ("rms_norm", 8192, "bf16", 0.0, 8, 2),
                                      ("fused_add_rms_norm", 8192, "bf16", 0.0, 8, 4)):
    case = Case(op, "bf16", wd, bias, 1, H, 1e-6, residual=op != "rms_norm")
    p = tn.cluster(1, H, parts, warps)
    table = tn.plan(1, H, op != "rms_norm", tn.MAX_SINGLE_PASS, mp, tn.device_table(dev), 2, wd == "fp32")
    cands = [Variant("table", table), Variant("mbar", p), Variant("barrier", p, start=OLD_START, summ=old_sum),
             Variant("wait-only", p, start=WAIT_ONLY_START, summ=WAIT_ONLY_SUM),
             Variant("no-exchange", p, start=NONE_START, summ=NONE_SUM),
             Variant("plain", p, start=NONE_START, summ=NONE_SUM, plain=True),
             Variant("mbar-nopdl", p, pdl=False), Variant("table-nopdl", table, pdl=False), Empty()]
    for k in (2, 4):
        for wv in (1, 2, 4, 8):
            try:
                q = tn.cluster(1, H, 8 if k == 4 else 4, wv) if False else tn.cluster(1, H, {2: 4, 4: 8}[k], wv)
            except ValueError:
                continue
            if q != p and q.num_warps == wv:
                cands.append(Variant(f"mbar-k{q.cluster}w{wv}", q))
    res = {}
    for i in range(0, len(cands), 5):
        r, s = timeit(cands[i:i + 5], case)
        res.update(r)
        if s:
            print("skipped", s, flush=True)
    print("DIAG", case.id, json.dumps(res), flush=True)
    diag.append(dict(case=case.id, table=str(table), times=res))
out["diag"] = diag

json.dump(out, open(sys.argv[1], "w"), indent=1)
