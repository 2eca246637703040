"""Our Triton RMSNorm and fused residual-add RMSNorm kernels, their launch plan and launchers.

One kernel body serves both ops (``HAS_RESIDUAL``). Semantics (DESIGN.md 2, profile
fp32 / fp32-sum): statistics in fp32; ``y = s * rsqrt(mean(s^2) + eps) * (w + weight_bias)``
all in fp32 and rounded once; with a residual, ``s = x + r`` in fp32, ``r_out = s``
rounded, and ``y`` from the unrounded ``s``.

Two shapes of program, chosen by H:
- rows kernel (H up to ``MAX_SINGLE_PASS``): a program holds ``ROWS`` whole rows in
  registers, so x is read once; many rows per program for small H, one for large H.
- chunked kernel (larger H): one row per program in ``CHUNK`` pieces, two passes.

Without CUDA the kernels run in Triton's interpreter on CPU tensors (see
``interpreting``); it converts fp32 to bf16 by truncation (triton 3.9: 196 of 400
bf16 outputs 1 ulp low, measured), so there the kernels round to nearest even by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys

import torch

# Turns Triton's CPU interpreter on ("1") or off ("0"); unset: on exactly when CUDA is absent.
INTERPRET_ENV = "NORMFUSION_TRITON_INTERPRET"


def interpreting() -> bool:
    """Whether kernels run in Triton's interpreter (CPU tensors) rather than compiled for a GPU."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True
    setting = os.environ.get(INTERPRET_ENV)
    return setting == "1" if setting is not None else not torch.cuda.is_available()


INTERPRET = interpreting()
if INTERPRET and "triton" not in sys.modules:
    # Triton reads TRITON_INTERPRET once, at its first import, to interpret its own library
    # (tl.sum then runs as one numpy call). Set it only when we import triton first.
    os.environ["TRITON_INTERPRET"] = "1"

import triton  # noqa: E402
import triton.language as tl  # noqa: E402
from triton.runtime.interpreter import InterpretedFunction  # noqa: E402

# Our kernels are interpreted whenever INTERPRET is set, even when triton was imported
# earlier without it (torch._dynamo imports triton): then triton's own library functions
# are compiled-only, and the kernels sum with tl.reduce over our own combine function
# instead of tl.sum (correct, but about 20x slower in the interpreter: measured 23 s
# vs ~1 s for two quick-matrix cases).
_jit = InterpretedFunction if INTERPRET else triton.jit
_LIBRARY_COMPILED_ONLY = INTERPRET and not isinstance(tl.sum, InterpretedFunction)

# Largest power-of-two row kept whole in registers: 16384 fp32 values over 16 warps
# is 32 per thread (64 with the residual), within the register file.
MAX_SINGLE_PASS = 16384
# Elements a rows-kernel program holds at least: several rows per program when H is small.
MIN_TILE = 2048
MAX_ROWS = 64
ELEMENTS_PER_WARP = 512  # 16 per thread: two 16-byte vectors of a half type
MAX_WARPS = 16
# From this many rows on, a program takes twice the rows with the same warps (32 elements
# per thread): fewer weight reloads and more bytes in flight per program. With a residual a
# row already moves twice the bytes, so it pays only later (benchmarks/tune_triton.py, H100).
MANY_ROWS = 1024
MANY_ROWS_RESIDUAL = 4096
# Chunk of the two-pass kernel and its warps.
CHUNK = 4096
CHUNK_WARPS = 8
ELEMENTS_PER_WARP = 512  # 16 per thread: two 16-byte vectors of a half type


if _LIBRARY_COMPILED_ONLY:

    @_jit
    def _add(a, b):
        return a + b

    @_jit
    def _row_sum(v, axis: tl.constexpr):
        """A sum along ``axis`` with our own combine function (see ``_jit``), in fp64: the
        interpreter folds it sequentially, and a sequential fp32 sum of 5125 squares flipped
        0.22 % of fp16 outputs by 1 ulp (measured; the bound is 0.1 %)."""
        return tl.reduce(v.to(tl.float64), axis, _add).to(tl.float32)

else:

    @_jit
    def _row_sum(v, axis: tl.constexpr):
        return tl.sum(v, axis=axis)


