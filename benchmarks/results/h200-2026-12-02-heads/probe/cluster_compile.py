"""On the CPU: compile the rows kernel and three one-line reductions for sm_90 with num_ctas 2 and 4
(a thread-block cluster a program). ``kern`` is impls/triton/kernels.py at 47d82ed with its
interpreter import replaced by ``interpreting = lambda: False``; run with each triton installed."""
import re, sys, triton, triton.language as tl
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
import kern
print(triton.__version__)
sig = dict(x_ptr="*bf16", r_ptr="*bf16", w_ptr="*fp32", y_ptr="*bf16", r_out_ptr="*bf16", n_rows="i32", n_cols="i32", x_stride="i32", r_stride="i32", eps="fp32", weight_bias="fp32",
           HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", ROWS="constexpr", BLOCK="constexpr", TAIL="constexpr", ROUND_BF16="constexpr", USE_PDL="constexpr", LOOPING="constexpr", SPLIT="constexpr")
div = {(i,): [["tt.divisibility", 16]] for i, k in enumerate(sig) if k in ("x_ptr","r_ptr","w_ptr","y_ptr","r_out_ptr","n_cols","x_stride","r_stride")}
def comp(fn, sig, consts, ctas, warps=4, attrs=div):
    try:
        ck = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts, attrs=attrs), target=GPUTarget("cuda", 90, 32), options={"num_warps": warps, "num_ctas": ctas, "launch_pdl": True})
        ptx = ck.asm["ptx"]
        return f"ok ld {len(re.findall('ld.global', ptx))} cluster {len(re.findall('mapa|shared::cluster|barrier.cluster', ptx))}"
    except Exception as e:
        return "FAIL " + str(e).splitlines()[0][:100]
print("rows", comp(kern._norm_rows_kernel, sig, dict(HAS_RESIDUAL=False, HAS_WEIGHT=True, ROWS=1, BLOCK=8192, TAIL=0, ROUND_BF16=False, USE_PDL=True, LOOPING=False, SPLIT=1), 4))

@triton.jit
def k1(x_ptr, y_ptr, N: tl.constexpr, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    ok = cols < N
    s = tl.load(x_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    t = tl.sum(s * s, 0)
    tl.store(y_ptr + cols, (s * tl.math.rsqrt(t / N + 1e-6)).to(y_ptr.dtype.element_ty), mask=ok)

@triton.jit
def k2(x_ptr, y_ptr, N: tl.constexpr, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)[None, :]
    ok = cols < N
    s = tl.load(x_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    t = tl.sum(s * s, 1, keep_dims=True)
    tl.store(y_ptr + cols, (s * tl.math.rsqrt(t / N + 1e-6)).to(y_ptr.dtype.element_ty), mask=ok)

@triton.jit
def k3(x_ptr, y_ptr, N: tl.constexpr, BLOCK: tl.constexpr):
    cols = tl.arange(0, BLOCK)
    ok = cols < N
    s = tl.load(x_ptr + cols, mask=ok, other=0.0).to(tl.float32)
    t = tl.sum(tl.reshape(s * s, (8, BLOCK // 8)), 1)
    t = tl.sum(t, 0)
    tl.store(y_ptr + cols, (s * tl.math.rsqrt(t / N + 1e-6)).to(y_ptr.dtype.element_ty), mask=ok)
s2 = dict(x_ptr="*bf16", y_ptr="*bf16", N="constexpr", BLOCK="constexpr")
a2 = {(0,): [["tt.divisibility", 16]], (1,): [["tt.divisibility", 16]]}
for name, fn in (("1d", k1), ("2d keep", k2), ("reshape", k3)):
    for ctas in (2, 4):
        print(name, ctas, comp(fn, s2, dict(N=8192, BLOCK=8192), ctas, attrs=a2))
