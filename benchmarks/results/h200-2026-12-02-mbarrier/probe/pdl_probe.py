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

# 3) PDL on and off where our samples spread (T 128-1024)
triton_c = load_candidate("triton")
class NoPDL:
    name = "triton-nopdl"
    def declines(self, case): return None
    def method(self, op):
        fn = triton_c.method(op)
        def call(*a):
            with patched(pdl=False):
                return fn(*a)
        return call
peers = [load_candidate(s) for s in ("torch-compile", "compile_peer:Static", "flashinfer", "liger_peer:Liger")]
shapes = [("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 8192), ("rms_norm", "bf16", "fp32", 1.0, 1024, 2048),
          ("rms_norm", "fp16", "fp32", 1.0, 1024, 2048), ("rms_norm", "fp16", "fp16", 0.0, 256, 7168),
          ("rms_norm", "fp16", "fp16", 0.0, 256, 4096), ("rms_norm", "fp16", "fp16", 0.0, 256, 8192),
          ("rms_norm", "fp16", "fp32", 1.0, 128, 6144), ("fused_add_rms_norm", "bf16", "bf16", 0.0, 256, 5120),
          ("rms_norm", "bf16", "fp32", 1.0, 256, 8192), ("fused_add_rms_norm", "bf16", "fp32", 1.0, 256, 2880),
          ("rms_norm", "fp16", "fp32", 1.0, 256, 5125), ("fused_add_rms_norm", "fp16", "fp32", 1.0, 256, 5120)]
pdl = []
for op, dt, wd, bias, T, H in shapes:
    case = Case(op, dt, wd, bias, T, H, 1e-6, residual=op != "rms_norm")
    for seed in (0, 1):
        r, s = timeit([triton_c, NoPDL(), *peers], case, seed)
        print("PDL", case.id, seed, json.dumps(r), flush=True)
        pdl.append(dict(case=case.id, seed=seed, times=r))
out["pdl"] = pdl
json.dump(out, open(sys.argv[1], "w"), indent=1)
