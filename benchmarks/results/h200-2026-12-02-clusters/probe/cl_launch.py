"""Which cluster launches of triton kernels work: mode given on the command line."""
import sys

import torch
import triton
import triton.language as tl


@triton.jit
def _copy(x_ptr, y_ptr, BLOCK: tl.constexpr):
    i = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    tl.store(y_ptr + i, tl.load(x_ptr + i))


@triton.jit
def _rank(y_ptr):
    r = tl.inline_asm_elementwise("mov.u32 $0, %cluster_ctarank;", "=r,r", [tl.program_id(0)], dtype=tl.int32, is_pure=False, pack=1)
    n = tl.inline_asm_elementwise("mov.u32 $0, %cluster_nctarank;", "=r,r", [tl.program_id(0)], dtype=tl.int32, is_pure=False, pack=1)
    tl.store(y_ptr + tl.program_id(0) * 2, r)
    tl.store(y_ptr + tl.program_id(0) * 2 + 1, n)


mode = sys.argv[1]
x = torch.arange(4096, dtype=torch.float32, device="cuda")
y = torch.zeros_like(x)
try:
    if mode.startswith("patch"):
        pdl = mode.endswith("pdl")
        k = _copy.warmup(x, y, grid=(2,), BLOCK=1024, num_warps=4, launch_pdl=pdl)
        w, c, *rest = k.packed_metadata
        k.packed_metadata = (w, 2, *rest)
        _copy[(2,)](x, y, BLOCK=1024, num_warps=4, launch_pdl=pdl)
    elif mode == "native":
        _copy[(2,)](x, y, BLOCK=1024, num_warps=4, num_ctas=2)
    elif mode == "rank":
        r = torch.full((16,), -1, dtype=torch.int32, device="cuda")
        k = _rank.warmup(r, grid=(4,), num_warps=1)
        w, c, *rest = k.packed_metadata
        k.packed_metadata = (w, 2, *rest)
        _rank[(4,)](r, num_warps=1)
        torch.cuda.synchronize()
        print("ranks", r.tolist())
    elif mode.startswith("override"):
        r = torch.full((16,), -1, dtype=torch.int32, device="cuda")
        ptx = _rank.warmup(r, grid=(4,), num_warps=1).asm["ptx"]
        ptx = ptx.replace(".reqntid 32", ".reqntid 32\n.explicitcluster\n.reqnctapercluster 2", 1)
        assert ".reqnctapercluster 2" in ptx
        path = f"/tmp/{mode}.ptx"
        open(path, "w").write(ptx)
        if mode == "override":
            _rank[(4,)](r, num_warps=1, ir_override=path)
        else:
            k = _rank.warmup(r, grid=(2,), num_warps=1, ir_override=path)
            w, c, *rest = k.packed_metadata
            k.packed_metadata = (w, 2, *rest)
            _rank[(2,)](r, num_warps=1, ir_override=path)
        torch.cuda.synchronize()
        print("ranks", r.tolist())
    torch.cuda.synchronize()
    print(mode, "ok", torch.equal(x[:2048], y[:2048]) if mode != "rank" else "", flush=True)
except Exception as e:  # noqa
    print(mode, "FAILED", str(e)[:200], flush=True)
