"""Our Triton kernels against a slice of the conformance suite, in Triton's CPU interpreter,
and compiled for Hopper without a GPU.

Suite runs are subprocesses, as a user runs them. Skipped where triton is not
installed; on a GPU host the same runs compile the kernels.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")

# Every dtype, weight dtype, weight_bias and op on four shapes: odd H with strided
# rows and fp16-overflowing outliers, a realistic odd H (its row in two pieces) strided
# and packed, and many short rows (the many-rows-per-program path).
SLICE = (
    "*-T33xH67-eps1e-06-strided-outlier",
    "*-T83xH5125-eps1e-05-strided-normal",
    "*-T83xH5125-eps1e-05-contiguous-normal",
    "*-T2049xH24-eps1e-06-contiguous-tiny",
)


def _run(pytester: pytest.Pytester, impl: str, *patterns: str) -> pytest.RunResult:
    """The suite for ``impl`` on the cases matching ``patterns`` (an option passes through as is)."""
    return pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "-q",
        "-k",
        "test_norm",
        f"--normfusion-impl={impl}",
        *(p if p.startswith("--") else f"--normfusion-case={p}" for p in patterns),
    )


def test_triton_conforms_on_a_slice_of_the_suite(pytester: pytest.Pytester) -> None:
    result = _run(pytester, "triton", *SLICE)
    # 2 ops x (5 weight options for fp16 and bf16 + 3 for fp32) x 4 shapes
    result.assert_outcomes(passed=104)
    result.stdout.fnmatch_lines(["*rms_norm*bf16*fp32*1*fp32*", "*fused_add_rms_norm*fp16*fp16*fp32/fp32-sum*"])


def test_two_pass_kernel_conforms(pytester: pytest.Pytester) -> None:
    """A tiny single-pass bound sends every H past 64 to the chunked two-pass kernel."""
    pytester.makepyfile(
        chunked="from pytest_normfusion.impls.triton import Triton\n\n"
        "def make():\n    return Triton(max_single_pass=64)\n"
    )
    result = _run(
        pytester,
        "chunked:make",
        "*-bf16-*-T33xH67-eps1e-06-strided-outlier",
        "*-fp32-w_fp32-*-T7xH5120-*-contiguous-normal",
    )
    result.assert_outcomes(passed=10 + 8)  # bf16: 2 ops x 5 weight options; fp32: 2 ops x 2 biases x 2 eps


# Compiles the kernels for Hopper (sm_90) with the ptxas that ships in the triton
# wheel: no GPU needed. Integer arguments and pointers are marked 16-divisible the way
# Triton specialises them at launch for packed rows of H % 16 == 0; the aligned-body
# kernel's H (5125) is not, and its body still moves in 16-byte vectors.
_COMPILE_FOR_HOPPER = """
import re, sys
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from pytest_normfusion.impls.triton import kernels as tn

assert not tn.INTERPRET
common = {"x_ptr": "*{x}", "r_ptr": "*{x}", "w_ptr": "*{w}", "y_ptr": "*{x}", "r_out_ptr": "*{x}"}
rows = dict(common, n_rows="i32", n_cols="i32", x_stride="i32", r_stride="i32", eps="fp32", weight_bias="fp32",
            HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", ROWS="constexpr", BLOCK="constexpr", TAIL="constexpr",
            ROUND_BF16="constexpr", USE_PDL="constexpr", LOOPING="constexpr", SPLIT="constexpr")
