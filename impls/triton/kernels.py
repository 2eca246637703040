"""Our Triton RMSNorm and fused residual-add RMSNorm kernels (the launch plan and launcher: ``plan``).

One kernel body serves both ops (``HAS_RESIDUAL``). Semantics (DESIGN.md 2, profile
fp32 / fp32-sum): statistics in fp32; ``y = s * rsqrt(mean(s^2) + eps) * (w + weight_bias)``
all in fp32 and rounded once; with a residual, ``s = x + r`` in fp32, ``r_out = s``
rounded, and ``y`` from the unrounded ``s``.

Four kernels:
- rows kernel: a program holds a block of ``ROWS`` whole rows in registers, so x is
  read once; a program takes one block, or (``LOOPING``) loops over several, loading
  its next block while it reduces and stores the current one, or (``SPLIT``, few rows)
  shares a block with other programs, each reading it whole for the sum of squares
  and loading the weight for, and storing, its own share of the columns (a row's
  bytes over several multiprocessors, where one alone is bound by its own bandwidth).
  A row is held as a power-of-two piece of ``BLOCK`` columns and, where H is not a
  power of two, a ``TAIL`` piece (5120 = 4096 + 1024): fewer idle lanes and registers
  than one power-of-two block of 8192;
- chunked kernel: one row per program in ``CHUNK`` pieces, two passes, the second
  re-reading the row from L2 (any H; faster than the rows kernel at large T for some H);
  H is a compile-time constant there (a compile per H), so its chunk loops unroll and only
  a last part chunk is masked: 1-2 % faster than with H a runtime argument on the H200;
- aligned-body kernel: packed rows where H is not a multiple of 16 bytes, so that the rows
  kernel's loads and stores would be element by element: a row's 16-byte aligned body in
  vectors, its head and tail (under 16 bytes each) one by one; programs that loop take
  rows of one head, loading the weight once and each row while they normalise the one
  before; one row a program (or two rows of one head, loaded together) loads the weight
  shifted by its head element by element, or in vectors from copies of the weight shifted by each
  head that a small kernel writes first (``_weight_heads_kernel``);
- cluster kernel: one row over a thread-block cluster (sm_90+) of programs that each load
  only their share of its columns and send their partial sum of squares to every program of
  the cluster (distributed shared memory: asynchronous stores counted on each program's
  mbarrier, inline PTX ``cluster_start_ptx`` and ``cluster_sum_ptx``): a row's bytes over
  several multiprocessors without any program reading the whole row (few rows). Not in the
  interpreter.

In Triton's interpreter (``interpret``; CPU tensors) fp32 converts to bf16 by truncation
(triton 3.9: 196 of 400 bf16 outputs 1 ulp low, measured), so there the kernels round
to nearest even by hand (``ROUND_BF16``). Import this module after ``interpret.enable()``
where the interpreter should interpret triton's own library too.
"""

from __future__ import annotations

import functools

import triton
import triton.language as tl
from triton.runtime.interpreter import InterpretedFunction

from pytest_normfusion.impls.triton.interpret import interpreting

INTERPRET = interpreting()
# Our kernels are interpreted whenever INTERPRET is set, even when triton was imported
# earlier without TRITON_INTERPRET (torch._dynamo imports triton): then triton's own library
# functions are compiled-only, and the kernels sum with tl.reduce over our own combine
# function instead of tl.sum (correct, but about 20x slower in the interpreter: measured
# 23 s vs ~1 s for two quick-matrix cases).
_jit = InterpretedFunction if INTERPRET else triton.jit
_LIBRARY_COMPILED_ONLY = INTERPRET and not isinstance(tl.sum, InterpretedFunction)


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
def _store_block(ptr, rows, row_ok, n_cols, cols, col_ok, v, ROUND_BF16: tl.constexpr):
    """Store ``v`` at ``rows`` (int64) x ``cols`` of a packed (n_rows, n_cols) matrix, in its dtype."""
    tl.store(
        ptr + rows[:, None] * n_cols + cols[None, :],
        _cast_out(v, ptr.dtype.element_ty, ROUND_BF16),
        mask=row_ok & col_ok[None, :],
    )