@_jit
def _round_bf16(v):
    """fp32 -> the fp32 value of the nearest-even bf16 (exact to convert afterwards)."""
    bits = v.to(tl.uint32, bitcast=True)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.to(tl.float32, bitcast=True)


@_jit
def _cast_out(v, dtype: tl.constexpr, ROUND_BF16: tl.constexpr):
    if ROUND_BF16:
        v = _round_bf16(v)
    return v.to(dtype)


@_jit
def _norm_rows_kernel(
    x_ptr,
    r_ptr,
    w_ptr,
    y_ptr,
    r_out_ptr,
    n_rows,
    n_cols,
    x_stride,
    r_stride,
    eps,
    weight_bias,
    HAS_RESIDUAL: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    ROWS: tl.constexpr,
    BLOCK: tl.constexpr,
    ROUND_BF16: tl.constexpr,
    USE_PDL: tl.constexpr,
):
    rows = tl.program_id(0).to(tl.int64) * ROWS + tl.arange(0, ROWS)
    cols = tl.arange(0, BLOCK)
    col_ok = cols < n_cols
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    if USE_PDL:  # the previous kernel's writes are visible from here on
        tl.extra.cuda.gdc_wait()
    # the weight is loaded with x, not after the reduction: one memory latency instead of two
    if HAS_WEIGHT:
        w = tl.load(w_ptr + cols, mask=col_ok, other=0.0).to(tl.float32) + weight_bias
    s = tl.load(x_ptr + rows[:, None] * x_stride + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        s += tl.load(r_ptr + rows[:, None] * r_stride + cols[None, :], mask=mask, other=0.0).to(tl.float32)
    if USE_PDL:  # the next kernel may start its launch; it waits for our writes itself
        tl.extra.cuda.gdc_launch_dependents()
    out_offsets = rows[:, None] * n_cols + cols[None, :]  # outputs are packed
    if HAS_RESIDUAL:
        tl.store(r_out_ptr + out_offsets, _cast_out(s, r_out_ptr.dtype.element_ty, ROUND_BF16), mask=mask)
    rstd = tl.math.rsqrt(_row_sum(s * s, 1) / n_cols + eps)
    y = s * rstd[:, None]
    if HAS_WEIGHT:
        y = y * w[None, :]
    tl.store(y_ptr + out_offsets, _cast_out(y, y_ptr.dtype.element_ty, ROUND_BF16), mask=mask)


@_jit
def _norm_chunks_kernel(
    x_ptr,
    r_ptr,
    w_ptr,
    y_ptr,
    r_out_ptr,
    n_cols,
    x_stride,
    r_stride,
    eps,
    weight_bias,
    HAS_RESIDUAL: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    CHUNK: tl.constexpr,
    ROUND_BF16: tl.constexpr,
    USE_PDL: tl.constexpr,
):
    row = tl.program_id(0).to(tl.int64)
    x_row, r_row, out_row = x_ptr + row * x_stride, r_ptr + row * r_stride, row * n_cols
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    acc = tl.full([CHUNK], 0.0, tl.float32)
    for start in range(0, n_cols, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < n_cols
        s = tl.load(x_row + cols, mask=ok, other=0.0).to(tl.float32)
        if HAS_RESIDUAL:
            s += tl.load(r_row + cols, mask=ok, other=0.0).to(tl.float32)
            tl.store(r_out_ptr + out_row + cols, _cast_out(s, r_out_ptr.dtype.element_ty, ROUND_BF16), mask=ok)
        acc += s * s
    rstd = tl.math.rsqrt(_row_sum(acc, 0) / n_cols + eps)
    for start in range(0, n_cols, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < n_cols
        s = tl.load(x_row + cols, mask=ok, other=0.0).to(tl.float32)
        if HAS_RESIDUAL:  # the same fp32 sum again (not r_out: that is rounded)
            s += tl.load(r_row + cols, mask=ok, other=0.0).to(tl.float32)
        y = s * rstd
        if HAS_WEIGHT:
            y = y * (tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias)
        tl.store(y_ptr + out_row + cols, _cast_out(y, y_ptr.dtype.element_ty, ROUND_BF16), mask=ok)


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a (T, H) problem is launched."""

    single_pass: bool
    rows: int  # rows per program (1 for the chunked kernel)
    block: int  # columns held per program, a power of two
    num_warps: int
    programs: int


def plan(n_rows: int, n_cols: int, residual: bool = False, max_single_pass: int = MAX_SINGLE_PASS) -> Plan:
    """Block, rows per program and warps by T and H: whole rows in registers up to ``max_single_pass``."""
    block = triton.next_power_of_2(n_cols)
    if block > max_single_pass:
        chunk = min(CHUNK, max_single_pass)
        return Plan(False, 1, chunk, CHUNK_WARPS, n_rows)
    rows = max(1, min(MAX_ROWS, MIN_TILE // block, triton.next_power_of_2(n_rows)))
    warps = max(1, min(MAX_WARPS, rows * block // ELEMENTS_PER_WARP))
    if n_rows >= (MANY_ROWS_RESIDUAL if residual else MANY_ROWS) and 2 * rows * block <= max_single_pass:
        rows *= 2
    return Plan(True, rows, block, warps, triton.cdiv(n_rows, rows))


@functools.cache
def _pdl_flags(device: torch.device) -> dict[str, bool]:
    """Programmatic dependent launch where the GPU has it (sm_90+), as FlashInfer's norms use it:
    our launch overlaps the previous kernel's tail, and ``gdc_wait`` keeps its writes ordered."""
    if INTERPRET or device.type != "cuda" or torch.cuda.get_device_capability(device)[0] < 9:
        return {"USE_PDL": False}
    return {"USE_PDL": True, "launch_pdl": True}


def _rows_2d(name: str, t: torch.Tensor) -> torch.Tensor:
    """A (T, H) view with unit column stride (a copy only when no such view exists)."""
    t2 = t.reshape(-1, t.size(-1)) if t.dim() != 2 else t
    if t2.stride(-1) != 1:
        t2 = t2.contiguous()
    if t2.size(0) > 1 and t2.stride(0) < t2.size(1):
        raise ValueError(f"{name} rows overlap (row stride {t2.stride(0)} < H={t2.size(1)})")
    return t2


def launch(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    max_single_pass: int = MAX_SINGLE_PASS,
    launch_plan: Plan | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(y, r_out)`` (``r_out`` None without a residual); outputs are new, packed, in ``x.dtype``."""
    x2 = _rows_2d("x", x)
    n_rows, n_cols = x2.shape
    r2 = None if residual is None else _rows_2d("residual", residual)
    if r2 is not None and r2.shape != x2.shape:
        raise ValueError(f"residual shape {tuple(residual.shape)} differs from x {tuple(x.shape)}")
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_cols or weight.stride(0) != 1):
        raise ValueError(f"weight must be a packed ({n_cols},) vector, got {tuple(weight.shape)}")
    y = torch.empty((n_rows, n_cols), dtype=x.dtype, device=x.device)
    r_out = None if r2 is None else torch.empty_like(y)
    if y.numel():
        p = launch_plan or plan(n_rows, n_cols, r2 is not None, max_single_pass)
        args = (
            x2,
            x2 if r2 is None else r2,  # unread without a residual
            y if weight is None else weight,  # unread without a weight
            y,
            y if r_out is None else r_out,  # unwritten without a residual
        )
        strides = (x2.stride(0), x2.stride(0) if r2 is None else r2.stride(0))
        flags = dict(
            HAS_RESIDUAL=r2 is not None,
            HAS_WEIGHT=weight is not None,
            ROUND_BF16=INTERPRET and x.dtype == torch.bfloat16,
            num_warps=p.num_warps,
            **_pdl_flags(x.device),
        )
        if p.single_pass:
            _norm_rows_kernel[(p.programs,)](
                *args,
                n_rows,
                n_cols,
                *strides,
                eps,
                weight_bias,
                ROWS=p.rows,
                BLOCK=p.block,
                **flags,
            )
        else:
            _norm_chunks_kernel[(p.programs,)](*args, n_cols, *strides, eps, weight_bias, CHUNK=p.block, **flags)
    shape = x.shape
    return y.view(shape), None if r_out is None else r_out.view(shape)