chunks = dict(common, x_stride="i32", r_stride="i32", eps="fp32", weight_bias="fp32", N_COLS="constexpr",
              HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", CHUNK="constexpr", ROUND_BF16="constexpr", USE_PDL="constexpr")
aligned = dict(common, n_rows="i32", n_cols="i32", eps="fp32", weight_bias="fp32", w_heads_ptr="*{w}", w_heads_stride="i32",
               HAS_RESIDUAL="constexpr", HAS_WEIGHT="constexpr", VEC="constexpr", BLOCK="constexpr", TAIL="constexpr",
               ROUND_BF16="constexpr", USE_PDL="constexpr", LOOPING="constexpr", WEIGHT_FIRST="constexpr", WEIGHT_HEADS="constexpr",
               PAIRS="constexpr")
variants = [
    (tn._norm_rows_kernel, rows, "bf16", "fp32", dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, ROWS=1, BLOCK=4096, TAIL=0, LOOPING=True, SPLIT=1), 8),
    (tn._norm_rows_kernel, rows, "fp16", "fp16", dict(HAS_RESIDUAL=False, HAS_WEIGHT=True, ROWS=64, BLOCK=32, TAIL=0, LOOPING=False, SPLIT=1), 4),
    (tn._norm_rows_kernel, rows, "fp32", "fp32", dict(HAS_RESIDUAL=True, HAS_WEIGHT=False, ROWS=1, BLOCK=8192, TAIL=0, LOOPING=False, SPLIT=1), 16),
    (tn._norm_rows_kernel, rows, "bf16", "bf16", dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, ROWS=1, BLOCK=4096, TAIL=1024, LOOPING=True, SPLIT=1), 8),
    (tn._norm_rows_kernel, rows, "bf16", "fp32", dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, ROWS=1, BLOCK=8192, TAIL=0, LOOPING=False, SPLIT=4), 4),
    (tn._norm_chunks_kernel, chunks, "bf16", "bf16", dict(N_COLS=8192, HAS_RESIDUAL=True, HAS_WEIGHT=True, CHUNK=4096), 8),
    (tn._norm_aligned_body_kernel, aligned, "fp16", "fp32", dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, LOOPING=False, WEIGHT_FIRST=False, WEIGHT_HEADS=True, PAIRS=True), 8),
    (tn._norm_aligned_body_kernel, aligned, "bf16", "fp32", dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, LOOPING=False, WEIGHT_FIRST=False, WEIGHT_HEADS=False, PAIRS=False), 16),
    (tn._norm_aligned_body_kernel, aligned, "bf16", "bf16", dict(HAS_RESIDUAL=False, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, LOOPING=False, WEIGHT_FIRST=True, WEIGHT_HEADS=False, PAIRS=False), 8),
    (tn._norm_aligned_body_kernel, aligned, "fp16", "fp16", dict(HAS_RESIDUAL=False, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, LOOPING=True, WEIGHT_FIRST=False, WEIGHT_HEADS=False, PAIRS=False), 4),
    # its weight from copies shifted by each head: more 16-byte loads than the bf16 variant two lines up (element by element)
    (tn._norm_aligned_body_kernel, aligned, "bf16", "bf16", dict(HAS_RESIDUAL=False, HAS_WEIGHT=True, VEC=8, BLOCK=4096, TAIL=1024, LOOPING=False, WEIGHT_FIRST=True, WEIGHT_HEADS=True, PAIRS=False), 8),
]
for fn, sig, x, w, consts, warps in variants:
    signature = {k: v.format(x=x, w=w) for k, v in sig.items()}
    odd_h = fn is tn._norm_aligned_body_kernel
    ints = [i for i, (k, v) in enumerate(signature.items()) if v.startswith("*") or (v == "i32" and k != "n_rows" and not odd_h)]
    attrs = {(i,): [["tt.divisibility", 16]] for i in ints}
    src = ASTSource(fn=fn, signature=signature, constexprs=dict(consts, ROUND_BF16=False, USE_PDL=True), attrs=attrs)
    options = {"num_warps": warps, "launch_pdl": True}
    ptx = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options).asm["ptx"]
    loads = len(re.findall(r"ld\\.global[^\\n]*\\.v4", ptx))
    stores = len(re.findall(r"st\\.global[^\\n]*\\.v4", ptx))
    pdl = "griddepcontrol.wait" in ptx and "griddepcontrol.launch_dependents" in ptx
    print(fn.__name__, x, w, loads, stores, int(pdl))
