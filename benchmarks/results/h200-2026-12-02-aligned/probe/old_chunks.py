"""The chunked kernel as of 8fdf42b (r_out stored in the first pass), as tune peers: an A/B probe."""
import torch
import kernels_old as ko


def _launch(x, r, w, eps, bias, chunk, warps):
    t, h = x.shape
    y = torch.empty_like(x)
    r_out = torch.empty_like(x) if r is not None else y
    ko._norm_chunks_kernel[(t,)](x, x if r is None else r, y if w is None else w, y, r_out, h, x.stride(0),
                                 x.stride(0) if r is None else r.stride(0), eps, bias, HAS_RESIDUAL=r is not None,
                                 HAS_WEIGHT=w is not None, CHUNK=chunk, ROUND_BF16=False, num_warps=warps,
                                 USE_PDL=True, launch_pdl=True)
    return y, (r_out if r is not None else None)


def _make(chunk, warps):
    class Old:
        name = f"old[c{chunk}w{warps}]"

        def rms_norm(self, x, w, eps, bias=0.0):
            return _launch(x, None, w, eps, bias, chunk, warps)[0]

        def fused_add_rms_norm(self, x, r, w, eps, bias=0.0):
            return _launch(x, r, w, eps, bias, chunk, warps)
    return Old


C2048w8 = _make(2048, 8)
C2048w16 = _make(2048, 16)
C4096w16 = _make(4096, 16)
C4096w8 = _make(4096, 8)
