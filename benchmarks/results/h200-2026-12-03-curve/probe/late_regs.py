"""Registers of the rows kernel with and without the weight loaded late (probe/late.patch applied), compiled
offline for sm_90a with triton 3.9 and its ptxas-blackwell (CUDA 13.4), not the GPU host's triton 3.6: T 4096,
H 4096-8192, bf16 x, an fp32 or bf16 weight, with and without a residual; prints registers, programs a
multiprocessor and rows in flight per plan spec."""
import re, subprocess, pathlib, itertools
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from pytest_normfusion.impls.triton import kernels as tk, plan as tn
common = {"x_ptr": "*{x}", "r_ptr": "*{x}", "w_ptr": "*{w}", "y_ptr": "*{x}", "r_out_ptr": "*{x}"}
rows_sig = dict(common, n_rows="i32", n_cols="i32", x_stride="i32", r_stride="i32", eps="fp32", weight_bias="fp32",
            HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", ROWS="constexpr", BLOCK="constexpr", TAIL="constexpr",
            ROUND_BF16="constexpr", USE_PDL="constexpr", LOOPING="constexpr", SPLIT="constexpr", WEIGHT_LATE="constexpr")
ptxas = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas-blackwell"
def regs(p, w, residual):
    sig = {k: v.format(x="bf16", w=w) for k, v in rows_sig.items()}
    ints = [i for i, (k, v) in enumerate(sig.items()) if v.startswith("*") or (v == "i32" and k not in ("n_rows", "n_cols"))]
    consts = dict(HAS_RESIDUAL=residual, HAS_WEIGHT=True, ROWS=p.rows, BLOCK=p.block, TAIL=p.tail, LOOPING=False, SPLIT=1, WEIGHT_LATE=p.weight_late, ROUND_BF16=False, USE_PDL=True)
    src = ASTSource(fn=tk._norm_rows_kernel, signature=sig, constexprs=consts, attrs={(i,): [["tt.divisibility", 16]] for i in ints})
    ptx = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": p.num_warps, "launch_pdl": True}).asm["ptx"]
    pathlib.Path("/tmp/k.ptx").write_text(ptx)
    out = subprocess.run([str(ptxas), "-arch=sm_90a", "-v", "/tmp/k.ptx", "-o", "/tmp/k.cubin"], capture_output=True, text=True).stderr
    r = int(re.search(r"Used (\d+) registers", out).group(1))
    per_thread = -(-r // 8) * 8
    ctas = min(32, 65536 // (per_thread * 32 * p.num_warps), 64 // p.num_warps)
    return r, ctas
for residual, w, H in itertools.product((False, True), ("fp32", "bf16"), (4096, 5120, 6144, 7168, 8192)):
    line = []
    for spec in ("r1w4", "r1w8", "r1w16", "r2w8", "r2w16"):
        for late in ("", "l"):
            p = tn.from_spec(spec + late, 4096, H, tn.MAX_SINGLE_PASS, 132)
            r, c = regs(p, w, residual)
            line.append(f"{spec+late}:{r}r/{c}c/{c*p.rows}rows")
    print("res" if residual else "rms", w, H, " ".join(line), flush=True)