"""


def _compiled_offline(pytester: pytest.Pytester, **script: str) -> str:
    """The output of a script that compiles our kernels for Hopper, run in a fresh process with
    the interpreter off; skipped where the triton wheel has no ptxas."""
    import triton

    ptxas = Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "ptxas"
    if not ptxas.exists():
        pytest.skip(f"no ptxas in the triton wheel ({ptxas})")
    path = pytester.makepyfile(**script)
    env = {**os.environ, "NORMFUSION_TRITON_INTERPRET": "0", "TRITON_DEFAULT_FP_FUSION": "1"}
    env.pop("TRITON_INTERPRET", None)
    run = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    return run.stdout


def test_kernels_compile_for_hopper_with_16_byte_loads_and_pdl(pytester: pytest.Pytester) -> None:
    out = _compiled_offline(pytester, compile_hopper=_COMPILE_FOR_HOPPER)
    # per variant: name, dtypes, 16-byte loads and stores, whether griddepcontrol (PDL) is in the PTX
    variants = [line.split() for line in out.splitlines()]
    assert len(variants) == 11, out
    assert all(int(loads) > 0 and int(stores) > 0 and pdl == "1" for *_, loads, stores, pdl in variants), out
    assert int(variants[-1][3]) > int(variants[-3][3]), out  # the weight's loads in vectors too


# The cluster kernel for Hopper: ptxas takes its exchange (distributed shared memory, an mbarrier
# and a cluster barrier, inline PTX), thread k of a program pushes its partial sum to program k of the cluster, a
# single row (strides 0) loads in 16-byte vectors where H is not a multiple of 16 (5125: EDGE),
# and its PTX with the cluster declared (plan._cluster_ptx) compiles to a cubin that carries it.
_CLUSTER_FOR_HOPPER = """
import pathlib
import re
import subprocess
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from pytest_normfusion.impls.triton import kernels as tn
from pytest_normfusion.impls.triton import plan

sig = {"x_ptr": "*bf16", "r_ptr": "*bf16", "w_ptr": "*fp32", "y_ptr": "*bf16", "r_out_ptr": "*bf16", "n_cols": "i32",
       "n_body": "i32", "x_stride": "i32", "r_stride": "i32", "out_stride": "i32", "eps": "fp32", "weight_bias": "fp32",
       "HAS_RESIDUAL": "constexpr", "HAS_WEIGHT": "constexpr", "SHARE": "constexpr", "PARTS": "constexpr",
       "EDGE": "constexpr", "START_PTX": "constexpr", "SUM_PTX": "constexpr", "USE_PDL": "constexpr"}
for parts, share, edge in ((2, 4096, False), (6, 1024, True)):
    divisible = [i for i, k in enumerate(sig) if sig[k].startswith("*") or k in ("n_body", "x_stride", "r_stride", "out_stride")]
    if not edge:
        divisible.append(list(sig).index("n_cols"))
    consts = dict(HAS_RESIDUAL=True, HAS_WEIGHT=True, SHARE=share, PARTS=parts, EDGE=edge,
                  START_PTX=tn.cluster_start_ptx(parts), SUM_PTX=tn.cluster_sum_ptx(parts), USE_PDL=True)
    src = ASTSource(fn=tn._norm_cluster_kernel, signature=sig, constexprs=consts, attrs={(i,): [["tt.divisibility", 16]] for i in divisible})
    options = {"num_warps": 4, "launch_pdl": True}
    compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)
    ptx = compiled.asm["ptx"]
    options["ir_override"] = plan._cluster_ptx(ptx, parts)
    # named by its content: the same kernel's PTX from another ptxas (another .version) gets its own file
    other = plan._cluster_ptx(re.sub(r"\\.version \\d+\\.\\d+", ".version 9.9", ptx), parts)
    assert other != options["ir_override"] and ".version 9.9" in pathlib.Path(other).read_text(), other
    declared = triton.compile(src, target=GPUTarget("cuda", 90, 32), options=options)
    pathlib.Path("declared.cubin").write_bytes(declared.asm["cubin"])
    tool = pathlib.Path(triton.__file__).parent / "backends" / "nvidia" / "bin" / "cuobjdump"
    elf = subprocess.run([str(tool), "-elf", "declared.cubin"], capture_output=True, text=True, check=True).stdout
    assert f".reqnctapercluster {parts}, 1, 1" in declared.asm["ptx"] and "EIATTR_CTA_PER_CLUSTER" in elf, parts
    barriers = " ".join(re.findall(r"barrier\\.cluster\\.[a-z.]+", ptx))
    loads = len(re.findall(r"ld\\.global[^\\n]*\\.v4", ptx))
    pushes = len(re.findall(r"st\\.async\\.shared::cluster\\.mbarrier::complete_tx::bytes", ptx))
    waits = len(re.findall(r"mbarrier\\.try_wait\\.parity\\.acquire\\.cluster", ptx))
    print(parts, len(compiled.asm["cubin"]) > 0, loads, pushes, waits, barriers)
