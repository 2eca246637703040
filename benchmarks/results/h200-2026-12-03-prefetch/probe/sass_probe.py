"""Compile the aligned-body kernel for sm_90 here (no GPU) and count its SASS instructions."""
import re, sys, collections
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from pytest_normfusion.impls.triton import kernels

def build(xdt, wdt, res, heads, shift, warps=4, block=4096, tail=1024, loop=False, prefetch=False):
    sig = {"x_ptr": f"*{xdt}", "r_ptr": f"*{xdt}", "w_ptr": f"*{wdt}", "y_ptr": f"*{xdt}", "r_out_ptr": f"*{xdt}",
           "n_rows": "i32", "n_cols": "i32", "eps": "fp32", "weight_bias": "fp32", "w_heads_ptr": f"*{wdt}", "w_heads_stride": "i32"}
    consts = dict(HAS_RESIDUAL=res, HAS_WEIGHT=True, VEC=8 if xdt != "fp32" else 4, BLOCK=block, TAIL=tail, ROUND_BF16=False,
                  USE_PDL=True, LOOPING=loop, WEIGHT_FIRST=False, WEIGHT_HEADS=heads)
    for k, v in consts.items():
        sig[k] = "constexpr"
    attrs = {(i,): [["tt.divisibility", 16]] for i in (0, 1, 2, 3, 4, 9)}
    attrs[(10,)] = [["tt.divisibility", 16]]
    src = ASTSource(kernels._norm_aligned_body_kernel, sig, consts, attrs)
    return triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})


def regs(k):
    """Registers a thread, from the compiled kernel's resource usage."""
    import subprocess, os
    bin = os.path.dirname(triton.__file__) + "/backends/nvidia/bin/"
    open("/tmp/k.cubin", "wb").write(k.asm["cubin"])
    res = subprocess.run([bin + "cuobjdump", "-res-usage", "/tmp/k.cubin"], capture_output=True, text=True).stdout
    return re.search(r"REG:(\d+)", res).group(1)

variants = [("heads", dict(heads=True, shift=False)), ("elem", dict(heads=False, shift=False)),
            ("loop4", dict(heads=False, shift=False, loop=True)), ("loop8", dict(heads=False, shift=False, loop=True, warps=8))]
for name, kw in variants:
    for wdt, res in (("bf16", False), ("fp32", False), ("bf16", True)):
        k = build("bf16", wdt, res, **kw)
        import subprocess, os, tempfile
        bin = os.path.dirname(triton.__file__) + "/backends/nvidia/bin/"
        open("/tmp/k.cubin", "wb").write(k.asm["cubin"])
        sass = subprocess.run([bin + "cuobjdump", "-sass", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        res = subprocess.run([bin + "cuobjdump", "-res-usage", "/tmp/k.cubin"], capture_output=True, text=True).stdout
        regs = re.search(r"REG:(\d+)", res).group(1)
        ttgir = k.asm["ttgir"]
        ops = collections.Counter(re.findall(r"^\s+/\*[0-9a-f]+\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)", sass, re.M))
        ld = {o: c for o, c in ops.items() if o.startswith(("LDG", "STG", "LDS", "STS", "SEL", "SHFL", "PRMT", "BAR"))}
        print(name, wdt, "res" if res else "", "regs", regs, "smem", k.metadata.shared, "convert_layout", ttgir.count("convert_layout"),
              "total", sum(ops.values()), dict(sorted(ld.items())))
        open(f"/tmp/k_{name}_{wdt}.ttgir", "w").write(ttgir)
        open(f"/tmp/k_{name}_{wdt}.sass", "w").write(sass)
