"""Does TMA (cp.async.bulk.tensor, tiled, 1-D) load and store a box whose start is not 16-byte aligned?

    python tma_unaligned.py unaligned   # the starts of rows of 5125 bf16 (row r at element 5125 r), and one more
    python tma_unaligned.py aligned     # every 8th row's start: a multiple of 8 elements (16 bytes)
"""
import sys

import triton
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.hopper import fence_async_shared, mbarrier, tma

_load = getattr(tma, "async_load", None) or tma.async_copy_global_to_shared
_store = getattr(tma, "async_store", None) or tma.async_copy_shared_to_global
BOX = 256
LAYOUT = gl.NVMMASharedLayout(swizzle_byte_width=0, element_bitwidth=16, rank=1)


@gluon.jit
def probe(x_desc, y_desc, out_ptr, starts_ptr, BOX: gl.constexpr):
    layout: gl.constexpr = gl.BlockedLayout([8], [32], [gl.num_warps()], [0])
    start = gl.load(starts_ptr + gl.program_id(0))
    buf = gl.allocate_shared_memory(x_desc.dtype, [BOX], x_desc.layout)
    bar = gl.allocate_shared_memory(gl.int64, [1], mbarrier.MBarrierLayout())
    mbarrier.init(bar, count=1)
    mbarrier.expect(bar, BOX * 2)
    _load(x_desc, [start], bar, buf)
    mbarrier.wait(bar, 0)
    cols = gl.arange(0, BOX, layout=layout)
    v = buf.load(layout)
    gl.store(out_ptr + gl.program_id(0) * BOX + cols, v)  # what TMA loaded
    gl.thread_barrier() if hasattr(gl, "thread_barrier") else gl.barrier()
    buf.store(v + 1.0)
    fence_async_shared()
    _store(y_desc, [start], buf)  # stored back at the same unaligned start
    tma.store_wait(0)


if __name__ == "__main__":
    import torch
    from triton.experimental.gluon.nvidia.hopper import TensorDescriptor

    print("triton", triton.__version__, "torch", torch.__version__, torch.cuda.get_device_name())
    H = 5125
    x = torch.randn(64 * H, device="cuda", dtype=torch.bfloat16)
    y = torch.zeros_like(x)
    rows = [r * H for r in range(16)] + [H * 8 * 7 + 3] if sys.argv[1] == "unaligned" else [r * 8 * H for r in range(8)]
    starts = torch.tensor(rows, device="cuda", dtype=torch.int32)
    out = torch.empty(len(starts), BOX, device="cuda", dtype=x.dtype)
    xd = TensorDescriptor.from_tensor(x, [BOX], LAYOUT)
    yd = TensorDescriptor.from_tensor(y, [BOX], LAYOUT)
    try:
        probe[(len(starts),)](xd, yd, out, starts, BOX=BOX, num_warps=1)
        torch.cuda.synchronize()
    except Exception as e:  # noqa: BLE001
        print("FAILED", type(e).__name__, str(e)[:500])
        sys.exit(0)
    ok_load = ok_store = 0
    for i, s in enumerate(starts.tolist()):
        ok_load += bool(torch.equal(out[i], x[s : s + BOX]))
        ok_store += bool(torch.equal(y[s : s + BOX], (x[s : s + BOX].float() + 1).to(x.dtype)))
    print("starts", starts.tolist())
    print(f"unaligned TMA: loads right {ok_load}/{len(starts)}, stores right {ok_store}/{len(starts)}")
    for i, s in enumerate(starts.tolist()[:3]):
        print(s, s % 8, out[i, :4].tolist(), x[s : s + 4].tolist())