"""


def test_cluster_kernel_compiles_for_hopper_with_its_exchange(pytester: pytest.Pytester) -> None:
    out = _compiled_offline(pytester, cluster_hopper=_CLUSTER_FOR_HOPPER)
    barriers = "barrier.cluster.arrive.relaxed.aligned barrier.cluster.wait.aligned"
    for line, parts in zip(out.splitlines(), (2, 6), strict=True):
        size, cubin, loads, pushes, waits, order = line.split(maxsplit=5)
        # x, the residual and the weight in 16-byte vectors; one push (thread k to program k, counted
        # on its mbarrier) and one wait on ours; one cluster barrier phase (arrive on entry, wait before pushing)
        assert (int(size), cubin, int(pushes), int(waits), order) == (parts, "True", 1, 1, barriers), line
        assert int(loads) >= 3, line


# The staged kernel (Gluon) for Hopper, through the names of the triton installed (Gluon's move
# between releases): x copied to shared memory with cp.async and read from there twice (16-byte
# loads of shared memory, 4 a thread each time at 8 warps and H 8192), the weight in 16-byte loads,
# programmatic dependent launch.
_STAGED_FOR_HOPPER = """
import re
import triton
from triton.backends.compiler import GPUTarget
from triton.experimental.gluon._runtime import GluonASTSource
from pytest_normfusion.impls.triton import staged

sig = {"x_ptr": "*bf16", "w_ptr": "*fp32", "y_ptr": "*bf16", "x_stride": "i32", "eps": "fp32", "weight_bias": "fp32",
       "H": "constexpr", "BLOCK": "constexpr", "VEC": "constexpr", "HAS_WEIGHT": "constexpr", "USE_PDL": "constexpr"}
for H in (8192, 5120):  # a power of two, and one held in a block of 8192 with the columns past H masked
    src = GluonASTSource(fn=staged._norm_staged_kernel, signature=sig,
                         constexprs=dict(H=H, BLOCK=8192, VEC=8, HAS_WEIGHT=True, USE_PDL=True),
                         attrs={(i,): [["tt.divisibility", 16]] for i in range(4)})
    compiled = triton.compile(src, target=GPUTarget("cuda", 90, 32), options={"num_warps": 8, "launch_pdl": True})
    ptx = compiled.asm["ptx"]
    print(len(compiled.asm["cubin"]) > 0, len(re.findall(r"cp\\.async\\.c[ag]\\.shared\\.global", ptx)),
          len(re.findall(r"ld\\.shared\\.v4", ptx)), len(re.findall(r"ld\\.global[^\\n]*\\.v4", ptx)),
          "griddepcontrol.wait" in ptx and "griddepcontrol.launch_dependents" in ptx)