@_jit
def _norm_block(
    x,  # the loaded (ROWS, BLOCK) block of x, in x.dtype
    r,  # the loaded block of the residual (x without one)
    w,  # the loaded (BLOCK,) weight (unused without one)
    xt,  # the (ROWS, TAIL) tail piece of x, r and w (unused where TAIL is 0)
    rt,
    wt,
    y_ptr,  # pointer to the output y, packed
    r_out_ptr,  # pointer to the residual output, packed
    row_block,  # which block of ROWS rows this is
    n_rows,  # rows of x
    n_cols,  # columns of x (H)
    cols,  # column indices of the block, arange(0, BLOCK)
    col_ok,  # cols < n_cols, and of this program's share where programs split a block (stores only)
    tail_cols,  # column indices of the tail piece, BLOCK + arange(0, TAIL)
    tail_ok,  # tail_cols < n_cols
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight
    HAS_RESIDUAL: tl.constexpr,  # store s = x + r to r_out too
    HAS_WEIGHT: tl.constexpr,  # scale by (w + weight_bias)
    ROWS: tl.constexpr,  # rows in the block
    TAIL: tl.constexpr,  # columns of the tail piece (0: none)
    ROUND_BF16: tl.constexpr,  # round to nearest even by hand before a bf16 store
):
    """Normalise one loaded row block (``r`` and ``w`` unread without them) and store it."""
    rows = (row_block * ROWS + tl.arange(0, ROWS)).to(tl.int64)
    row_ok = (rows < n_rows)[:, None]
    s = x.to(tl.float32)
    if HAS_RESIDUAL:
        s += r.to(tl.float32)
        _store_block(r_out_ptr, rows, row_ok, n_cols, cols, col_ok, s, ROUND_BF16)
    sum_sq = _row_sum(s * s, 1)
    if TAIL > 0:
        st = xt.to(tl.float32)
        if HAS_RESIDUAL:
            st += rt.to(tl.float32)
            _store_block(r_out_ptr, rows, row_ok, n_cols, tail_cols, tail_ok, st, ROUND_BF16)
        sum_sq += _row_sum(st * st, 1)
    rstd = tl.math.rsqrt(sum_sq / n_cols + eps)
    y = s * rstd[:, None]
    if HAS_WEIGHT:
        y = y * (w.to(tl.float32) + weight_bias)[None, :]
    _store_block(y_ptr, rows, row_ok, n_cols, cols, col_ok, y, ROUND_BF16)
    if TAIL > 0:
        yt = st * rstd[:, None]
        if HAS_WEIGHT:
            yt = yt * (wt.to(tl.float32) + weight_bias)[None, :]
        _store_block(y_ptr, rows, row_ok, n_cols, tail_cols, tail_ok, yt, ROUND_BF16)


