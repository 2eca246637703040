"""Registers of the rows kernel per plan spec, compiled offline for sm_90a (local triton)."""
import re, subprocess, pathlib, sys, importlib
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from pytest_normfusion.impls.triton import plan as tn
tk = importlib.import_module(sys.argv[1]) if len(sys.argv) > 1 else tn.kernels
common = {"x_ptr": "*{x}", "r_ptr": "*{x}", "w_ptr": "*{w}", "y_ptr": "*{x}", "r_out_ptr": "*{x}"}
rows_sig = dict(common, n_rows="i32", n_cols="i32", x_stride="i32", r_stride="i32", eps="fp32", weight_bias="fp32",
            HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", ROWS="constexpr", BLOCK="constexpr", TAIL="constexpr",
            ROUND_BF16="constexpr", USE_PDL="constexpr", LOOPING="constexpr", SPLIT="constexpr")
ptxas = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas-blackwell"
def regs(p, w, residual):
    sig = {k: v.format(x="bf16", w=w) for k, v in rows_sig.items()}
    ints = [i for i, (k, v) in enumerate(sig.items()) if v.startswith("*") or v == "i32"]
    consts = dict(HAS_RESIDUAL=residual, HAS_WEIGHT=True, ROWS=p.rows, BLOCK=p.block, TAIL=p.tail, LOOPING=p.looping, SPLIT=1, ROUND_BF16=False, USE_PDL=True)
    src = ASTSource(fn=tk._norm_rows_kernel, signature=sig, constexprs=consts, attrs={(i,): [["tt.divisibility", 16]] for i in ints})
    ptx = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": p.num_warps, "launch_pdl": True}).asm["ptx"]
    pathlib.Path("/tmp/k.ptx").write_text(ptx)
    out = subprocess.run([str(ptxas), "-arch=sm_90a", "-v", "/tmp/k.ptx", "-o", "/tmp/k.cubin"], capture_output=True, text=True).stderr
    r = int(re.search(r"Used (\d+) registers", out).group(1))
    per_thread = -(-r // 8) * 8
    ctas = min(32, 65536 // (per_thread * 32 * p.num_warps), 64 // p.num_warps)
    return r, ctas
T = int(sys.argv[2]) if len(sys.argv) > 2 else 1024
for residual, w, H in [(False, "bf16", 8192), (False, "fp32", 8192), (False, "bf16", 4096), (False, "fp32", 4096), (False, "bf16", 5120), (True, "bf16", 4096)]:
    line = []
    for spec in ("r1w4", "r1w8", "r1w16", "r2w8", "r2w16", "r1w8p4", "r2w16p2"):
        p = tn.from_spec(spec, T, H, tn.MAX_SINGLE_PASS, 132)
        if p is None: continue
        r, c = regs(p, w, residual)
        line.append(f"{spec}:{r}r/{c}c/{c*p.rows}rows")
    print("res" if residual else "rms", w, H, " ".join(line), flush=True)