"""


def test_staged_kernel_compiles_for_hopper_with_x_in_shared_memory(pytester: pytest.Pytester) -> None:
    import importlib.util

    if importlib.util.find_spec("triton.experimental.gluon") is None:
        pytest.skip("this triton has no Gluon")
    out = _compiled_offline(pytester, staged_hopper=_STAGED_FOR_HOPPER)
    (cubin, copies, shared_loads, weight_loads, pdl), masked = (line.split() for line in out.splitlines())
    assert (cubin, int(copies), int(shared_loads), pdl) == ("True", 4, 8, "True"), out
    assert int(weight_loads) >= 8, out  # 32 fp32 a thread
    # H 5120 in a block of 8192: 4 vectors a thread copied (the last under a mask), at least the 3 a
    # thread of 5120 columns read twice
    assert masked[:2] == ["True", "4"] and int(masked[2]) >= 6 and masked[4] == "True", out


def test_interpreter_works_after_another_impl_imported_triton(pytester: pytest.Pytester) -> None:
    """torch-compile first: ``import torch._dynamo`` imports triton before our kernels load."""
    result = _run(
        pytester,
        "torch-compile",
        "fused_add_rms_norm-bf16-w_fp32-bias1-T33xH67-eps1e-06-strided-outlier",
        "--normfusion-impl=triton",
    )
    result.assert_outcomes(passed=2)


# Every plan fits the kernel (the rules', and the H200 table's), and a looping plan (programs < row blocks, next block loaded early)
# and a split one (programs sharing a block) return bit for bit what one block per program returns, in the interpreter.
_PLANS_AND_LOOPING = """
import dataclasses
import itertools
import sys
import torch
from pytest_normfusion.impls.triton import interpret

assert interpret.enable()  # before triton is first imported
from pytest_normfusion.impls.triton import plan as tn

for T, H, residual, sms in itertools.product(
    (1, 7, 131, 133, 527, 528, 1024, 4097, 32768, 100000),
    (1, 24, 67, 2048, 2051, 4096, 5120, 5125, 8192, 12288, 16384, 20000),
    (False, True),
    (4, 132),
):
    p = tn.plan(T, H, residual, multiprocessors=sms)
    where = (T, H, residual, sms, p)
    if not p.single_pass:
        assert H > tn.MAX_SINGLE_PASS and p.programs == T and not p.looping, where
        continue
    blocks = -(-T // p.rows)
    assert p.columns >= H and p.rows * p.columns <= tn.MAX_SINGLE_PASS, where
    # a tail piece only where the row is not a power of two, and then smaller than one block
    assert p.tail == 0 or (p.block < H and p.tail & (p.tail - 1) == 0 and p.columns < 2 * p.block), where
    assert p.num_warps & (p.num_warps - 1) == 0 and 1 <= p.num_warps <= tn.MAX_WARPS, where
    assert p.num_warps == 1 or 32 * p.num_warps <= p.rows * 2 * p.block, where
    assert p.looping == (p.programs < blocks), where
    # rows not a multiple of 16 bytes, from ALIGNED_BODY_MIN_COLS on: one row a program
    assert p.aligned_body == (H % 8 != 0 and H >= tn.ALIGNED_BODY_MIN_COLS), where
    assert not p.aligned_body or (p.rows == 1 and (p.programs == T or p.programs % tn.ALIGNED_BODY_STEP == 0)), where
    if p.looping:
        assert p.programs % sms == 0 and blocks > tn.LOOPING_MIN_BLOCKS_PER_SM * sms, where
    else:
        assert p.programs == blocks, where

# the H200 table's plans, looked up at the nearest measured H and T, fit the kernel too
for T, H, residual, fp32_weight in itertools.product(
    (1, 2, 5, 64, 100, 527, 2048, 3000, 8192, 20000, 32768, 100000),
    (24, 2048, 2049, 2880, 3000, 4096, 5120, 5125, 6144, 7168, 8192, 8193, 12288, 16384),
    (False, True),
    (False, True),
):
    p = tn.plan(T, H, residual, multiprocessors=132, table=tn.H200, fp32_weight=fp32_weight)
    where = (T, H, residual, fp32_weight, p)
    if not 2048 <= H <= 8192:
        assert p == tn.plan(T, H, residual, multiprocessors=132), where  # the rules
    elif not p.single_pass:
        assert p.programs == T and p.rows == 1 and not p.looping and p.block <= tn.MAX_SINGLE_PASS, where
    elif p.cluster:  # a row over a cluster: as many power-of-two shares as it needs
        assert p.programs == T and 2 <= p.cluster <= tn.MAX_CLUSTER and p.block * (p.cluster - 1) < H <= p.block * p.cluster, where
    else:
        blocks = -(-T // p.rows)
        assert p.columns >= H and p.rows * p.columns <= tn.MAX_SINGLE_PASS and 32 * p.num_warps <= p.rows * 2 * p.block, where
        assert p.split == 1 or (not p.looping and not p.tail and p.block // p.split >= 32), where
        assert p.looping == (p.programs < blocks) and (p.looping or p.programs == blocks), where
assert tn.plan(32768, 5120, table=tn.H200, itemsize=4) == tn.split_row(tn.rules(32768, 5120), 5120), "4-byte x takes the rules"
assert tn.plan(1023, 5120) == tn.rules(1023, 5120) and tn.plan(1024, 5120).tail == 1024, "the rules split from 1024 rows"

torch.manual_seed(0)
for residual, wdtype in ((False, torch.float32), (True, torch.bfloat16)):
    x = torch.randn(37, 200, dtype=torch.bfloat16)[:, :67]  # strided rows
    r = torch.randn(37, 67, dtype=torch.bfloat16) if residual else None
    w = torch.randn(67, dtype=wdtype)
    for block, tail in ((128, 0), (64, 4)):  # the row as one block, and as two pieces
        once = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.Plan(True, 1, block, 4, 37, tail=tail))
        for split in (2, 4) if not tail else ():  # programs sharing a block, a share each
            shared = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.Plan(True, 1, block, 1, 37, split=split))
            assert torch.equal(shared[0], once[0]) and (not residual or torch.equal(shared[1], once[1])), split
        for rows, programs in ((1, 3), (1, 36), (2, 5), (4, 2), (16, 1)):
            plan = tn.Plan(True, rows, block, 4, programs, looping=True, tail=tail)
            looped = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=plan)
            assert torch.equal(looped[0], once[0]), (residual, rows, programs, tail)
            assert not residual or torch.equal(looped[1], once[1]), (residual, rows, programs, tail)

