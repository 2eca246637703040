"""Probe: the chunked kernel with H a compile-time constant (loops unrolled, masks folded), as tune peers."""
import torch
import triton
import triton.language as tl


@triton.jit
def _sumsq(x_row, r_row, start, N_COLS: tl.constexpr, HAS_RESIDUAL: tl.constexpr, CHUNK: tl.constexpr):
    cols = start + tl.arange(0, CHUNK)
    ok = cols < N_COLS
    s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
    if HAS_RESIDUAL:
        s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
    return s * s


@triton.jit
def _out(x_row, r_row, w_ptr, y_ptr, r_out_ptr, out_row, start, rstd, weight_bias, N_COLS: tl.constexpr,
         HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, CHUNK: tl.constexpr):
    cols = start + tl.arange(0, CHUNK)
    ok = cols < N_COLS
    s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
    if HAS_RESIDUAL:
        s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
        tl.store(r_out_ptr + out_row + cols, s.to(r_out_ptr.dtype.element_ty), mask=ok)
    y = s * rstd
    if HAS_WEIGHT:
        y = y * (tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias)
    tl.store(y_ptr + out_row + cols, y.to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def _chunks(x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, x_stride, r_stride, eps, weight_bias,
            N_COLS: tl.constexpr, HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, CHUNK: tl.constexpr,
            STATIC: tl.constexpr):
    row = tl.program_id(0).to(tl.int64)
    x_row, r_row, out_row = x_ptr + row * x_stride, r_ptr + row * r_stride, row * N_COLS
    tl.extra.cuda.gdc_wait()
    tl.extra.cuda.gdc_launch_dependents()
    acc = tl.full([CHUNK], 0.0, tl.float32)
    if STATIC:
        for start in tl.static_range(0, N_COLS, CHUNK):
            acc += _sumsq(x_row, r_row, start, N_COLS, HAS_RESIDUAL, CHUNK)
    else:
        for start in range(0, N_COLS, CHUNK):
            acc += _sumsq(x_row, r_row, start, N_COLS, HAS_RESIDUAL, CHUNK)
    rstd = tl.math.rsqrt(tl.sum(acc, 0) / N_COLS + eps)
    if STATIC:
        for start in tl.static_range(0, N_COLS, CHUNK):
            _out(x_row, r_row, w_ptr, y_ptr, r_out_ptr, out_row, start, rstd, weight_bias, N_COLS, HAS_RESIDUAL, HAS_WEIGHT, CHUNK)
    else:
        for start in range(0, N_COLS, CHUNK):
            _out(x_row, r_row, w_ptr, y_ptr, r_out_ptr, out_row, start, rstd, weight_bias, N_COLS, HAS_RESIDUAL, HAS_WEIGHT, CHUNK)


def _make(label, chunk, warps, static):
    class Var:
        name = f"{label}[c{chunk}w{warps}]"

        def _launch(self, x, r, w, eps, bias):
            t, h = x.shape
            y = torch.empty_like(x)
            r_out = torch.empty_like(x) if r is not None else y
            _chunks[(t,)](x, x if r is None else r, y if w is None else w, y, r_out, x.stride(0),
                          x.stride(0) if r is None else r.stride(0), eps, bias, N_COLS=h, HAS_RESIDUAL=r is not None,
                          HAS_WEIGHT=w is not None, CHUNK=chunk, STATIC=static, num_warps=warps, launch_pdl=True)
            return y, (r_out if r is not None else None)

        def rms_norm(self, x, w, eps, bias=0.0):
            return self._launch(x, None, w, eps, bias)[0]

        def fused_add_rms_norm(self, x, r, w, eps, bias=0.0):
            return self._launch(x, r, w, eps, bias)
    return Var


S4096w16 = _make("static", 4096, 16, True)
S2048w16 = _make("static", 2048, 16, True)
S2048w8 = _make("static", 2048, 8, True)
S1024w8 = _make("static", 1024, 8, True)
K4096w16 = _make("constn", 4096, 16, False)
K2048w8 = _make("constn", 2048, 8, False)
