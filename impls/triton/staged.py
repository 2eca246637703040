"""rms_norm with each row's x staged in shared memory: a Gluon kernel (triton's experimental
dialect, which names shared memory; our Triton kernels cannot). Imported only where a plan
asks for it on an sm_90+ GPU (``plan.launch``); Triton's CPU interpreter does not run Gluon.

One row a program, H a multiple of 16 bytes (a power-of-two block of columns, those past H
masked): x is copied to shared memory (``cp.async``, 16-byte pieces, each thread its own, which
it alone reads back) while the weight loads into registers, summed from there, then read from
shared memory again to be scaled, so that a row's x takes no registers across the sum. At
rms_norm 1024 x 8192 a program holds 44 registers at 8 warps
(triton 3.6, compiled offline) where the rows kernel holds 61; on the H200 the kernel took 7.99 us
against FlashInfer's CuTe-DSL kernel's 8.07 and the rows kernel's 8.41
(benchmarks/results/h200-2026-12-03-gluon/, checked in h200-2026-12-03-staged/).
"""

from __future__ import annotations

from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.ampere import async_copy

# Gluon's names move between triton releases (3.6 has the second of each pair, 3.9 the first):
# the cp.async copy, and the barrier of a program's threads.
_copy_to_shared = getattr(async_copy, "async_load", None) or async_copy.async_copy_global_to_shared
_barrier = getattr(gl, "barrier", None) or gl.thread_barrier


@gluon.jit
def _norm_staged_kernel(
    x_ptr,  # pointer to the input x, (n_rows, x_stride), rows 16-byte aligned, unit column stride
    w_ptr,  # pointer to the weight, (H,) packed (y again, unread, without one)
    y_ptr,  # pointer to the output y, (n_rows, H) packed, x.dtype
    x_stride,  # how much to increase x_ptr when moving by one row
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight: 1.0 is Gemma's (1 + w)
    H: gl.constexpr,  # columns of x, a multiple of VEC
    BLOCK: gl.constexpr,  # H rounded up to a power of two: the columns a program's layout holds
    VEC: gl.constexpr,  # elements of x in 16 bytes
    HAS_WEIGHT: gl.constexpr,  # scale by (w + weight_bias); without it, no scale
    USE_PDL: gl.constexpr,  # programmatic dependent launch: wait for the previous kernel here
):
    layout: gl.constexpr = gl.BlockedLayout([VEC], [32], [gl.num_warps()], [0])
    row = gl.program_id(0).to(gl.int64)
    cols = gl.arange(0, BLOCK, layout=layout)
    ok = (cols < H) if H < BLOCK else None  # whole 16-byte vectors in or out: H is a multiple of VEC
    staged = gl.allocate_shared_memory(x_ptr.dtype.element_ty, [BLOCK], gl.SwizzledSharedLayout(1, 1, 1, [0]))
    if USE_PDL:  # the previous kernel's writes are visible from here on
        gl.inline_asm_elementwise("griddepcontrol.wait; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1)
    _copy_to_shared(staged, x_ptr + row * x_stride + cols, mask=ok)
    async_copy.commit_group()
    w = gl.load(w_ptr + cols, mask=ok) if HAS_WEIGHT else cols  # loads while x arrives
    async_copy.wait_group(0)
    if USE_PDL:  # the next kernel may start its launch; it waits for our writes itself
        gl.inline_asm_elementwise(
            "griddepcontrol.launch_dependents; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1
        )
    s = staged.load(layout).to(gl.float32)
    if H < BLOCK:  # the columns past H were not copied
        s = gl.where(ok, s, 0.0)
    rstd = gl.rsqrt(gl.sum(s * s, axis=0) / H + eps)
    _barrier()  # without it the compiler keeps x in registers rather than read it again
    y = staged.load(layout).to(gl.float32) * rstd
    if HAS_WEIGHT:
        y = y * (w.to(gl.float32) + weight_bias)
    gl.store(y_ptr + row * H + cols, y.to(y_ptr.dtype.element_ty), mask=ok)