# the aligned-body kernel (H = 5125, packed rows), one row a program (over several waves, and
# in one: the weight loaded first; its weight from copies shifted by each head bit for bit what
# it loads element by element) and looping, against the rows kernel on the same rows: r_out
# bit for bit, y within two ulps (the sum's order differs, so rstd may by one); a base off the
# 16-byte boundary takes the rows kernel
for residual, dtype in ((False, torch.bfloat16), (True, torch.float16), (True, torch.float32)):
    flat = torch.randn(19 * 5125 + 1, dtype=dtype)
    for x in (flat[:-1].view(19, 5125), flat[1:].view(19, 5125)):
        r = torch.randn(19, 5125, dtype=dtype) if residual else None
        w = torch.randn(5125, dtype=torch.float32 if residual else dtype)
        rows = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.Plan(True, 1, 8192, 4, 19))
        one_row = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.aligned_body(19, 5125, 4))
        heads = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.aligned_body(19, 5125, 4, weight_heads=True))
        assert all(torch.equal(a, b) for a, b in zip(heads, one_row) if a is not None), "weight from shifted copies"
        if x.data_ptr() % 16 == 0:  # two rows of one head a program (the last program's second row past x)
            pairs = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.aligned_body(19, 5125, 4, weight_heads=residual, rows=2))
            assert all(torch.equal(a, b) for a, b in zip(pairs, one_row) if a is not None), "two rows a program"
        for programs in (None, 5, 16):  # 5 rounds up to 8
            aligned = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=tn.aligned_body(19, 5125, 4, programs))
            torch.testing.assert_close(aligned[0], rows[0], rtol=2 * torch.finfo(dtype).eps, atol=0)
            assert not residual or torch.equal(aligned[1], rows[1]), (residual, dtype, programs)
        few = tn.launch(x[:3], r if r is None else r[:3], w, 1e-6, 1.0, launch_plan=tn.aligned_body(3, 5125, 4))
        torch.testing.assert_close(few[0], rows[0][:3], rtol=2 * torch.finfo(dtype).eps, atol=0)
        assert not residual or torch.equal(few[1], rows[1][:3]), (residual, dtype)
        few_heads = tn.launch(
            x[:3], r if r is None else r[:3], w, 1e-6, 1.0, launch_plan=tn.aligned_body(3, 5125, 4, weight_heads=True)
        )
        assert all(torch.equal(a, b) for a, b in zip(few_heads, few) if a is not None), "weight first, from copies"

