"""Compile the 2-D heads prototype for sm_90 here (no GPU; triton 3.6) and count its registers, barriers and
global loads and stores a thread.

    PYTHONPATH=<kernels shim> python sass_heads2d.py > sass_heads2d.txt
"""
import re, sys, os, subprocess, collections
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
import heads2d

def build(wdt, res, heads, rows, warps):
    sig = {"x_ptr": "*bf16", "r_ptr": "*bf16", "w_ptr": f"*{wdt}", "y_ptr": "*bf16", "r_out_ptr": "*bf16",
           "n_rows": "i32", "n_cols": "i32", "eps": "fp32", "weight_bias": "fp32", "w_heads_ptr": f"*{wdt}", "w_heads_stride": "i32"}
    consts = dict(HAS_RESIDUAL=res, HAS_WEIGHT=True, VEC=8, ROWS=rows, BLOCK=4096, TAIL=1024, USE_PDL=True, WEIGHT_HEADS=heads)
    for k in consts: sig[k] = "constexpr"
    attrs = {(i,): [["tt.divisibility", 16]] for i in (0, 1, 2, 3, 4, 9, 10)}
    return triton.compile(ASTSource(heads2d.heads2d_kernel, sig, consts, attrs), target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})

bin = os.path.dirname(triton.__file__) + "/backends/nvidia/bin/"
for rows, warps in ((1, 4), (2, 4), (2, 8), (4, 8), (4, 16), (2, 16)):
    for wdt, res, heads in (("bf16", False, True), ("fp32", False, True), ("fp32", True, True), ("fp32", False, False)):
        k = build(wdt, res, heads, rows, warps)
        open("/tmp/k.cubin", "wb").write(k.asm["cubin"])
        sass = subprocess.run([bin + "cuobjdump", "-sass", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        r = subprocess.run([bin + "cuobjdump", "-res-usage", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        ops = collections.Counter(re.findall(r"^\s+/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass, re.M))
        ld = {o: c for o, c in ops.items() if o.startswith(("LDG", "STG", "BAR"))}
        print(f"r{rows}w{warps}", wdt, "res" if res else "   ", "heads" if heads else "elem ", "regs", re.search(r"REG:(\d+)", r).group(1), "spill", "STL" in sass, "total", sum(ops.values()), dict(sorted(ld.items())))
