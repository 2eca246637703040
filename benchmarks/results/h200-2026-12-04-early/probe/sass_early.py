"""Compile the prototype for sm_90 here (no GPU; triton 3.6, a shim for the package's kernels module) and count
its registers, barriers and global loads and stores a thread.

    PYTHONPATH=<kernels shim> python sass_early.py > sass_early.txt
"""
import re, sys, os, subprocess, collections
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
import early

def build(wdt, res, heads, early_, xcg, warps=4):
    sig = {"x_ptr": "*bf16", "r_ptr": "*bf16", "w_ptr": f"*{wdt}", "y_ptr": "*bf16", "r_out_ptr": "*bf16",
           "n_rows": "i32", "n_cols": "i32", "eps": "fp32", "weight_bias": "fp32", "w_heads_ptr": f"*{wdt}",
           "w_heads_stride": "i32", "early": "i32"}
    consts = dict(HAS_RESIDUAL=res, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, USE_PDL=True,
                  WEIGHT_HEADS=heads, EARLY=early_, XCG=xcg, GROUP=0)
    for k in consts: sig[k] = "constexpr"
    attrs = {(i,): [["tt.divisibility", 16]] for i in (0, 1, 2, 3, 4, 9, 10)}
    return triton.compile(ASTSource(early.variant_kernel, sig, consts, attrs), target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})

bin = os.path.dirname(triton.__file__) + "/backends/nvidia/bin/"
for name, kw in [("heads", dict(heads=True, early_=False, xcg=False)), ("elem", dict(heads=False, early_=False, xcg=False)),
                 ("early", dict(heads=True, early_=True, xcg=False)), ("heads-cg", dict(heads=True, early_=False, xcg=True)),
                 ("early-cg", dict(heads=True, early_=True, xcg=True))]:
    for wdt, res in (("bf16", False), ("fp32", False), ("fp32", True)):
        k = build(wdt, res, **kw)
        open("/tmp/k.cubin", "wb").write(k.asm["cubin"])
        sass = subprocess.run([bin + "cuobjdump", "-sass", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        r = subprocess.run([bin + "cuobjdump", "-res-usage", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        ops = collections.Counter(re.findall(r"^\s+/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass, re.M))
        ld = {o: c for o, c in ops.items() if o.startswith(("LDG", "STG", "ACQ", "BAR"))}
        print(name, wdt, "res" if res else "", "regs", re.search(r"REG:(\d+)", r).group(1), "total", sum(ops.values()), dict(sorted(ld.items())))
