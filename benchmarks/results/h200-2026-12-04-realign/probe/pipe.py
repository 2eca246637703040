"""Prototype: the aligned-body kernel as a Gluon kernel whose programs loop over rows of one head,
each row's body (16-byte aligned, a multiple of VEC columns) copied to a ring of STAGES shared-memory
slots with cp.async, STAGES rows ahead; the weight, shifted by the head, loaded once a program."""
from triton.experimental import gluon
from triton.experimental.gluon import language as gl
from triton.experimental.gluon.language.nvidia.ampere import async_copy

_copy = getattr(async_copy, "async_load", None) or async_copy.async_copy_global_to_shared


@gluon.jit
def _issue(xb, tb, rb, rtb, x_ptr, r_ptr, body, cols, ok, tcols, tok, valid, HAS_RESIDUAL: gl.constexpr):
    _copy(xb, x_ptr + body + cols, mask=ok & valid)
    _copy(tb, x_ptr + body + tcols, mask=tok & valid)
    if HAS_RESIDUAL:
        _copy(rb, r_ptr + body + cols, mask=ok & valid)
        _copy(rtb, r_ptr + body + tcols, mask=tok & valid)
    async_copy.commit_group()


@gluon.jit
def pipelined_kernel(
    x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, n_rows, eps, weight_bias,
    H: gl.constexpr, VEC: gl.constexpr, BLOCK: gl.constexpr, TAIL: gl.constexpr, STAGES: gl.constexpr,
    HAS_RESIDUAL: gl.constexpr, HAS_WEIGHT: gl.constexpr, USE_PDL: gl.constexpr, ONE_SUM: gl.constexpr = False,
):
    layout: gl.constexpr = gl.BlockedLayout([VEC], [32], [gl.num_warps()], [0])
    edge_layout: gl.constexpr = gl.BlockedLayout([1], [32], [gl.num_warps()], [0])
    ring: gl.constexpr = gl.SwizzledSharedLayout(1, 1, 1, [0])
    ty = x_ptr.dtype.element_ty
    first = gl.program_id(0)
    step = gl.num_programs(0)  # a multiple of VEC: a program's rows share one head
    start = first.to(gl.int64) * H
    head = (VEC - start % VEC) % VEC
    n_body = (H - head) // VEC * VEC
    cols = gl.arange(0, BLOCK, layout=layout)
    ok = cols < n_body
    tcols = BLOCK + gl.arange(0, TAIL, layout=layout)
    tok = tcols < n_body
    e = gl.arange(0, 32 * gl.num_warps() if ONE_SUM else 2 * VEC, layout=edge_layout)
    ecols = gl.where(e < VEC, e, head + n_body + e - VEC)
    eok = gl.where(e < VEC, e < head, (ecols < H) & (e < 2 * VEC))
    xb = gl.allocate_shared_memory(ty, [STAGES, BLOCK], ring)
    tb = gl.allocate_shared_memory(ty, [STAGES, TAIL], ring)
    rb, rtb = xb, tb
    if HAS_RESIDUAL:
        rb = gl.allocate_shared_memory(ty, [STAGES, BLOCK], ring)
        rtb = gl.allocate_shared_memory(ty, [STAGES, TAIL], ring)
    if USE_PDL:
        gl.inline_asm_elementwise("griddepcontrol.wait; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1)
    for i in gl.static_range(STAGES):
        row = first + i * step
        body = gl.multiple_of(row.to(gl.int64) * H + head, VEC)
        _issue(xb.index(i), tb.index(i), rb.index(i), rtb.index(i), x_ptr, r_ptr, body, cols, ok, tcols, tok,
               row < n_rows, HAS_RESIDUAL)
    w = cols
    wt = tcols
    we = e
    if HAS_WEIGHT:  # shifted by the head, element by element, once
        w = gl.load(w_ptr + head + cols, mask=ok, other=0.0).to(gl.float32) + weight_bias
        wt = gl.load(w_ptr + head + tcols, mask=tok, other=0.0).to(gl.float32) + weight_bias
        we = gl.load(w_ptr + ecols, mask=eok, other=0.0).to(gl.float32) + weight_bias
    xe = gl.load(x_ptr + start + ecols, mask=eok & (first < n_rows), other=0.0)
    re = xe
    if HAS_RESIDUAL:
        re = gl.load(r_ptr + start + ecols, mask=eok & (first < n_rows), other=0.0)
    if USE_PDL:
        gl.inline_asm_elementwise(
            "griddepcontrol.launch_dependents; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1
        )
    mine = gl.maximum(n_rows - first + step - 1, 0) // step
    for m in range(0, mine):
        slot = m % STAGES
        row_start = (first + m * step).to(gl.int64) * H
        body = gl.multiple_of(row_start + head, VEC)
        more = first + (m + 1) * step < n_rows
        after = row_start + step.to(gl.int64) * H
        xe_next = gl.load(x_ptr + after + ecols, mask=eok & more, other=0.0)
        re_next = xe_next
        if HAS_RESIDUAL:
            re_next = gl.load(r_ptr + after + ecols, mask=eok & more, other=0.0)
        async_copy.wait_group(STAGES - 1)
        s = gl.where(ok, xb.index(slot).load(layout).to(gl.float32), 0.0)
        st = gl.where(tok, tb.index(slot).load(layout).to(gl.float32), 0.0)
        se = xe.to(gl.float32)
        if HAS_RESIDUAL:
            s = s + gl.where(ok, rb.index(slot).load(layout).to(gl.float32), 0.0)
            st = st + gl.where(tok, rtb.index(slot).load(layout).to(gl.float32), 0.0)
            se = se + re.to(gl.float32)
            gl.store(r_out_ptr + body + cols, s.to(ty), mask=ok)
            gl.store(r_out_ptr + body + tcols, st.to(ty), mask=tok)
            gl.store(r_out_ptr + row_start + ecols, se.to(ty), mask=eok)
        if ONE_SUM:  # each thread's partial sums first, then one sum across the program's threads
            NT: gl.constexpr = 32 * gl.num_warps()
            pb = gl.sum(gl.sum(gl.reshape(s * s, [BLOCK // (VEC * NT), NT, VEC]), axis=2), axis=0)
            pt = gl.sum(gl.sum(gl.reshape(st * st, [TAIL // (VEC * NT), NT, VEC]), axis=2), axis=0)
            pe = gl.convert_layout(se * se, pb.type.layout, assert_trivial=True)
            total = gl.sum(pb + gl.convert_layout(pt, pb.type.layout, assert_trivial=True) + pe, axis=0)
        else:
            total = gl.sum(s * s, axis=0) + gl.sum(st * st, axis=0) + gl.sum(se * se, axis=0)
        rstd = gl.rsqrt(total / H + eps)
        y = s * rstd
        yt = st * rstd
        ye = se * rstd
        if HAS_WEIGHT:
            y = y * w
            yt = yt * wt
            ye = ye * we
        gl.store(y_ptr + body + cols, y.to(ty), mask=ok)
        gl.store(y_ptr + body + tcols, yt.to(ty), mask=tok)
        gl.store(y_ptr + row_start + ecols, ye.to(ty), mask=eok)
        ahead = first + (m + STAGES) * step
        nb = gl.multiple_of(ahead.to(gl.int64) * H + head, VEC)
        _issue(xb.index(slot), tb.index(slot), rb.index(slot), rtb.index(slot), x_ptr, r_ptr, nb, cols, ok, tcols,
               tok, ahead < n_rows, HAS_RESIDUAL)
        xe = xe_next
        re = re_next
    async_copy.wait_group(0)


def pieces(H: int, vec: int) -> tuple[int, int]:
    """The body's two power-of-two pieces: the largest power of two <= the longest body, and the rest rounded up."""
    longest = H // vec * vec
    block = 1 << (longest.bit_length() - 1)
    rest = longest - block
    tail = 1 << max(rest - 1, 0).bit_length() if rest > 0 else vec
    return block, max(tail, vec)


def launch(x, r, w, eps, bias, per_sm=2, warps=8, stages=2, pdl=True, sms=None, one_sum=False):
    import torch
    T, H = x.shape
    vec = 16 // x.element_size()
    block, tail = pieces(H, vec)
    sms = sms or torch.cuda.get_device_properties(x.device).multi_processor_count
    programs = -(-(sms * per_sm) // vec) * vec
    y = torch.empty_like(x)
    ro = torch.empty_like(x) if r is not None else None
    pipelined_kernel[(programs,)](
        x, r if r is not None else x, w if w is not None else x, y, ro if ro is not None else y, T, eps, bias,
        H=H, VEC=vec, BLOCK=block, TAIL=tail, STAGES=stages, HAS_RESIDUAL=r is not None, HAS_WEIGHT=w is not None,
        USE_PDL=pdl, ONE_SUM=one_sum, num_warps=warps, launch_pdl=pdl,
    )
    return y, ro


@gluon.jit
def staged_aligned_kernel(
    x_ptr, w_ptr, y_ptr, w_heads_ptr, w_heads_stride, eps, weight_bias,
    H: gl.constexpr, VEC: gl.constexpr, BLOCK: gl.constexpr, TAIL: gl.constexpr,
    HAS_WEIGHT: gl.constexpr, WEIGHT_HEADS: gl.constexpr, USE_PDL: gl.constexpr,
):
    """rms_norm, one row a program: the row's aligned body copied to shared memory with cp.async while the
    weight (from the copies shifted by the row's head, or element by element) and the head and tail load;
    summed from shared memory, then read from it again to be scaled."""
    layout: gl.constexpr = gl.BlockedLayout([VEC], [32], [gl.num_warps()], [0])
    edge_layout: gl.constexpr = gl.BlockedLayout([1], [32], [gl.num_warps()], [0])
    flat: gl.constexpr = gl.SwizzledSharedLayout(1, 1, 1, [0])
    ty = x_ptr.dtype.element_ty
    start = gl.program_id(0).to(gl.int64) * H
    head = (VEC - start % VEC) % VEC
    n_body = (H - head) // VEC * VEC
    body = gl.multiple_of(start + head, VEC)
    cols = gl.arange(0, BLOCK, layout=layout)
    ok = cols < n_body
    tcols = BLOCK + gl.arange(0, TAIL, layout=layout)
    tok = tcols < n_body
    e = gl.arange(0, 2 * VEC, layout=edge_layout)
    ecols = gl.where(e < VEC, e, head + n_body + e - VEC)
    eok = gl.where(e < VEC, e < head, ecols < H)
    xb = gl.allocate_shared_memory(ty, [BLOCK], flat)
    tb = gl.allocate_shared_memory(ty, [TAIL], flat)
    if USE_PDL:
        gl.inline_asm_elementwise("griddepcontrol.wait; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1)
    _copy(xb, x_ptr + body + cols, mask=ok)
    _copy(tb, x_ptr + body + tcols, mask=tok)
    async_copy.commit_group()
    se = gl.load(x_ptr + start + ecols, mask=eok, other=0.0).to(gl.float32)
    w = cols
    wt = tcols
    we = e
    if HAS_WEIGHT:  # while x arrives
        if WEIGHT_HEADS:
            shifted = w_heads_ptr + gl.multiple_of(head * w_heads_stride, VEC)
            w = gl.load(shifted + cols, mask=ok, other=0.0)
            wt = gl.load(shifted + tcols, mask=tok, other=0.0)
        else:
            w = gl.load(w_ptr + head + cols, mask=ok, other=0.0)
            wt = gl.load(w_ptr + head + tcols, mask=tok, other=0.0)
        we = gl.load(w_ptr + ecols, mask=eok, other=0.0)
    async_copy.wait_group(0)
    if USE_PDL:
        gl.inline_asm_elementwise(
            "griddepcontrol.launch_dependents; // $0", "=r", [], dtype=gl.int32, is_pure=False, pack=1
        )
    s = gl.where(ok, xb.load(layout).to(gl.float32), 0.0)
    st = gl.where(tok, tb.load(layout).to(gl.float32), 0.0)
    total = gl.sum(s * s, axis=0) + gl.sum(st * st, axis=0) + gl.sum(se * se, axis=0)
    rstd = gl.rsqrt(total / H + eps)
    _barrier()  # read x again rather than keep it in registers
    y = xb.load(layout).to(gl.float32) * rstd
    yt = tb.load(layout).to(gl.float32) * rstd
    ye = se * rstd
    if HAS_WEIGHT:
        y = y * (w.to(gl.float32) + weight_bias)
        yt = yt * (wt.to(gl.float32) + weight_bias)
        ye = ye * (we.to(gl.float32) + weight_bias)
    gl.store(y_ptr + body + cols, y.to(ty), mask=ok)
    gl.store(y_ptr + body + tcols, yt.to(ty), mask=tok)
    gl.store(y_ptr + start + ecols, ye.to(ty), mask=eok)


_barrier = getattr(gl, "barrier", None) or gl.thread_barrier


def launch_staged(x, w, eps, bias, warps=4, heads=True, pdl=True):
    import torch
    from pytest_normfusion.impls.triton import plan as tn
    T, H = x.shape
    vec = 16 // x.element_size()
    block, tail = pieces(H, vec)
    y = torch.empty_like(x)
    use_heads = heads and w is not None
    w_heads = tn._weight_heads(w, vec) if use_heads else x
    staged_aligned_kernel[(T,)](
        x, w if w is not None else x, y, w_heads, w_heads.size(-1) if use_heads else 0, eps, bias,
        H=H, VEC=vec, BLOCK=block, TAIL=tail, HAS_WEIGHT=w is not None, WEIGHT_HEADS=use_heads, USE_PDL=pdl,
        num_warps=warps, launch_pdl=pdl,
    )
    return y
