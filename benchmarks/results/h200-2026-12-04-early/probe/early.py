"""Twentieth run's prototype: the aligned-body kernel (one row a program) at H not a multiple of 16 bytes, with

- EARLY: programs below ``early`` (the first wave) neither wait for the weight's shifted copies nor read them:
  they load the weight element by element (no gdc_wait at all: the copies' kernel launched this one after its own
  wait for the kernel before, so x is visible); programs from ``early`` on wait for the copies' kernel and load
  the copies in 16-byte vectors. The first wave starts at once instead of after the copies' kernel.
- XCG: x and the residual loaded ``.cg`` (L2 only), so that L1 keeps the weight (its copies) and not x.
- the copies built once outside the timed call (``launch(..., heads=prebuilt)``): the ceiling with no copies'
  kernel at all.

Not committed code: kernels._aligned_weight / _normalise_row are reused as committed.
"""
import triton
import triton.language as tl

from pytest_normfusion.impls.triton import kernels as K


@triton.jit
def _pieces(ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, XCG: tl.constexpr):
    if XCG:
        v = tl.load(ptr + body + cols, mask=ok, other=0.0, cache_modifier=".cg").to(tl.float32)
        vt = tl.load(ptr + body + tail_cols, mask=tail_ok, other=0.0, cache_modifier=".cg").to(tl.float32)
        ve = tl.load(ptr + start + edge_cols, mask=edge_ok, other=0.0, cache_modifier=".cg").to(tl.float32)
    else:
        v = tl.load(ptr + body + cols, mask=ok, other=0.0).to(tl.float32)
        vt = tl.load(ptr + body + tail_cols, mask=tail_ok, other=0.0).to(tl.float32)
        ve = tl.load(ptr + start + edge_cols, mask=edge_ok, other=0.0).to(tl.float32)
    return v, vt, ve


@triton.jit
def variant_kernel(
    x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, n_rows, n_cols, eps, weight_bias, w_heads_ptr, w_heads_stride, early,
    HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, VEC: tl.constexpr, BLOCK: tl.constexpr,
    TAIL: tl.constexpr, USE_PDL: tl.constexpr, WEIGHT_HEADS: tl.constexpr, EARLY: tl.constexpr,
    XCG: tl.constexpr, GROUP: tl.constexpr = 0,
):  # fmt: skip
    first = tl.program_id(0)
    start = first.to(tl.int64) * n_cols
    head = (VEC - start % VEC) % VEC
    n_body = (n_cols - head) // VEC * VEC
    cols = tl.arange(0, BLOCK)
    ok = cols < n_body
    tail_cols = BLOCK + tl.arange(0, TAIL if TAIL > 0 else 1)
    tail_ok = tail_cols < n_body
    edge = tl.arange(0, 2 * VEC)
    edge_cols = tl.where(edge < VEC, edge, head + n_body + edge - VEC)
    edge_ok = tl.where(edge < VEC, edge < head, edge_cols < n_cols)
    if USE_PDL:
        if EARLY:
            if first >= early:
                tl.extra.cuda.gdc_wait()
        else:
            tl.extra.cuda.gdc_wait()
    body = tl.multiple_of(start + head, VEC)
    s, st, se = _pieces(x_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, XCG)
    if HAS_RESIDUAL:
        r, rt, re = _pieces(r_ptr, body, start, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, XCG)
        s, st, se = s + r, st + rt, se + re
    w, wt, we = s, st, se  # unused without a weight
    if HAS_WEIGHT:
        if EARLY:
            if first < early:
                w, wt, we = K._aligned_weight(
                    w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
                    w_heads_ptr, w_heads_stride, VEC, False,
                )  # fmt: skip
            else:
                w, wt, we = K._aligned_weight(
                    w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
                    w_heads_ptr, w_heads_stride, VEC, True,
                )  # fmt: skip
        elif GROUP > 0:  # GROUP copies (w[h:] for h < GROUP), head h read from copy h % GROUP, h - h % GROUP on
            at = tl.multiple_of((head % GROUP) * w_heads_stride + head - head % GROUP, GROUP)
            w = tl.load(w_heads_ptr + at + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias
            wt = tl.load(w_heads_ptr + at + tail_cols, mask=tail_ok, other=0.0).to(tl.float32) + weight_bias
            we = tl.load(w_ptr + edge_cols, mask=edge_ok, other=0.0).to(tl.float32) + weight_bias
        else:
            w, wt, we = K._aligned_weight(
                w_ptr, head, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok, weight_bias,
                w_heads_ptr, w_heads_stride, VEC, WEIGHT_HEADS,
            )  # fmt: skip
    if USE_PDL:
        tl.extra.cuda.gdc_launch_dependents()
    K._normalise_row(
        s, st, se, w, wt, we, y_ptr, r_out_ptr, body, start, n_cols, cols, ok, tail_cols, tail_ok, edge_cols, edge_ok,
        eps, HAS_RESIDUAL, HAS_WEIGHT, False,
    )  # fmt: skip


def launch(x, residual, weight, eps, bias, warps, heads="kernel", early=None, xcg=False, pdl=True, group=0):
    """heads: "kernel" (copies built by their kernel each call), a prebuilt tensor (built once), or None
    (the weight element by element). early: programs that load the weight element by element without waiting
    (needs heads="kernel"; must be below the grid so that some program waits for the copies' kernel)."""
    import torch
    from pytest_normfusion.impls.triton import plan as tn

    n_rows, n_cols = x.shape
    vec = 16 // x.element_size()
    assert x.data_ptr() % 16 == 0  # H a multiple of VEC too: every head 0 (the attribution in attrib.py)
    block, tail = tn.pieces(n_cols - n_cols % vec)
    y = torch.empty_like(x)
    r_out = torch.empty_like(x) if residual is not None else y
    if isinstance(heads, str):
        w_heads = tn._weight_heads(weight, group or vec)
    elif heads is None:
        w_heads = weight
    else:
        w_heads = heads
    if early is not None:
        assert isinstance(heads, str) and early < n_rows
    variant_kernel[(n_rows,)](
        x, x if residual is None else residual, weight, y, r_out, n_rows, n_cols, eps, bias, w_heads,
        w_heads.size(-1), early or 0,
        HAS_RESIDUAL=residual is not None, HAS_WEIGHT=weight is not None, VEC=vec, BLOCK=block, TAIL=tail,
        USE_PDL=pdl, WEIGHT_HEADS=heads is not None, EARLY=early is not None, XCG=xcg, GROUP=group, num_warps=warps,
        launch_pdl=pdl,
    )  # fmt: skip
    return y, (r_out if residual is not None else None)


def prebuilt(weight, vec):
    from pytest_normfusion.impls.triton import plan as tn

    return tn._weight_heads(weight, vec)
