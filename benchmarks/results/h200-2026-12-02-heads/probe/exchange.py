"""Probe: few rows, each over several programs that read only their share of the row and
exchange partial sums of squares through global memory (a tagged word per program).

A program's slot holds (generation << 32 | fp32 bits of its partial). Each call, a program
reads its own slot (only it writes it), writes generation + 1 with its partial, and spins
until every slot of its row carries that generation; every program then sums the same
partials in the same order. Slots are per (device, columns a program): a row's programs
always advance its slots together. ``Bound*``: the same without the exchange (each scales
its own partial): wrong output, the time of reading a share only. ``Floor``: one element.
"""
import torch
import triton
import triton.language as tl

_WORKSPACE: dict = {}


@triton.jit
def _exchange_kernel(x_ptr, r_ptr, w_ptr, y_ptr, r_out_ptr, ws_ptr, n_cols, eps, weight_bias,
                     HAS_RESIDUAL: tl.constexpr, HAS_WEIGHT: tl.constexpr, SHARE: tl.constexpr,
                     PARTS: tl.constexpr, SLOTS: tl.constexpr, EXCHANGE: tl.constexpr):
    pid = tl.program_id(0)
    row = pid // PARTS
    part = pid % PARTS
    cols = part * SHARE + tl.arange(0, SHARE)
    ok = cols < n_cols
    base = row.to(tl.int64) * n_cols
    tl.extra.cuda.gdc_wait()
    if EXCHANGE:
        old = tl.load(ws_ptr + row * SLOTS + part, volatile=True)
    if HAS_WEIGHT:
        w = tl.load(w_ptr + cols, mask=ok, other=0.0).to(tl.float32) + weight_bias
    s = tl.load(x_ptr + base + cols, mask=ok, other=0.0).to(tl.float32)
    if HAS_RESIDUAL:
        s += tl.load(r_ptr + base + cols, mask=ok, other=0.0).to(tl.float32)
    tl.extra.cuda.gdc_launch_dependents()
    if HAS_RESIDUAL:
        tl.store(r_out_ptr + base + cols, s.to(r_out_ptr.dtype.element_ty), mask=ok)
    mine = tl.sum(s * s, 0)
    if EXCHANGE:
        gen = (old >> 32) + 1
        tl.store(ws_ptr + row * SLOTS + part, (gen << 32) | mine.to(tl.uint32, bitcast=True).to(tl.int64))
        slots = tl.arange(0, SLOTS)
        mask = slots < PARTS
        words = tl.load(ws_ptr + row * SLOTS + slots, mask=mask, other=0, volatile=True)
        pending = tl.sum((((words >> 32) != gen) & mask).to(tl.int32), 0)
        while pending > 0:
            words = tl.load(ws_ptr + row * SLOTS + slots, mask=mask, other=0, volatile=True)
            pending = tl.sum((((words >> 32) != gen) & mask).to(tl.int32), 0)
        total = tl.sum(tl.where(mask, (words & 0xFFFFFFFF).to(tl.uint32).to(tl.float32, bitcast=True), 0.0), 0)
    else:
        total = mine * PARTS
    y = s * tl.math.rsqrt(total / n_cols + eps)
    if HAS_WEIGHT:
        y = y * w
    tl.store(y_ptr + base + cols, y.to(y_ptr.dtype.element_ty), mask=ok)


@triton.jit
def _floor_kernel(x_ptr, y_ptr):
    tl.extra.cuda.gdc_wait()
    v = tl.load(x_ptr)
    tl.extra.cuda.gdc_launch_dependents()
    tl.store(y_ptr, v)


def _workspace(device, share, slots, rows):
    key = (device, share, slots)
    ws = _WORKSPACE.get(key)
    if ws is None or ws.numel() < rows * slots:
        ws = _WORKSPACE[key] = torch.zeros(max(rows, 64) * slots, dtype=torch.int64, device=device)
    return ws


def _make(share, warps, exchange):
    class Var:
        name = f"{'ex' if exchange else 'bound'}[{share}w{warps}]"

        def _launch(self, x, r, w, eps, bias):
            t, h = x.shape
            parts = triton.cdiv(h, share)
            slots = triton.next_power_of_2(parts)
            y = torch.empty_like(x)
            r_out = torch.empty_like(x) if r is not None else y
            ws = _workspace(x.device, share, slots, t) if exchange else y
            _exchange_kernel[(t * parts,)](
                x, x if r is None else r, y if w is None else w, y, r_out, ws, h, eps, bias,
                HAS_RESIDUAL=r is not None, HAS_WEIGHT=w is not None, SHARE=share, PARTS=parts, SLOTS=slots,
                EXCHANGE=exchange, num_warps=warps, launch_pdl=True)
            return y, (r_out if r is not None else None)

        def supports(self, case):
            return case.tokens <= 16 or "few rows only"

        def rms_norm(self, x, w, eps, bias=0.0):
            return self._launch(x, None, w, eps, bias)[0]

        def fused_add_rms_norm(self, x, r, w, eps, bias=0.0):
            return self._launch(x, r, w, eps, bias)
    return Var


class Floor:
    name = "floor"

    def _launch(self, x):
        y = torch.empty_like(x)
        _floor_kernel[(1,)](x, y, num_warps=1, launch_pdl=True)
        return y

    def rms_norm(self, x, w, eps, bias=0.0):
        return self._launch(x)

    def fused_add_rms_norm(self, x, r, w, eps, bias=0.0):
        return self._launch(x), torch.empty_like(r)


Ex256w1 = _make(256, 1, True)
Ex512w2 = _make(512, 2, True)
Ex1024w4 = _make(1024, 4, True)
Ex2048w8 = _make(2048, 8, True)
Bound512w2 = _make(512, 2, False)
Bound1024w4 = _make(1024, 4, False)