# the tuning sweep's specs (benchmarks/tune_triton.py) are the tables' (plan.from_spec): a parsed
# plan is named by its spec, and a spec the shape cannot hold as given is None, not cut to fit
sys.path.insert(0, BENCHMARKS)
from tune_triton import parse_plan, plan_name

for spec, T, H in (("r1w8p2", 32768, 5120), ("r2w16u", 4096, 5120), ("c2048w8", 7, 20000),
                   ("r1w4p4a", 32768, 5125), ("r1w16a", 3, 5125), ("r4w8", 4096, 2048), ("r1w4s4u", 1, 5120),
                   ("r1w4av", 32768, 5125), ("r1w4k5", 1, 5120), ("r1w2k6", 1, 5125), ("r1w8k8", 16, 8192),
                   ("r2w16un", 256, 5120), ("r1w4avn", 32768, 5125), ("r1w4k8n", 1, 8192), ("c2048w8n", 7, 20000),
                   ("r1w8g", 1024, 8192), ("r1w8gn", 1024, 8192), ("r2w8a", 2048, 5125), ("r2w4av", 32768, 5125)):
    p = parse_plan(spec, T, H, False, 132)
    assert p is not None and plan_name(p, 132, H) == f"triton[{spec}]", (spec, p)
    # a spec ending in n launches without programmatic dependent launch; the same plan otherwise
    assert p.pdl == (not spec.endswith("n")) and p == dataclasses.replace(parse_plan(spec.removesuffix("n"), T, H, False, 132), pdl=p.pdl), spec
assert parse_plan("r1w8p2", 32768, 5120, False, 132).tail == 1024 and parse_plan("r1w4p4a", 32768, 5125, False, 132).programs == 528
assert parse_plan("r1w4av", 32768, 5125, False, 132).weight_heads and not parse_plan("r1w4a", 9, 5125, False, 132).weight_heads
pairs = parse_plan("r2w4av", 32768, 5125, False, 132)
assert pairs.rows == 2 and pairs.programs == 16384 and tn.aligned_body_grid(pairs, 32768, 8) == 16384
assert tn.aligned_body_grid(parse_plan("r2w8a", 19, 5125, False, 132), 19, 8) == 16  # rows 0-15, then 16-18
# shifted weights or staged rows: one row a program; the aligned-body kernel: one or two rows, looping one
for spec in ("r1w4p4av", "r2w8g", "r1w8p2g", "r1w8s2g", "r4w8a", "r2w8p2a"):
    try:
        tn.from_spec(spec, 32768, 8192, tn.MAX_SINGLE_PASS, 132)
    except ValueError:
        pass
    else:
        raise AssertionError(spec)
# x staged in shared memory (Gluon) needs a GPU: in the interpreter, and with a residual, strided rows
# not 16-byte aligned or H not a power of two anywhere, the rows kernel runs the plan, bit for bit
staged = tn.from_spec("r1w8g", 37, 64, tn.MAX_SINGLE_PASS, 132)
assert staged == tn.Plan(True, 1, 64, 2, 37, staged=True), staged
for H in (64, 67, 9000):  # the same plan as r1w8 otherwise
    assert tn.from_spec("r1w8g", 37, H, tn.MAX_SINGLE_PASS, 132) == dataclasses.replace(
        tn.from_spec("r1w8", 37, H, tn.MAX_SINGLE_PASS, 132), staged=True), H
