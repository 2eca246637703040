"""Twentieth run's second prototype: rows of one head as one 2-D block. Rows j, j + VEC, j + 2 VEC, .. of a packed
(T, H) x share their head (columns before the first 16-byte boundary), and their aligned bodies are VEC * H
elements apart, a multiple of VEC: so ROWS of them load as one (ROWS, BLOCK) block of 16-byte vectors, sum in one
2-D reduction and share one load of the weight shifted by that head (from the committed copies' kernel, or
element by element), as the rows kernel does for aligned rows. Program p takes j = p % VEC and the ROWS rows
j + VEC * (p // VEC * ROWS + i). Not committed code.
"""
import triton
import triton.language as tl

from pytest_normfusion.impls.triton import kernels as K


@triton.jit
def _block(ptr, base, step, k, cols, ok):
    """The (ROWS, n) block at ``base + k * step + cols`` in fp32 (rows k, columns cols; ok masks both)."""
    return tl.load(ptr + base + k[:, None] * step + cols[None, :], mask=ok, other=0.0).to(tl.float32)


@triton.jit
def _store(ptr, base, step, k, cols, ok, v):
    tl.store(ptr + base + k[:, None] * step + cols[None, :], v.to(ptr.dtype.element_ty), mask=ok)


@triton.jit
def heads2d_kernel(
    x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, n_rows, n_cols, eps, weight_bias, w_heads_ptr, w_heads_stride,
    HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, VEC: tl.constexpr, ROWS: tl.constexpr,
    BLOCK: tl.constexpr, TAIL: tl.constexpr, USE_PDL: tl.constexpr, WEIGHT_HEADS: tl.constexpr,
):  # fmt: skip
    pid = tl.program_id(0)
    j = pid % VEC
    k = (pid // VEC * ROWS + tl.arange(0, ROWS)).to(tl.int64)  # the rows' places among rows j, j + VEC, ..
    row_ok = (j + VEC * k) < n_rows
    start = j.to(tl.int64) * n_cols  # row j's first element
    head = (VEC - start % VEC) % VEC
    n_body = (n_cols - head) // VEC * VEC
    step = VEC * n_cols.to(tl.int64)  # from one row of the head to the next: a multiple of VEC
    base = tl.multiple_of(start + head, VEC)
    cols = tl.arange(0, BLOCK)
    tail_cols = BLOCK + tl.arange(0, TAIL if TAIL > 0 else 1)
    edge = tl.arange(0, 2 * VEC)
    edge_cols = tl.where(edge < VEC, edge, head + n_body + edge - VEC)  # columns of the row
    ok = row_ok[:, None] & (cols < n_body)[None, :]
    tail_ok = row_ok[:, None] & (tail_cols < n_body)[None, :]
    edge_ok = row_ok[:, None] & tl.where(edge < VEC, edge < head, edge_cols < n_cols)[None, :]
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
    s = _block(x_ptr, base, step, k, cols, ok)
    st = _block(x_ptr, base, step, k, tail_cols, tail_ok)
    se = _block(x_ptr, start, step, k, edge_cols, edge_ok)
    if HAS_RESIDUAL:
        s += _block(r_ptr, base, step, k, cols, ok)
        st += _block(r_ptr, base, step, k, tail_cols, tail_ok)
        se += _block(r_ptr, start, step, k, edge_cols, edge_ok)
    w, wt, we = cols, tail_cols, edge  # unused without a weight
    if HAS_WEIGHT:
        c_ok, t_ok = cols < n_body, tail_cols < n_body
        e_ok = tl.where(edge < VEC, edge < head, edge_cols < n_cols)
        if WEIGHT_HEADS:
            shifted = w_heads_ptr + tl.multiple_of(head * w_heads_stride, VEC)
            w = tl.load(shifted + cols, mask=c_ok, other=0.0).to(tl.float32)
            wt = tl.load(shifted + tail_cols, mask=t_ok, other=0.0).to(tl.float32)
        else:
            w = tl.load(w_ptr + head + cols, mask=c_ok, other=0.0).to(tl.float32)
            wt = tl.load(w_ptr + head + tail_cols, mask=t_ok, other=0.0).to(tl.float32)
        we = tl.load(w_ptr + edge_cols, mask=e_ok, other=0.0).to(tl.float32)
        w, wt, we = w + weight_bias, wt + weight_bias, we + weight_bias
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    if HAS_RESIDUAL:
        _store(r_out_ptr, base, step, k, cols, ok, s)
        _store(r_out_ptr, base, step, k, tail_cols, tail_ok, st)
        _store(r_out_ptr, start, step, k, edge_cols, edge_ok, se)
    sum_sq = K._row_sum(s * s, 1) + K._row_sum(st * st, 1) + K._row_sum(se * se, 1)
    rstd = tl.math.rsqrt(sum_sq / n_cols + eps)[:, None]
    y, yt, ye = s * rstd, st * rstd, se * rstd
    if HAS_WEIGHT:
        y, yt, ye = y * w[None, :], yt * wt[None, :], ye * we[None, :]
    _store(y_ptr, base, step, k, cols, ok, y)
    _store(y_ptr, base, step, k, tail_cols, tail_ok, yt)
    _store(y_ptr, start, step, k, edge_cols, edge_ok, ye)


def launch(x, residual, weight, eps, bias, rows, warps, heads="kernel", pdl=True):
    """heads: "kernel" (the committed copies' kernel each call), a prebuilt tensor, or None (element by element)."""
    import torch
    from pytest_normfusion.impls.triton import plan as tn

    n_rows, n_cols = x.shape
    vec = 16 // x.element_size()
    assert x.data_ptr() % 16 == 0 and (residual is None or residual.data_ptr() % 16 == 0)
    block, tail = tn.pieces(n_cols - n_cols % vec)
    y = torch.empty_like(x)
    r_out = torch.empty_like(x) if residual is not None else y
    if isinstance(heads, str):
        w_heads = tn._weight_heads(weight, vec)
    elif heads is None:
        w_heads = y if weight is None else weight  # unread
    else:
        w_heads = heads
    grid = vec * triton.cdiv(triton.cdiv(n_rows, vec), rows)
    heads2d_kernel[(grid,)](
        x, x if residual is None else residual, y if weight is None else weight, y, r_out, n_rows, n_cols, eps, bias, w_heads,
        w_heads.size(-1),
        HAS_RESIDUAL=residual is not None, HAS_WEIGHT=weight is not None, VEC=vec, ROWS=rows, BLOCK=block,
        TAIL=tail, USE_PDL=pdl, WEIGHT_HEADS=heads is not None, num_warps=warps, launch_pdl=pdl,
    )  # fmt: skip
    return y, (r_out if residual is not None else None)