@_jit
def _norm_rows_kernel(
    x_ptr,  # pointer to the input x, (n_rows, x_stride) with unit column stride
    r_ptr,  # pointer to the residual (x again, unread, without one)
    w_ptr,  # pointer to the weight, (n_cols,) packed, x.dtype or fp32 (unread without one)
    y_ptr,  # pointer to the output y, (n_rows, n_cols) packed, x.dtype
    r_out_ptr,  # pointer to the residual output x + r, like y (unwritten without a residual)
    n_rows,  # rows of x (tokens, T)
    n_cols,  # columns of x (hidden size, H)
    x_stride,  # how much to increase x_ptr when moving by one row
    r_stride,  # how much to increase r_ptr when moving by one row
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight: 1.0 is Gemma's (1 + w)
    HAS_RESIDUAL: tl.constexpr,  # fused residual add: s = x + r, stored to r_out
    HAS_WEIGHT: tl.constexpr,  # scale by (w + weight_bias); without it, no scale
    ROWS: tl.constexpr,  # rows in a program's block
    BLOCK: tl.constexpr,  # columns of the first piece of a row, a power of two (>= n_cols without a tail)
    TAIL: tl.constexpr,  # columns of the second piece, a power of two >= n_cols - BLOCK (0: none)
    ROUND_BF16: tl.constexpr,  # round to nearest even by hand before a bf16 store (interpreter)
    USE_PDL: tl.constexpr,  # programmatic dependent launch (sm_90+): wait for the previous kernel here
    LOOPING: tl.constexpr,  # fewer programs than blocks: each loops, loading its next block early
    SPLIT: tl.constexpr,  # programs a row block (not LOOPING, no TAIL): each writes 1/SPLIT of its columns
):
    cols = tl.arange(0, BLOCK)
    col_ok = cols < n_cols
    tail_cols = BLOCK + tl.arange(0, TAIL if TAIL > 0 else 1)
    tail_ok = tail_cols < n_cols
    first = tl.program_id(0) // SPLIT
    own = col_ok  # the columns this program weights and stores
    if SPLIT > 1:  # every program of a block reads it whole, for the same sum, in the same order
        own = col_ok & (cols // (BLOCK // SPLIT) == tl.program_id(0) % SPLIT)
    if USE_PDL:  # the previous kernel's writes are visible from here on
        tl.extra.cuda.gdc_wait()
    # the weight and the first block are loaded together: one memory latency, not two
    w = tl.load(w_ptr + cols, mask=own, other=0.0) if HAS_WEIGHT else col_ok
    x = _load_block(x_ptr, x_stride, first, n_rows, cols, col_ok, ROWS)
    r = _load_block(r_ptr, r_stride, first, n_rows, cols, col_ok, ROWS) if HAS_RESIDUAL else x
    wt, xt, rt = w, x, r  # unused without a tail
    if TAIL > 0:
        wt = tl.load(w_ptr + tail_cols, mask=tail_ok, other=0.0) if HAS_WEIGHT else tail_ok
        xt = _load_block(x_ptr, x_stride, first, n_rows, tail_cols, tail_ok, ROWS)
        rt = _load_block(r_ptr, r_stride, first, n_rows, tail_cols, tail_ok, ROWS) if HAS_RESIDUAL else xt
    if USE_PDL:  # the next kernel may start its launch; it waits for our writes itself
        tl.extra.cuda.gdc_launch_dependents()
    if LOOPING:  # fewer programs than blocks: each loads its next block before storing this one
        step = tl.num_programs(0)
        for row_block in range(first, (n_rows + ROWS - 1) // ROWS, step):
            nxt = row_block + step
            x_now, x = x, _load_block(x_ptr, x_stride, nxt, n_rows, cols, col_ok, ROWS)
            r_now = x_now
            if HAS_RESIDUAL:
                r_now, r = r, _load_block(r_ptr, r_stride, nxt, n_rows, cols, col_ok, ROWS)
            xt_now, rt_now = xt, rt
            if TAIL > 0:
                xt_now, xt = xt, _load_block(x_ptr, x_stride, nxt, n_rows, tail_cols, tail_ok, ROWS)
                rt_now = xt_now
                if HAS_RESIDUAL:
                    rt_now, rt = rt, _load_block(r_ptr, r_stride, nxt, n_rows, tail_cols, tail_ok, ROWS)
            _norm_block(
                x_now, r_now, w, xt_now, rt_now, wt, y_ptr, r_out_ptr, row_block, n_rows, n_cols,
                cols, col_ok, tail_cols, tail_ok, eps, weight_bias, HAS_RESIDUAL, HAS_WEIGHT, ROWS, TAIL, ROUND_BF16,
            )  # fmt: skip
    else:
        _norm_block(
            x, r, w, xt, rt, wt, y_ptr, r_out_ptr, first, n_rows, n_cols,
            cols, own, tail_cols, tail_ok, eps, weight_bias, HAS_RESIDUAL, HAS_WEIGHT, ROWS, TAIL, ROUND_BF16,
        )  # fmt: skip


@_jit
def _aligned_row(
    x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr,  # as in _norm_aligned_body_kernel
    start,  # the row's first element
    head,  # columns before the row's first 16-byte boundary
    n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok,  # the row's pieces and their masks
    w, wt, we,  # the weight + bias at the pieces' columns, loaded (not LOAD_WEIGHT)
    eps, weight_bias,
    w_heads_ptr, w_heads_stride,  # as in _norm_aligned_body_kernel
    HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, VEC: tl.constexpr,
    LOAD_WEIGHT: tl.constexpr,  # load the weight here, after x and r (one row a program, several waves)
    ROUND_BF16: tl.constexpr, USE_PDL: tl.constexpr,  # USE_PDL: let the next kernel launch after the loads
    WEIGHT_HEADS: tl.constexpr,
):  # fmt: skip
    """Normalise and store one row of the aligned-body kernel."""
    body = tl.multiple_of(start + head, VEC)
    s, st, se = _summed_pieces(
        x_ptr, r_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, HAS_RESIDUAL
    )
    w, wt, we = _weight_then_release(
        w, wt, we, w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
        w_heads_ptr, w_heads_stride, HAS_WEIGHT, VEC, LOAD_WEIGHT, USE_PDL, WEIGHT_HEADS,
    )  # fmt: skip
    _normalise_row(
        s, st, se, w, wt, we, y_ptr, r_out_ptr, body, start, n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok,
        eps, HAS_RESIDUAL, HAS_WEIGHT, ROUND_BF16,
    )  # fmt: skip


@_jit
def _aligned_pair(
    x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr,  # as in _norm_aligned_body_kernel
    start,  # the first row's first element; the second row starts VEC rows later (the same head)
    first_ok, second_ok,  # whether each row is in x
    head, n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok,  # as in _aligned_row
    w, wt, we, eps, weight_bias, w_heads_ptr, w_heads_stride,
    HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, VEC: tl.constexpr, LOAD_WEIGHT: tl.constexpr,
    ROUND_BF16: tl.constexpr, USE_PDL: tl.constexpr, WEIGHT_HEADS: tl.constexpr,
):  # fmt: skip
    """Normalise and store two rows of one head of the aligned-body kernel, VEC rows apart: both
    loaded before either is stored, the weight loaded once for both."""
    after = start + VEC * n_cols
    body, body_after = tl.multiple_of(start + head, VEC), tl.multiple_of(after + head, VEC)
    # a row's masks where it is in x (tensors, as the interpreter's masks want)
    m, mt, me = tl.where(first_ok, ok, False), tl.where(first_ok, tail_ok, False), tl.where(first_ok, edge_ok, False)
    n, nt, ne = tl.where(second_ok, ok, False), tl.where(second_ok, tail_ok, False), tl.where(second_ok, edge_ok, False)
    s, st, se = _summed_pieces(x_ptr, r_ptr, body, start, cols, m, tail_cols, mt, edge_cols, me, HAS_RESIDUAL)
    u, ut, ue = _summed_pieces(x_ptr, r_ptr, body_after, after, cols, n, tail_cols, nt, edge_cols, ne, HAS_RESIDUAL)
    w, wt, we = _weight_then_release(
        w, wt, we, w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
        w_heads_ptr, w_heads_stride, HAS_WEIGHT, VEC, LOAD_WEIGHT, USE_PDL, WEIGHT_HEADS,
    )  # fmt: skip
    _normalise_row(
        s, st, se, w, wt, we, y_ptr, r_out_ptr, body, start, n_cols, cols, m, tail_cols, mt, edge_cols, me,
        eps, HAS_RESIDUAL, HAS_WEIGHT, ROUND_BF16,
    )  # fmt: skip
    _normalise_row(
        u, ut, ue, w, wt, we, y_ptr, r_out_ptr, body_after, after, n_cols, cols, n, tail_cols, nt, edge_cols, ne,
        eps, HAS_RESIDUAL, HAS_WEIGHT, ROUND_BF16,
    )  # fmt: skip


@_jit
def _weight_then_release(
    w, wt, we,  # the weight + bias at a row's pieces, loaded already (not LOAD_WEIGHT)
    w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias, w_heads_ptr, w_heads_stride,
    HAS_WEIGHT: tl.constexpr, VEC: tl.constexpr, LOAD_WEIGHT: tl.constexpr, USE_PDL: tl.constexpr,
    WEIGHT_HEADS: tl.constexpr,
):  # fmt: skip
    """After a program's rows are loaded: its weight where LOAD_WEIGHT, then (USE_PDL) let the next kernel launch."""
    if HAS_WEIGHT and LOAD_WEIGHT:
        w, wt, we = _aligned_weight(
            w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
            w_heads_ptr, w_heads_stride, VEC, WEIGHT_HEADS,
        )  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    return w, wt, we


@_jit
def _summed_pieces(
    x_ptr, r_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, HAS_RESIDUAL: tl.constexpr
):
    """A row's pieces of x (+ r where HAS_RESIDUAL) in fp32, as ``_load_pieces`` loads them."""
    s, st, se = _load_pieces(x_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok)
    if HAS_RESIDUAL:
        r, rt, re = _load_pieces(r_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok)
        s, st, se = s + r, st + rt, se + re
    return s, st, se


@_jit
def _normalise_row(
    s, st, se,  # the row's pieces of x (+ r), in fp32
    w, wt, we,  # the weight + bias at them
    y_ptr, r_out_ptr, body, start, n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, eps,
    HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, ROUND_BF16: tl.constexpr,
):  # fmt: skip
    """Store a loaded row of the aligned-body kernel normalised (and x + r where HAS_RESIDUAL)."""
    if HAS_RESIDUAL:
        _store_pieces(r_out_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, s, st, se, ROUND_BF16)
    sum_sq = _row_sum(s * s, 0) + _row_sum(st * st, 0) + _row_sum(se * se, 0)
    rstd = tl.math.rsqrt(sum_sq / n_cols + eps)
    y, yt, ye = s * rstd, st * rstd, se * rstd
    if HAS_WEIGHT:
        y, yt, ye = y * w, yt * wt, ye * we
    _store_pieces(y_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, y, yt, ye, ROUND_BF16)


@_jit
def _raw_pieces(ptr, start, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, wanted, VEC: tl.constexpr):
    """A row's pieces as ``_load_pieces`` loads them, in the tensor's dtype; none where not ``wanted``."""
    body = tl.multiple_of(start + head, VEC)
    v = tl.load(ptr + body + cols, mask=tl.where(wanted, ok, False), other=0.0)
    vt = tl.load(ptr + body + tail_cols, mask=tl.where(wanted, tail_ok, False), other=0.0)
    ve = tl.load(ptr + start + edge_cols, mask=tl.where(wanted, edge_ok, False), other=0.0)
    return v, vt, ve


@_jit
def _load_pieces(ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok):
    """A row's pieces in fp32: the body's two from ``ptr + body``, the head and tail from ``ptr + start``."""
    v = tl.load(ptr + body + cols, mask=ok, other=0.0).to(tl.float32)
    vt = tl.load(ptr + body + tail_cols, mask=tail_ok, other=0.0).to(tl.float32)
    ve = tl.load(ptr + start + edge_cols, mask=edge_ok, other=0.0).to(tl.float32)
    return v, vt, ve


@_jit
def _store_pieces(
    ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, v, vt, ve, ROUND_BF16: tl.constexpr
):
    """Store a row's pieces (as ``_load_pieces`` loads them) in ``ptr``'s dtype."""
    ty = ptr.dtype.element_ty
    tl.store(ptr + body + cols, _cast_out(v, ty, ROUND_BF16), mask=ok)
    tl.store(ptr + body + tail_cols, _cast_out(vt, ty, ROUND_BF16), mask=tail_ok)
    tl.store(ptr + start + edge_cols, _cast_out(ve, ty, ROUND_BF16), mask=edge_ok)


@_jit
def _aligned_weight(
    w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
    w_heads_ptr, w_heads_stride, VEC: tl.constexpr, WEIGHT_HEADS: tl.constexpr,
):  # fmt: skip
    """The weight + bias at a row's pieces: the body's shifted by the head, element by element
    from the weight, or (``WEIGHT_HEADS``) in vectors from the head's row of the shifted copies."""
    if WEIGHT_HEADS:
        shifted = w_heads_ptr + tl.multiple_of(head * w_heads_stride, VEC)
        w = tl.load(shifted + cols, mask=ok, other=0.0).to(tl.float32)
        wt = tl.load(shifted + tail_cols, mask=tail_ok, other=0.0).to(tl.float32)
        we = tl.load(w_ptr + edge_cols, mask=edge_ok, other=0.0).to(tl.float32)
    else:
        w, wt, we = _load_pieces(w_ptr, head, 0, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok)
    return w + weight_bias, wt + weight_bias, we + weight_bias


@_jit
def _weight_heads_kernel(
    w_ptr,  # pointer to the weight, (n_cols,) packed
    w_heads_ptr,  # pointer to the output, (VEC, stride): row h holds w[h:], then zeros
    n_cols,  # columns of the weight (H)
    stride,  # columns of an output row, a multiple of VEC >= n_cols
    BLOCK: tl.constexpr,  # columns a program copies, a power of two
    USE_PDL: tl.constexpr,  # programmatic dependent launch (sm_90+)
):
    """The weight shifted by each head ``h`` (programs ``(h, k)``, each copying block ``k`` of
    row h): the aligned-body kernel's rows of head h load their body's weight from row h in
    16-byte vectors. Many small programs, not one a head: a few columns a thread, so that this
    kernel, which the aligned-body kernel waits for, ends sooner."""
    head = tl.program_id(0)
    cols = tl.program_id(1) * BLOCK + tl.arange(0, BLOCK)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    w = tl.load(w_ptr + head + cols, mask=head + cols < n_cols, other=0.0)
    tl.store(w_heads_ptr + head * stride + cols, w, mask=cols < stride)


@_jit
def _norm_aligned_body_kernel(
    x_ptr,  # pointer to the input x, (n_rows, n_cols) packed, 16-byte aligned
    r_ptr,  # pointer to the residual, like x (x again, unread, without one)
    w_ptr,  # pointer to the weight, (n_cols,) packed, x.dtype or fp32 (unread without one)
    y_ptr,  # pointer to the output y, like x
    r_out_ptr,  # pointer to the residual output x + r, like y (unwritten without a residual)
    n_rows,  # rows of x (tokens, T)
    n_cols,  # columns of x (hidden size, H), not a multiple of VEC
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight: 1.0 is Gemma's (1 + w)
    w_heads_ptr,  # the weight shifted by each head (_weight_heads_kernel), or the weight again, unread
    w_heads_stride,  # columns of a row of w_heads_ptr, a multiple of VEC
    HAS_RESIDUAL: tl.constexpr,  # fused residual add: s = x + r, stored to r_out
    HAS_WEIGHT: tl.constexpr,  # scale by (w + weight_bias); without it, no scale
    VEC: tl.constexpr,  # elements in 16 bytes
    BLOCK: tl.constexpr,  # columns of the body's first piece, a power of two
    TAIL: tl.constexpr,  # columns of its second piece, a power of two (0: none)
    ROUND_BF16: tl.constexpr,  # round to nearest even by hand before a bf16 store (interpreter)
    USE_PDL: tl.constexpr,  # programmatic dependent launch (sm_90+)
    LOOPING: tl.constexpr,  # fewer programs (a multiple of VEC) than rows: each loops over rows
    WEIGHT_FIRST: tl.constexpr,  # one row a program in one wave: load the weight before x, not after x and r
    WEIGHT_HEADS: tl.constexpr,  # the body's weight in vectors from w_heads_ptr, not element by element
    PAIRS: tl.constexpr,  # not LOOPING: two rows of one head a program, VEC apart
):
    """Packed rows whose starts are not 16-byte aligned (H % VEC != 0): a row's aligned body
    (its columns from the first 16-byte boundary, a multiple of VEC of them) in two pieces
    of 16-byte vectors, its head and tail (fewer than VEC columns each) one by one. Looping,
    a program takes rows ``pid, pid + programs, ..``, which share one head (programs are a
    multiple of VEC), so the weight, shifted by it, is loaded once, and each row's x and r are
    loaded while the row before is normalised and stored. One row a program loads the
    weight after x and r, or before x where the programs are one wave (few rows: its latency
    would add to theirs); element by element, or in vectors from the weight's copy shifted by
    the row's head (``WEIGHT_HEADS``, written by ``_weight_heads_kernel`` just before). In
    ``PAIRS`` a program takes two rows VEC apart, of one head, and loads the weight once for
    both: program p the rows 2 * VEC * (p // VEC) + p % VEC and VEC after it."""
    first = tl.program_id(0)
    start = first.to(tl.int64) * n_cols  # the row's first element (in PAIRS, of the same head as the pair's)
    head = (VEC - start % VEC) % VEC  # columns before the first 16-byte boundary
    n_body = (n_cols - head) // VEC * VEC
    cols = tl.arange(0, BLOCK)
    ok = cols < n_body
    tail_cols = BLOCK + tl.arange(0, TAIL if TAIL > 0 else 1)
    tail_ok = tail_cols < n_body
    # the head (edge < VEC) and the tail after the body, as columns of the row
    edge = tl.arange(0, 2 * VEC)
    edge_cols = tl.where(edge < VEC, edge, head + n_body + edge - VEC)
    edge_ok = tl.where(edge < VEC, edge < head, edge_cols < n_cols)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    w, wt, we = cols, tail_cols, edge  # unused without a weight, or loaded by _aligned_row
    if HAS_WEIGHT and (LOOPING or WEIGHT_FIRST):
        w, wt, we = _aligned_weight(
            w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
            w_heads_ptr, w_heads_stride, VEC, WEIGHT_HEADS,
        )  # fmt: skip
    if LOOPING:  # each row's x and r load while the row before is normalised and stored
        if USE_PDL:
            tl.extra.cuda.gdc_launch_dependents()
        step = tl.num_programs(0)
        # first < n_rows always (programs <= rows); a tensor, as the interpreter masks want
        xs = _raw_pieces(x_ptr, start, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, first < n_rows, VEC)
        rs = xs
        if HAS_RESIDUAL:
            rs = _raw_pieces(r_ptr, start, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, first < n_rows, VEC)
        for row in range(first, n_rows, step):
            after = start + step.to(tl.int64) * n_cols
            more = row + step < n_rows
            xn = _raw_pieces(x_ptr, after, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, more, VEC)
            rn = xn
            if HAS_RESIDUAL:
                rn = _raw_pieces(r_ptr, after, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, more, VEC)
            x, xt, xe = xs
            s, st, se = x.to(tl.float32), xt.to(tl.float32), xe.to(tl.float32)
            if HAS_RESIDUAL:
                r, rt, re = rs
                s, st, se = s + r.to(tl.float32), st + rt.to(tl.float32), se + re.to(tl.float32)
            _normalise_row(
                s, st, se, w, wt, we, y_ptr, r_out_ptr, tl.multiple_of(start + head, VEC), start, n_cols,
                cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, eps, HAS_RESIDUAL, HAS_WEIGHT, ROUND_BF16,
            )  # fmt: skip
            xs, rs, start = xn, rn, after
    elif PAIRS:  # rows 2 * VEC * (first // VEC) + first % VEC and the row VEC after it
        row = first // VEC * VEC + first
        _aligned_pair(
            x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, row.to(tl.int64) * n_cols, row < n_rows, row + VEC < n_rows,
            head, n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, w, wt, we, eps, weight_bias,
            w_heads_ptr, w_heads_stride, HAS_RESIDUAL, HAS_WEIGHT, VEC, not WEIGHT_FIRST, ROUND_BF16, USE_PDL,
            WEIGHT_HEADS,
        )  # fmt: skip
    else:
        _aligned_row(
            x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, start, head, n_cols, cols, ok, tail_cols, tail_ok,
            edge_cols, edge_ok, w, wt, we, eps, weight_bias, w_heads_ptr, w_heads_stride,
            HAS_RESIDUAL, HAS_WEIGHT, VEC, not WEIGHT_FIRST, ROUND_BF16, USE_PDL, WEIGHT_HEADS,
        )  # fmt: skip


@_jit
def _norm_chunks_kernel(
    x_ptr,  # pointer to the input x, (rows, x_stride) with unit column stride; one row per program
    r_ptr,  # pointer to the residual (x again, unread, without one)
    w_ptr,  # pointer to the weight, (n_cols,) packed, x.dtype or fp32 (unread without one)
    y_ptr,  # pointer to the output y, (rows, n_cols) packed, x.dtype
    r_out_ptr,  # pointer to the residual output x + r, like y (unwritten without a residual)
    x_stride,  # how much to increase x_ptr when moving by one row
    r_stride,  # how much to increase r_ptr when moving by one row
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight: 1.0 is Gemma's (1 + w)
    N_COLS: tl.constexpr,  # columns of x (H), a constant: the chunk loop unrolls, only a last part chunk is masked
    HAS_RESIDUAL: tl.constexpr,  # fused residual add: s = x + r, stored to r_out in the second pass
    HAS_WEIGHT: tl.constexpr,  # scale by (w + weight_bias); without it, no scale
    CHUNK: tl.constexpr,  # columns per piece, a power of two
    ROUND_BF16: tl.constexpr,  # round to nearest even by hand before a bf16 store (interpreter)
    USE_PDL: tl.constexpr,  # programmatic dependent launch (sm_90+)
):
    row = tl.program_id(0).to(tl.int64)
    x_row, r_row, out_row = x_ptr + row * x_stride, r_ptr + row * r_stride, row * N_COLS
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    acc = tl.full([CHUNK], 0.0, tl.float32)
    for start in range(0, N_COLS, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < N_COLS
        # kept in L2 for the second pass (as inductor's looped reductions hint it)
        s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
        if HAS_RESIDUAL:
            s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
        acc += s * s
    rstd = tl.math.rsqrt(_row_sum(acc, 0) / N_COLS + eps)
    for start in range(0, N_COLS, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < N_COLS
        s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
        if HAS_RESIDUAL:  # the same fp32 sum again, stored here: the first pass only reads
            s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
            tl.store(r_out_ptr + out_row + cols, _cast_out(s, r_out_ptr.dtype.element_ty, ROUND_BF16), mask=ok)
        y = s * rstd
        if HAS_WEIGHT:
            y = y * (tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias)
        tl.store(y_ptr + out_row + cols, _cast_out(y, y_ptr.dtype.element_ty, ROUND_BF16), mask=ok)


# Bytes before a cluster program's slots in its exchange memory: the mbarrier.
_SLOTS_AT = 8


@functools.cache
def cluster_start_ptx(parts: int) -> str:
    """PTX that ``_norm_cluster_kernel`` runs on entry: declare its exchange memory (an
    mbarrier, then ``parts`` fp32 slots), thread 0 setting the mbarrier to complete once
    ``4 * parts`` bytes have arrived in the slots, make that visible to the cluster and arrive
    (relaxed) at the cluster barrier, whose wait ``cluster_sum_ptx`` passes before writing to
    another program. Its result ($0) is the exchange memory's shared address."""
    return (
        "{\n"
        f".shared .align 8 .b64 nf_mem[{1 + (parts + 1) // 2}];\n"
        ".reg .u32 nf_tid;\n.reg .b64 nf_state;\n.reg .pred nf_first;\n"
        "mov.u32 nf_tid, %tid.x;\nsetp.eq.u32 nf_first, nf_tid, 0;\n"
        "@nf_first mbarrier.init.shared::cta.b64 [nf_mem], 1;\n"
        f"@nf_first mbarrier.arrive.expect_tx.shared::cta.b64 nf_state, [nf_mem], {4 * parts};\n"
        "fence.mbarrier_init.release.cluster;\n"
        "barrier.cluster.arrive.relaxed.aligned;\n"
        "mov.u32 $0, nf_mem;\n}"
    )


@functools.cache
def cluster_sum_ptx(parts: int) -> str:
    """PTX for ``_norm_cluster_kernel``'s exchange: wait until every program of the cluster has
    started (``cluster_start_ptx``'s barrier phase); thread k < ``parts`` stores this program's
    partial sum ($1) into slot ``rank`` of program k's exchange memory ($2), an asynchronous
    store that counts its bytes on program k's mbarrier (one instruction for all ``parts``); wait
    on this program's mbarrier for all ``parts`` slots, and sum them in rank order: every program
    of a row gets the same bits ($0). No cluster barrier after the stores."""
    add = "".join(
        f"ld.shared.f32 nf_v, [nf_base+{_SLOTS_AT + 4 * k}];\nadd.f32 nf_sum, nf_sum, nf_v;\n" for k in range(1, parts)
    )
    return (
        "{\n"
        ".reg .u32 nf_base, nf_mine, nf_dst, nf_bar, nf_rank, nf_tid, nf_to;\n.reg .b32 nf_bits;\n"
        ".reg .f32 nf_sum, nf_v;\n.reg .pred nf_pusher, nf_done;\n"
        "mov.u32 nf_base, $2;\nmov.b32 nf_bits, $1;\n"
        f"mov.u32 nf_rank, %cluster_ctarank;\nmov.u32 nf_tid, %tid.x;\nsetp.lt.u32 nf_pusher, nf_tid, {parts};\n"
        f"rem.u32 nf_to, nf_tid, {parts};\n"
        f"mad.lo.u32 nf_mine, nf_rank, 4, nf_base;\nadd.u32 nf_mine, nf_mine, {_SLOTS_AT};\n"
        "mapa.shared::cluster.u32 nf_dst, nf_mine, nf_to;\nmapa.shared::cluster.u32 nf_bar, nf_base, nf_to;\n"
        "barrier.cluster.wait.aligned;\n"
        "@nf_pusher st.async.shared::cluster.mbarrier::complete_tx::bytes.b32 [nf_dst], nf_bits, [nf_bar];\n"
        "nf_wait:\nmbarrier.try_wait.parity.acquire.cluster.shared::cta.b64 nf_done, [nf_base], 0;\n"
        "@!nf_done bra nf_wait;\n"
        f"ld.shared.f32 nf_sum, [nf_base+{_SLOTS_AT}];\n"
        f"{add}"
        "mov.f32 $0, nf_sum;\n}"
    )


@_jit
def _norm_cluster_kernel(
    x_ptr,  # pointer to the input x, (n_rows, x_stride) with unit column stride
    r_ptr,  # pointer to the residual (x again, unread, without one)
    w_ptr,  # pointer to the weight, (n_cols,) packed, x.dtype or fp32 (unread without one)
    y_ptr,  # pointer to the output y, (n_rows, out_stride), x.dtype
    r_out_ptr,  # pointer to the residual output x + r, like y (unwritten without a residual)
    n_cols,  # columns of x (hidden size, H)
    n_body,  # n_cols rounded down to a multiple of 16: the shares' columns (triton sees it divisible)
    x_stride,  # row strides of x, the residual and the outputs (0 for one row: divisible
    r_stride,  # by 16, so that its loads are 16-byte vectors even where H is not)
    out_stride,
    eps,  # epsilon inside the square root
    weight_bias,  # added to the weight: 1.0 is Gemma's (1 + w)
    HAS_RESIDUAL: tl.constexpr,  # fused residual add: s = x + r, stored to r_out
    HAS_WEIGHT: tl.constexpr,  # scale by (w + weight_bias); without it, no scale
    SHARE: tl.constexpr,  # columns of a program, a power of two; PARTS * SHARE >= n_cols
    PARTS: tl.constexpr,  # programs a row: a cluster, launched as such (``plan._launch_in_clusters``)
    EDGE: tl.constexpr,  # n_body < n_cols: the last program takes the columns past n_body too
    START_PTX: tl.constexpr,  # cluster_start_ptx(PARTS)
    SUM_PTX: tl.constexpr,  # cluster_sum_ptx(PARTS)
    USE_PDL: tl.constexpr,  # programmatic dependent launch (sm_90+)
):
    """One row over a cluster of PARTS programs, program ``rank`` holding columns
    ``rank * SHARE ..`` (below ``n_body``; the last, with ``EDGE``, the rest): each loads only
    its share, and the row's sum of squares is the sum of the programs' partial sums,
    exchanged in distributed shared memory."""
    pid = tl.program_id(0)
    row = (pid // PARTS).to(tl.int64)
    cols = (pid % PARTS) * SHARE + tl.arange(0, SHARE)
    ok = cols < n_body
    edge = n_body + tl.arange(0, 16)
    edge_ok = (edge < n_cols) & (pid % PARTS == PARTS - 1)
    x_row, r_row, out_row = x_ptr + row * x_stride, r_ptr + row * r_stride, row * out_stride
    exchange = tl.inline_asm_elementwise(START_PTX, "=r,r", [pid], dtype=tl.int32, is_pure=False, pack=1)
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    w, we = cols, edge  # unused without a weight
    if HAS_WEIGHT:
        w = tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias
        if EDGE:
            we = tl.load(w_ptr + edge, mask=edge_ok, other=0.0).to(tl.float32) + weight_bias
    s = tl.load(x_row + cols, mask=ok, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        s += tl.load(r_row + cols, mask=ok, other=0.0).to(tl.float32)
    partial = tl.sum(s * s, 0)
    if EDGE:
        se = tl.load(x_row + edge, mask=edge_ok, other=0.0).to(tl.float32)
        if HAS_RESIDUAL:
            se += tl.load(r_row + edge, mask=edge_ok, other=0.0).to(tl.float32)
        partial += tl.sum(se * se, 0)
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    if HAS_RESIDUAL:
        tl.store(r_out_ptr + out_row + cols, s.to(r_out_ptr.dtype.element_ty), mask=ok)
        if EDGE:
            tl.store(r_out_ptr + out_row + edge, se.to(r_out_ptr.dtype.element_ty), mask=edge_ok)
    sum_sq = tl.inline_asm_elementwise(SUM_PTX, "=f,f,r", [partial, exchange], dtype=tl.float32, is_pure=False, pack=1)
    rstd = tl.math.rsqrt(sum_sq / n_cols + eps)
    y = s * rstd
    if HAS_WEIGHT:
        y = y * w
    tl.store(y_ptr + out_row + cols, y.to(y_ptr.dtype.element_ty), mask=ok)
    if EDGE:
        ye = se * rstd
        if HAS_WEIGHT:
            ye = ye * we
        tl.store(y_ptr + out_row + edge, ye.to(y_ptr.dtype.element_ty), mask=edge_ok)