for residual, H in ((False, 64), (True, 64), (False, 67)):
    x = torch.randn(37, 200, dtype=torch.bfloat16)[:, :H]
    r = torch.randn(37, H, dtype=torch.bfloat16) if residual else None
    w = torch.randn(H, dtype=torch.float32)
    plan = tn.from_spec("r1w8g", 37, H, tn.MAX_SINGLE_PASS, 132)
    got = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=plan)
    want = tn.launch(x, r, w, 1e-6, 1.0, launch_plan=dataclasses.replace(plan, staged=False))
    assert all(torch.equal(a, b) for a, b in zip(got, want) if a is not None), (residual, H)
    assert not tn._stages(plan, x, r, H), (residual, H)
# on an sm_90+ GPU (stood in for here) it stages rows of 16-byte multiples, aligned, in a power-of-two
# block where every thread holds a 16-byte vector, none twice: 2048 bf16 columns are a vector for each
# of 8 warps' threads, not 16 warps'; 5120 in a block of 8192; not 5125, nor rows 2 bytes off
hopper, tn._hopper = tn._hopper, lambda device: True
x = torch.randn(37, 8192, dtype=torch.bfloat16)
for spec, H, stages in (("r1w8g", 2048, True), ("r1w16g", 2048, False), ("r1w8", 2048, False), ("r1w8g", 5120, True),
                        ("r1w16g", 5120, True), ("r1w8g", 5125, False), ("r1w8g", 8192, True), ("r1w8g", 16384, False)):
    rows = torch.randn(37, H, dtype=torch.bfloat16)
    assert tn._stages(tn.from_spec(spec, 37, H, tn.MAX_SINGLE_PASS, 132), rows, None, H) == stages, (spec, H)
assert not tn._stages(tn.from_spec("r1w8g", 37, 2048, tn.MAX_SINGLE_PASS, 132), x[:, 1:2049], None, 2048)
tn._hopper = hopper
# a row over a cluster: power-of-two shares, as many as the row needs (5120: 5 of 1024, not 4)
assert tn.cluster(1, 5120, 4, 4) == tn.Plan(True, 1, 2048, 4, 1, cluster=3) and tn.cluster(3, 5125, 8, 64).num_warps == 32
for programs, H in ((1, 5120), (16, 8192), (4, 1)):  # a cluster holds 2 to 8 programs
    try:
        tn.cluster(1, H, programs, 4)
    except ValueError:
        pass
    else:
        raise AssertionError((programs, H))
try:  # the interpreter has no clusters
    tn.launch(torch.randn(1, 5120), None, None, 1e-6, 0.0, launch_plan=tn.cluster(1, 5120, 8, 4))
except ValueError as e:
    assert "thread-block clusters" in str(e), e
else:
    raise AssertionError("a cluster plan in the interpreter")
for spec, T, H in (("r1w8p4", 100, 5120), ("r4w8", 1, 2048), ("r4w8", 4096, 8192), ("r1w4p4a", 300, 5125), ("r1w64", 9, 1024),
                   ("r1w4k4", 1, 5120), ("r1w2k11", 1, 5125)):
    assert parse_plan(spec, T, H, False, 132) is None, spec
# the quick sweep (benchmarks/bench_norms.py) times every T a device table has a cell for
from bench_norms import TOKENS_QUICK

cells = {T for table in tn.TABLES.values() for by_h in table.plans.values() for by_t in by_h.values() for T in by_t}
assert cells <= set(TOKENS_QUICK), sorted(cells - set(TOKENS_QUICK))
print("ok")
"""


def test_plans_fit_the_kernel_and_looping_programs_match_one_block_each(pytester: pytest.Pytester) -> None:
    benchmarks = Path(__file__).resolve().parents[1] / "benchmarks"
    script = pytester.makepyfile(plans_and_looping=f"BENCHMARKS = {str(benchmarks)!r}\n{_PLANS_AND_LOOPING}")
    env = {**os.environ, "NORMFUSION_TRITON_INTERPRET": "1"}
    run = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
