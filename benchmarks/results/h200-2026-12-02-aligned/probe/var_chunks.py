"""Probe: the chunked kernel (late r_out store) with PDL off, int32 offsets, weight evict_last."""
import torch
import triton
import triton.language as tl


@triton.jit
def _chunks(x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, n_cols, x_stride, r_stride, eps, weight_bias,
            HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, CHUNK: tl.constexpr, USE_PDL: tl.constexpr,
            I32: tl.constexpr, W_LAST: tl.constexpr):
    if I32:
        row = tl.program_id(0)
    else:
        row = tl.program_id(0).to(tl.int64)
    x_row, r_row, out_row = x_ptr + row * x_stride, r_ptr + row * r_stride, row * n_cols
    if USE_PDL:
        tl.extra.cuda.gdc_wait()
        tl.extra.cuda.gdc_launch_dependents()
    acc = tl.full([CHUNK], 0.0, tl.float32)
    for start in range(0, n_cols, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < n_cols
        s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
        if HAS_RESIDUAL:
            s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_last").to(tl.float32)
        acc += s * s
    rstd = tl.math.rsqrt(tl.sum(acc, 0) / n_cols + eps)
    for start in range(0, n_cols, CHUNK):
        cols = start + tl.arange(0, CHUNK)
        ok = cols < n_cols
        s = tl.load(x_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
        if HAS_RESIDUAL:
            s += tl.load(r_row + cols, mask=ok, other=0.0, eviction_policy="evict_first").to(tl.float32)
            tl.store(r_out_ptr + out_row + cols, s.to(r_out_ptr.dtype.element_ty), mask=ok)
        y = s * rstd
        if HAS_WEIGHT:
            if W_LAST:
                wv = tl.load(w_ptr + cols, mask=ok, other=0.0, eviction_policy="evict_last")
            else:
                wv = tl.load(w_ptr + cols, mask=ok, other=0.0)
            y = y * (wv.to(tl.float32) + weight_bias)
        tl.store(y_ptr + out_row + cols, y.to(y_ptr.dtype.element_ty), mask=ok)


def _make(label, chunk, warps, pdl, i32, w_last):
    class Var:
        name = f"var[{label}c{chunk}w{warps}]"

        def _launch(self, x, r, w, eps, bias):
            t, h = x.shape
            y = torch.empty_like(x)
            r_out = torch.empty_like(x) if r is not None else y
            extra = {"launch_pdl": True} if pdl else {}
            _chunks[(t,)](x, x if r is None else r, y if w is None else w, y, r_out, h, x.stride(0),
                          x.stride(0) if r is None else r.stride(0), eps, bias, HAS_RESIDUAL=r is not None,
                          HAS_WEIGHT=w is not None, CHUNK=chunk, USE_PDL=pdl, I32=i32, W_LAST=w_last,
                          num_warps=warps, **extra)
            return y, (r_out if r is not None else None)

        def rms_norm(self, x, w, eps, bias=0.0):
            return self._launch(x, None, w, eps, bias)[0]

        def fused_add_rms_norm(self, x, r, w, eps, bias=0.0):
            return self._launch(x, r, w, eps, bias)
    return Var


Base = _make("base", 4096, 16, True, False, False)
NoPdl = _make("nopdl", 4096, 16, False, False, False)
I32 = _make("i32", 4096, 16, True, True, False)
WLast = _make("wlast", 4096, 16, True, False, True)
All = _make("all", 4096, 16, True, True, True)
NoPdlI32 = _make("nopdli32", 4096, 16, False, True, True)
