import re, subprocess, pathlib, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.experimental.gluon._runtime import GluonASTSource as ASTSource
from gluon_rms import gluon_rms_kernel
ptxas = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas-blackwell"
for warps, vec, reload in ((4, 8, True), (4, 8, False), (8, 8, True), (2, 8, True)):
    sig = {"x_ptr": "*bf16", "w_ptr": "*bf16", "y_ptr": "*bf16", "eps": "fp32", "H": "constexpr", "VEC": "constexpr", "RELOAD": "constexpr", "USE_PDL": "constexpr"}
    src = ASTSource(fn=gluon_rms_kernel, signature=sig, constexprs=dict(H=8192, VEC=vec, RELOAD=reload, USE_PDL=True),
                    attrs={(i,): [["tt.divisibility", 16]] for i in range(3)})
    k = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps, "launch_pdl": True})
    ptx = k.asm["ptx"]
    pathlib.Path("/tmp/g.ptx").write_text(ptx)
    out = subprocess.run([str(ptxas), "-arch=sm_90a", "-v", "/tmp/g.ptx", "-o", "/tmp/g.cubin"], capture_output=True, text=True).stderr
    r = int(re.search(r"Used (\d+) registers", out).group(1))
    print(warps, vec, reload, "regs", r, "smem", k.metadata.shared, "cp.async", ptx.count("cp.async.c"), "ld.shared", len(re.findall(r"ld\.shared", ptx)), "griddep", ptx.count("griddepcontrol"))
