"""A Gluon (triton.experimental.gluon) rms_norm whose row's x is staged in shared memory by cp.async and
read back from there for the scaling pass, the weight in registers: one row a program, H a constant power
of two, 2-byte x and weight, programmatic dependent launch. A probe of whether shared memory (which our
Triton kernels cannot name) lets a program hold more rows a multiprocessor at rms_norm 1024 x 8192."""

from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.ampere import async_copy


@gluon.jit
def gluon_rms_kernel(x_ptr, w_ptr, y_ptr, eps, H: gl.constexpr, VEC: gl.constexpr, RELOAD: gl.constexpr,
                     USE_PDL: gl.constexpr):
    layout: gl.constexpr = gl.BlockedLayout(size_per_thread=[VEC], threads_per_warp=[32],
                                            warps_per_cta=[gl.num_warps()], order=[0])
    smem_layout: gl.constexpr = gl.SwizzledSharedLayout(vec=1, per_phase=1, max_phase=1, order=[0])
    row = gl.program_id(0).to(gl.int64)
    cols = gl.arange(0, H, layout=layout)
    smem = gl.allocate_shared_memory(x_ptr.dtype.element_ty, [H], smem_layout)
    if USE_PDL:
        gl.inline_asm_elementwise("griddepcontrol.wait; // dummy $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1)
    async_copy.async_copy_global_to_shared(smem, x_ptr + row * H + cols)
    async_copy.commit_group()
    w = gl.load(w_ptr + cols)
    async_copy.wait_group(0)
    if USE_PDL:
        gl.inline_asm_elementwise("griddepcontrol.launch_dependents; // dummy $0", "=r", [], dtype=gl.int32,
                                  is_pure=False, pack=1)
    x = smem.load(layout).to(gl.float32)
    rstd = gl.rsqrt(gl.sum(x * x, axis=0) / H + eps)
    if RELOAD:  # a barrier between the loads, so that the compiler loads again, not keeps x
        gl.thread_barrier()
        x = smem.load(layout).to(gl.float32)
    y = x * rstd * w.to(gl.float32)
    gl.store(y_ptr + row * H + cols, y.to(y_ptr.dtype.element_ty))
