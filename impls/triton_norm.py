"""Our Triton RMSNorm and fused residual-add RMSNorm kernels, their launch plan and launchers.

One kernel body serves both ops (``HAS_RESIDUAL``). Semantics (DESIGN.md 2, profile
fp32 / fp32-sum): statistics in fp32; ``y = s * rsqrt(mean(s^2) + eps) * (w + weight_bias)``
all in fp32 and rounded once; with a residual, ``s = x + r`` in fp32, ``r_out = s``
rounded, and ``y`` from the unrounded ``s``.

Two kernels, chosen by H:
- rows kernel (H up to ``MAX_SINGLE_PASS``): a program holds a block of ``ROWS`` whole
  rows in registers, so x is read once; many rows per block for small H, one for large
  H. A program takes one block, or (``LOOPING``, mid-sized T) loops over several, loading
  its next block while it reduces and stores the current one (``plan`` decides).
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
# The launch plan (benchmarks/tune_triton.py and bench_norms.py on an H100; docs/performance.md):
# - looping, where a row block holds LOOPING_MIN_TILE elements or more, there are
#   more than LOOPING_MIN_BLOCKS_PER_SM blocks a multiprocessor, and x has at most
#   LOOPING_MAX_ELEMENTS: fewer programs than blocks, each looping over blocks and loading
#   its next block while it reduces and stores the current one, the weight loaded once;
#   warps for LOOPING_PER_THREAD elements a thread (twice that with a residual), programs
#   for LOOPING_WARPS_PER_SM warps a multiprocessor, at most LOOPING_MAX_PER_SM;
# - otherwise one block per program. Up to LOOPING_MAX_ELEMENTS: several rows per block
#   when H is small (MIN_TILE), warps from the tile (ELEMENTS_PER_WARP), and twice the rows
#   from MANY_ROWS rows on (MANY_ROWS_RESIDUAL with a residual). Beyond: LARGE_WARPS warps
#   (twice that with a residual and a tile of LOOPING_MIN_TILE; enough for at most
#   LARGE_MAX_PER_THREAD elements a thread), and two rows per block where a quarter or
#   more of the block's columns are masked (no residual): as many bytes in flight.
LOOPING_MIN_TILE = 4096
LOOPING_MIN_BLOCKS_PER_SM = 4
LOOPING_MAX_ELEMENTS = 12 << 20
LOOPING_PER_THREAD = 16
LOOPING_WARPS_PER_SM = 32
LOOPING_MAX_PER_SM = 4
MANY_ROWS = 1024
MANY_ROWS_RESIDUAL = 4096
LARGE_WARPS = 8
LARGE_MAX_PER_THREAD = 64  # elements; more warps where a block holds more
# Multiprocessors assumed in Triton's interpreter, so that CPU runs take the looping plans too.
INTERPRETER_MULTIPROCESSORS = 4
# Chunk of the two-pass kernel and its warps.
CHUNK = 4096
CHUNK_WARPS = 8


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
def _load_block(ptr, stride, row_block, n_rows, cols, col_ok, ROWS: tl.constexpr):
    """Rows ``row_block * ROWS ..`` of a (n_rows, stride) matrix, in its dtype (none past n_rows)."""
    rows = (row_block * ROWS + tl.arange(0, ROWS)).to(tl.int64)  # int64 before the row stride
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    return tl.load(ptr + rows[:, None] * stride + cols[None, :], mask=mask, other=0.0)


@_jit
def _norm_block(
    x,
    r,
    w,
    y_ptr,
    r_out_ptr,
    row_block,
    n_rows,
    n_cols,
    cols,
    col_ok,
    eps,
    weight_bias,
    HAS_RESIDUAL: tl.constexpr,
    HAS_WEIGHT: tl.constexpr,
    ROWS: tl.constexpr,
    ROUND_BF16: tl.constexpr,
):
    """Normalise one loaded row block (``r`` and ``w`` unread without them) and store it."""
    s = x.to(tl.float32)
    if HAS_RESIDUAL:
        s += r.to(tl.float32)
    rows = (row_block * ROWS + tl.arange(0, ROWS)).to(tl.int64)
    mask = (rows < n_rows)[:, None] & col_ok[None, :]
    out_offsets = rows[:, None] * n_cols + cols[None, :]  # outputs are packed
    if HAS_RESIDUAL:
        tl.store(r_out_ptr + out_offsets, _cast_out(s, r_out_ptr.dtype.element_ty, ROUND_BF16), mask=mask)
    rstd = tl.math.rsqrt(_row_sum(s * s, 1) / n_cols + eps)
    y = s * rstd[:, None]
    if HAS_WEIGHT:
        y = y * (w.to(tl.float32) + weight_bias)[None, :]
    tl.store(y_ptr + out_offsets, _cast_out(y, y_ptr.dtype.element_ty, ROUND_BF16), mask=mask)


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
    LOOPING: tl.constexpr,
):
    cols = tl.arange(0, BLOCK)
    col_ok = cols < n_cols
    first = tl.program_id(0)
    if USE_PDL:  # the previous kernel's writes are visible from here on
        tl.extra.cuda.gdc_wait()
    # the weight and the first block are loaded together: one memory latency, not two
    w = tl.load(w_ptr + cols, mask=col_ok, other=0.0) if HAS_WEIGHT else col_ok
    x = _load_block(x_ptr, x_stride, first, n_rows, cols, col_ok, ROWS)
    r = _load_block(r_ptr, r_stride, first, n_rows, cols, col_ok, ROWS) if HAS_RESIDUAL else x
    if USE_PDL:  # the next kernel may start its launch; it waits for our writes itself
        tl.extra.cuda.gdc_launch_dependents()
    if LOOPING:  # fewer programs than blocks: each loads its next block before storing this one
        step = tl.num_programs(0)
        for row_block in range(first, (n_rows + ROWS - 1) // ROWS, step):
            x_now, x = x, _load_block(x_ptr, x_stride, row_block + step, n_rows, cols, col_ok, ROWS)
            r_now = x_now
            if HAS_RESIDUAL:
                r_now, r = r, _load_block(r_ptr, r_stride, row_block + step, n_rows, cols, col_ok, ROWS)
            _norm_block(
                x_now, r_now, w, y_ptr, r_out_ptr, row_block, n_rows, n_cols, cols, col_ok, eps, weight_bias,
                HAS_RESIDUAL, HAS_WEIGHT, ROWS, ROUND_BF16,
            )  # fmt: skip
    else:
        _norm_block(
            x, r, w, y_ptr, r_out_ptr, first, n_rows, n_cols, cols, col_ok, eps, weight_bias,
            HAS_RESIDUAL, HAS_WEIGHT, ROWS, ROUND_BF16,
        )  # fmt: skip


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
    looping: bool = False  # fewer programs than row blocks: each loops, loading its next block early


def plan(
    n_rows: int,
    n_cols: int,
    residual: bool = False,
    max_single_pass: int = MAX_SINGLE_PASS,
    multiprocessors: int = INTERPRETER_MULTIPROCESSORS,
) -> Plan:
    """Kernel, rows per block, warps and programs by T and H (see ``LOOPING_MAX_ELEMENTS``)."""
    block = triton.next_power_of_2(n_cols)
    if block > max_single_pass:
        chunk = min(CHUNK, max_single_pass)
        return Plan(False, 1, chunk, CHUNK_WARPS, n_rows)
    rows = max(1, min(MAX_ROWS, MIN_TILE // block, triton.next_power_of_2(n_rows)))
    warps = max(1, min(MAX_WARPS, rows * block // ELEMENTS_PER_WARP))
    blocks = triton.cdiv(n_rows, rows)
    small = n_rows * n_cols <= LOOPING_MAX_ELEMENTS
    if small and rows * block >= LOOPING_MIN_TILE and blocks > LOOPING_MIN_BLOCKS_PER_SM * multiprocessors:
        per_thread = LOOPING_PER_THREAD * (2 if residual else 1)
        warps = max(4, min(MAX_WARPS, rows * block // (32 * per_thread)))
        per_sm = min(LOOPING_MAX_PER_SM, LOOPING_WARPS_PER_SM // warps)
        return Plan(True, rows, block, warps, per_sm * multiprocessors, looping=True)
    if small:
        if n_rows >= (MANY_ROWS_RESIDUAL if residual else MANY_ROWS) and 2 * rows * block <= max_single_pass:
            rows *= 2
        return Plan(True, rows, block, warps, triton.cdiv(n_rows, rows))
    if not residual and 4 * n_cols <= 3 * block and 2 * rows * block <= max_single_pass:
        rows *= 2
    warps = LARGE_WARPS * (2 if residual and rows * block >= LOOPING_MIN_TILE else 1)
    warps = min(MAX_WARPS, max(warps, rows * block // (32 * LARGE_MAX_PER_THREAD)))
    return Plan(True, rows, block, min(warps, rows * block // 32), triton.cdiv(n_rows, rows))


@functools.cache
def _multiprocessors(device: torch.device) -> int:
    if INTERPRET or device.type != "cuda":
        return INTERPRETER_MULTIPROCESSORS
    return torch.cuda.get_device_properties(device).multi_processor_count


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
        p = launch_plan or plan(n_rows, n_cols, r2 is not None, max_single_pass, _multiprocessors(x.device))
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
                LOOPING=p.looping,
                **flags,
            )
        else:
            _norm_chunks_kernel[(p.programs,)](*args, n_cols, *strides, eps, weight_bias, CHUNK=p.block, **flags)
    shape = x.shape
    return y.view(shape), None if r_out is None else r_out.view(shape)
