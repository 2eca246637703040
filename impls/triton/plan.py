"""Launch plans of our Triton kernels, chosen per device, and the launcher.

A ``Plan`` says which kernel runs a (T, H) problem and how: rows per program, columns
held, warps, programs, and whether programs loop over row blocks. ``plan()`` takes it
from the device's recorded tuning table where it has one (``TABLES``: the fastest plan
of ``benchmarks/tune_triton.py`` per measured shape, looked up at the nearest measured
H and T), and otherwise from ``rules()``, launch rules fitted to an H100 that scale with
the device's multiprocessor count (the default for other GPUs, and the interpreter's,
with ``INTERPRETER_MULTIPROCESSORS``).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import torch
import triton

from pytest_normfusion.impls.triton import kernels

INTERPRET = kernels.INTERPRET
# Largest power-of-two row kept whole in registers: 16384 fp32 values over 16 warps
# is 32 per thread (64 with the residual), within the register file.
MAX_SINGLE_PASS = 16384
# Elements a rows-kernel program holds at least: several rows per program when H is small.
MIN_TILE = 2048
MAX_ROWS = 64
ELEMENTS_PER_WARP = 512  # 16 per thread: two 16-byte vectors of a half type
MAX_WARPS = 16
# The H100 rules (benchmarks/tune_triton.py and bench_norms.py on an H100; docs/performance.md):
# - looping, where a row block holds LOOPING_MIN_TILE elements or more, there are
#   more than LOOPING_MIN_BLOCKS_PER_SM blocks a multiprocessor, and x has at most
#   LOOPING_MAX_ELEMENTS: fewer programs than blocks, each looping over blocks and loading
#   its next block while it reduces and stores the current one, the weight loaded once;
#   warps for LOOPING_PER_THREAD elements a thread (twice that with a residual), programs
#   for LOOPING_WARPS_PER_SM warps a multiprocessor, at most LOOPING_MAX_PER_SM;
# - otherwise one block per program. Up to LOOPING_MAX_ELEMENTS: several rows per block
#   when H is small (MIN_TILE), warps from the tile (ELEMENTS_PER_WARP), and twice the rows
#   from MANY_ROWS rows on (MANY_ROWS_RESIDUAL with a residual). Beyond: LARGE_WARPS warps
#   (twice that with a residual and a tile of LOOPING_MIN_TILE; enough for at most
#   LARGE_MAX_PER_THREAD elements a thread), and two rows per block where a quarter or
#   more of the block's columns are masked (no residual): as many bytes in flight.
LOOPING_MIN_TILE = 4096
LOOPING_MIN_BLOCKS_PER_SM = 4
LOOPING_MAX_ELEMENTS = 12 << 20
LOOPING_PER_THREAD = 16
LOOPING_WARPS_PER_SM = 32
LOOPING_MAX_PER_SM = 4
MANY_ROWS = 1024
MANY_ROWS_RESIDUAL = 4096
LARGE_WARPS = 8
LARGE_MAX_PER_THREAD = 64  # elements; more warps where a block holds more
# The rules hold a row in two pieces (split_row) from this many rows on. On the H200 two pieces
# were faster at T >= 1024 and one block at T = 1 and 256 for rms_norm (1.22 vs 1.45 us at
# 1 x 5120; benchmarks/results/h200-2026-12-02/tune.log); the H100 has not been timed with them.
SPLIT_MIN_ROWS = 1024
# Rows of at least this many columns whose starts are not 16-byte aligned take the aligned-body
# kernel (one row a program, or programs looping over rows of one head): on the H200 the rows kernel's scalar loads held H = 5125 at 0.67-0.77
# of the copy (benchmarks/results/h200-2026-12-02). Shorter rows keep several rows a program.
ALIGNED_BODY_MIN_COLS = 1024
# Looping programs of that kernel come in multiples of 8 (16 bytes of a 2-byte x), so that the
# rows of a program share one head (columns before the first 16-byte boundary) and one weight load.
ALIGNED_BODY_STEP = 8
# Columns a program of the weight's shifted copies writes (``kernels._weight_heads_kernel``): 8 a
# thread of 4 warps. With one program a head (5125 columns: 64 a thread, 145 registers), rms_norm
# at 5125 ran 7-10 % slower against the copy kernel at T = 1024 and 1-3 % at T 4096-32768
# (benchmarks/results/h200-2026-12-03-shifted, calls A and B).
WEIGHT_HEADS_BLOCK = 1024
# Multiprocessors assumed in Triton's interpreter, so that CPU runs take the looping plans too.
INTERPRETER_MULTIPROCESSORS = 4
# Programs in a thread-block cluster at most: the portable size (16 needs a function attribute set).
MAX_CLUSTER = 8
# Staged rows (``staged``): columns of a row's power-of-two block at most (16 KiB of a 2-byte x in
# shared memory a program).
STAGED_MAX_COLS = 8192
# Chunk of the two-pass kernel and its warps (beyond MAX_SINGLE_PASS).
CHUNK = 4096
CHUNK_WARPS = 8


@dataclasses.dataclass(frozen=True)
class Plan:
    """How a (T, H) problem is launched."""

    single_pass: bool  # the rows kernel (whole rows in registers), else the chunked two-pass kernel
    rows: int  # rows per program (1 for the chunked kernel)
    block: int  # columns of a row held per program, a power of two (the chunk for the chunked kernel)
    num_warps: int
    programs: int
    looping: bool = False  # fewer programs than row blocks: each loops, loading its next block early
    tail: int = 0  # the rows kernel's second piece of a row, a power of two (0: the block holds the row)
    # one row a program, its 16-byte aligned body in vectors (``kernels._norm_aligned_body_kernel``)
    # where H is not a multiple of 16 bytes and x and the residual are packed and aligned
    aligned_body: bool = False
    # that kernel, one row a program, loads its weight in vectors from copies shifted by each
    # head, written by a kernel launched first (``kernels._weight_heads_kernel``)
    weight_heads: bool = False
    # programs a row block (rows kernel, one block, not looping): each reads the block whole for
    # its sum of squares and stores 1/split of its columns; ``programs`` counts row blocks
    split: int = 1
    # programs a row in one thread-block cluster (cluster kernel, sm_90+), each loading only
    # ``block`` of its columns; ``programs`` counts rows (0: not that kernel)
    cluster: int = 0
    # programmatic dependent launch where the GPU has it (sm_90+): the next kernel launches while
    # this one stores (False: this plan's kernel launches after the previous one has finished)
    pdl: bool = True
    # one row a program with its x staged in shared memory (``staged._norm_staged_kernel``, sm_90+)
    # where the shape suits it (``_stages``); elsewhere the rows kernel runs the plan
    staged: bool = False

    @property
    def columns(self) -> int:
        """Columns of a row the rows kernel holds: the block and the tail."""
        return self.block + self.tail


@dataclasses.dataclass(frozen=True)
class Table:
    """A device's tuning table: plan specs by (residual, fp32 weight with a 2-byte x), H, T."""

    device: str  # torch.cuda.get_device_name, as measured
    multiprocessors: int  # as measured; a device of the same name with another count gets the rules
    source: str  # where the measurements are
    plans: dict[tuple[bool, bool], dict[int, dict[int, str]]]


# H200 (132 SMs, 60 MB L2, eager device copy 4250 GB/s): the fastest of every plan timed
# by benchmarks/tune_triton.py per shape, bf16 x, weight bf16 (weight_bias 0) or fp32
# (weight_bias 1); printed by benchmarks/plan_table.py. Specs: r<rows>w<warps>, one row
# block per program; r<rows>w<warps>p<n>, n programs a multiprocessor looping over the
# blocks; either ending in u: the row as one power-of-two block, not two pieces;
# r<rows>w<warps>s<n>, n programs a row block, each storing 1/n of its columns (one block);
# r1w<warps>k<n>, n programs a row in one thread-block cluster, each loading 1/n of it;
# r1w<warps>[p<n>]a, the aligned-body kernel (rows not 16-byte aligned), r2w<warps>a with two
# rows of one head a program, either (not p<n>) ending in av with its weight in vectors from
# copies shifted by each head; r1w<warps>g, one row a program with x staged
# in shared memory (Gluon, ``staged``); c<chunk>w<warps>, the chunked kernel; any of them ending
# in n: launched without programmatic dependent launch (the kernel starts once the previous one
# has finished). Where each cell was timed (benchmarks/results/):
# - h200-2026-12-04-pairs (call F): H 5125, where two rows of one head a program beat the cell's plan
#   by 1 % or more: fused_add's T 2048 with an fp32 weight (r2w8a, 1.2-1.6 %) and rms_norm's T 16384
#   and 32768 with an fp32 weight (r2w4av: 1.5-1.8 % with a bf16 x, a tie with fp16, 0.02 % behind at
#   fp16 32768);
# - h200-2026-12-03-prefetch (call D2): H 5125 at T 1024, rms_norm's and fused_add's with an fp32 weight,
#   where the looping aligned-body kernel, now loading each row while it normalises the one before
#   (r1w8p2a), beat the cell's plan by 6-9 %; the T 2048 cells keep the plan T 2048 looked up before
#   (the T 1024 cell's): r1w8p2a was 1-2 % slower there with an fp16 x (and for fused_add), 0.1-1 %
#   faster for rms_norm with a bf16 x;
# - h200-2026-12-03-t512 (call A): T 512 cells of both ops, where the tune's fastest (every plan) beat the
#   plan T 512 looked up (the T 256 cell's) by 1 % or more (1.5-26 %; T 363-724 look them up); fused_add's
#   T 8192 cells, where the chunked kernel beat the T 4096 cell's plan by 1.1-4.2 % (T 5793-11585 look them up);
#   (calls D, E) rms_norm's T 2048 and 4096 cells at 5120 with an fp32 weight, off the staged kernel, which ran
#   fp16 x 2-14 % slower than bf16 x there: r2w8 the fastest for both at T 4096-8192, r1w4p4 at T 2048 (fp16
#   12 % faster, bf16 1.2 % slower);
# - h200-2026-12-03-t2048 (call A): fused_add's T 2048 cells, where the tune's fastest (every plan) beat
#   the plan T 2048 looked up (the T 1024 cell's) by 1 % or more (2.1-5.7 % with an fp32 weight; T 1449-2896
#   look them up); rms_norm's 8192 x 8192 with a same-dtype weight (the chunked kernel, 1.9 %);
# - h200-2026-12-03-timeline (calls A, B): rms_norm's cells at T 1024-4096 where the staged kernel (r1w<n>g;
#   H not a power of two held in a masked block) beat the cell's plan by 1 % or more, and T 2048 cells
#   where it beat the plan T 2048 looked up (the T 1024 cell's) by 1.5-15 % (T 1449-2896 look them up);
# - h200-2026-12-03-gluon (calls I, J): rms_norm's 1024 x 8192 with a same-dtype weight, where x staged
#   in shared memory (r1w8g) took 7.99 us, FlashInfer's CuTe-DSL kernel 8.07, the cell's r1w8 8.41
#   (judged at the cases that look the cell up, and swept, in h200-2026-12-03-staged, call K);
# - h200-2026-12-03-shifted (call B): rms_norm's 1024 x 5125, where the aligned-body kernel with its
#   weight from shifted copies (av), the copies now written by many small programs, beat the cell's
#   looping plan by 3.7 % (bf16 weight) and 6.3 % (fp32 weight);
# - h200-2026-12-03-cold (call F): fused_add's at T 16384-32768 for H 5120, 7168 and 8192, where
#   the tune's fastest (the chunked kernel; at 8192 with 32 warps, so that 2 rows a multiprocessor
#   are in flight and the second pass finds them in L2) beat the cell's plan by 1 % or more;
# - h200-2026-12-02-mbarrier: T 1 at every H, where the tune's fastest (with the cluster kernel's
#   one-instruction mbarrier exchange) beat the cell's plan by 2 % or more (probe/pick_t1.py): the
#   cluster kernel in 19 cells, fused_add's 2048 with a bf16 weight s4 (8 warps);
# - h200-2026-12-02-clusters: the rest of T 1, where the tune's fastest (the cluster kernel, k<n>, beside each
#   cell's plan) was at least 2 % faster than the cell's plan (probe/pick_t1.py): the cluster
#   kernel with an fp32 weight at H 5120-8192 and at 5125 for both weights, and fused_add's
#   2880 with an fp32 weight (s2, 16 warps);
# - h200-2026-12-02-heads: H 5125, where the tune's fastest beat the cell's plan by 1 % or more:
#   the aligned-body kernel with its weight from shifted copies (av) at rms_norm's T 4096-32768,
#   and 4 cells of T 16-1024 (fused_add's at T 4096-32768 kept their plans, 0-0.6 % behind
#   the fastest); fused_add's at 32768 x 8192 with an fp32 weight (tune_fused_8192, 0.6 %);
# - h200-2026-12-02-static: T 1 at H 2880, 5125, 7168 and fused_add's at 6144 with an fp32
#   weight (s<n>); T 16384-32768 at H 6144 and 7168 (the chunked kernel with H a constant);
#   rms_norm at T 4096 for H 4096-8192 and with an fp32 weight at 1024 x 2048;
# - h200-2026-12-02-aligned: H 2880 and 5125 (the aligned body); T 16384-32768 at H 2048,
#   4096 and 8192; T 1024 at 2048; T 1 at 4096, 5120, 6144 and 8192 (s<n>);
# - h200-2026-12-02: the rest of H 5120 and 6144 (their T=16 is 5120's of 2026-12-01);
# - h200-2026-12-01: the rest, timed before rows were held in two pieces.
# fmt: off
_H200_PLANS = {
    (False, False): {
        2048: {1: "r1w4", 16: "r1w4", 256: "r1w4", 1024: "r1w4", 2048: "r1w4g", 4096: "r2w4", 16384: "r1w4", 32768: "c1024w4"},
        2880: {1: "r1w1k6", 16: "r1w8u", 256: "r2w8u", 512: "r1w16u", 1024: "r1w4u", 2048: "r1w4g", 4096: "r2w4", 16384: "r1w4u", 32768: "r2w4u"},
        4096: {1: "r1w1k8", 16: "r1w8", 256: "r2w8", 512: "r1w16", 1024: "r1w8p4", 2048: "r1w4g", 4096: "r1w8", 16384: "c2048w8", 32768: "c2048w8"},
        5120: {1: "r1w4k5", 16: "r1w16u", 256: "r2w16u", 512: "r1w8u", 1024: "r1w4", 2048: "r1w4g", 4096: "r1w4g", 16384: "r1w8", 32768: "r1w8"},
        5125: {1: "r1w2k6", 16: "r1w4a", 256: "r1w4a", 1024: "r1w8p2a", 2048: "r1w4av", 4096: "r1w4av", 16384: "r1w4av", 32768: "r1w4av"},
        6144: {1: "r1w4k6", 16: "r1w16u", 256: "r2w16u", 512: "r1w16p2u", 1024: "r2w8", 2048: "r1w4g", 4096: "c4096w8", 16384: "c2048w8", 32768: "c4096w8"},
        7168: {1: "r1w4k7", 16: "r1w16", 256: "r2w16", 512: "r1w16p2", 1024: "r1w8g", 2048: "r1w4g", 4096: "r1w4g", 16384: "c4096w16", 32768: "c4096w16"},
        8192: {1: "r1w4k8", 16: "r1w16", 256: "r2w16", 1024: "r1w8g", 2048: "r1w4g", 4096: "r2w16", 8192: "c4096w16", 16384: "c4096w16", 32768: "c4096w16"},
    },
    (False, True): {
        2048: {1: "r1w1k8", 16: "r1w4", 256: "r2w16", 512: "r1w16", 1024: "r1w4g", 2048: "r1w2g", 4096: "r1w2g", 16384: "r1w2", 32768: "r1w2"},
        2880: {1: "r1w1k6", 16: "r1w32u", 256: "r2w16u", 512: "c4096w16", 1024: "r1w4g", 2048: "r1w4g", 4096: "r1w4g", 16384: "r2w4", 32768: "r2w4"},
        4096: {1: "r1w1k8", 16: "r1w32", 256: "r2w16", 512: "r1w8p2", 1024: "r2w16p2", 2048: "r1w4g", 4096: "r2w4", 16384: "r1w4", 32768: "r1w4"},
        5120: {1: "r1w4k5", 16: "r1w8u", 256: "r1w4", 512: "r1w16p2u", 1024: "r1w4p4", 2048: "r1w4p4", 4096: "r2w8", 16384: "r2w8", 32768: "r2w8"},
        5125: {1: "r1w1k6", 16: "r1w16a", 256: "r2w8", 1024: "r1w8p2a", 2048: "r1w4av", 4096: "r1w4av", 16384: "r2w4av", 32768: "r2w4av"},
        6144: {1: "r1w4k6", 16: "r1w8u", 256: "r1w16u", 512: "r1w16p2u", 1024: "r2w8p2", 4096: "r1w8g", 16384: "c4096w8", 32768: "c4096w8"},
        7168: {1: "r1w4k7", 16: "r1w8", 256: "r1w16", 512: "r1w16p2", 1024: "r1w16p2", 4096: "r1w16g", 16384: "c2048w16", 32768: "c2048w16"},
        8192: {1: "r1w4k8", 16: "r1w8", 256: "r1w16p1", 512: "r1w16p2", 1024: "r1w16p2", 2048: "r1w16g", 4096: "r1w16g", 16384: "c4096w16", 32768: "c4096w16"},
    },
    (True, False): {
        2048: {1: "r1w8s4", 16: "r1w4", 256: "r2w4", 512: "r1w4", 1024: "r1w2", 4096: "r2w8", 8192: "c2048w8", 16384: "c2048w8", 32768: "c2048w8"},
        2880: {1: "r1w1k6", 16: "r1w16u", 256: "r1w16u", 1024: "r1w4u", 2048: "r1w4", 4096: "r1w4", 16384: "r1w8", 32768: "r1w8"},
        4096: {1: "r1w1k8", 16: "r1w8", 256: "r2w8", 512: "r4w8", 1024: "r4w8", 2048: "r1w2", 4096: "c4096w16", 16384: "c4096w16", 32768: "c4096w16"},
        5120: {1: "r1w4k5", 16: "r1w4u", 256: "r2w16u", 1024: "r2w16u", 2048: "r1w4u", 4096: "r1w16u", 8192: "c2048w16", 16384: "c4096w16", 32768: "c2048w16"},
        5125: {1: "r1w4k6", 16: "r1w4a", 256: "r1w16a", 1024: "r1w4a", 4096: "r1w4a", 16384: "r1w4a", 32768: "r1w4a"},
        6144: {1: "r1w4k6", 16: "r1w4u", 256: "r1w16p1u", 512: "r2w16u", 1024: "r1w16u", 4096: "r1w16u", 8192: "c2048w16", 16384: "c4096w16", 32768: "c4096w16"},
        7168: {1: "r1w4k7", 16: "r1w4", 256: "r1w16p1", 512: "r2w16", 1024: "r1w4", 4096: "r1w4", 8192: "c4096w16", 16384: "c4096w16", 32768: "c8192w16"},
        8192: {1: "r1w4k8", 16: "r1w4", 256: "r1w16p1", 512: "r2w16", 1024: "r1w4", 2048: "c4096w16", 4096: "r1w32", 8192: "c4096w16", 16384: "c4096w32", 32768: "c4096w32"},
    },
    (True, True): {
        2048: {1: "r1w1k8", 16: "r1w4", 256: "r2w16", 512: "r2w32", 1024: "r1w8", 2048: "r2w2", 4096: "r1w4", 8192: "c4096w8", 16384: "c2048w8", 32768: "c2048w8"},
        2880: {1: "r1w1k6", 16: "r1w16u", 256: "r2w16u", 512: "r1w16u", 1024: "r1w4", 4096: "r1w4", 16384: "r1w8", 32768: "c2048w8"},
        4096: {1: "r1w1k8", 16: "r1w8", 256: "r1w32", 512: "r1w16", 1024: "r2w4", 4096: "r1w16", 8192: "c2048w16", 16384: "c4096w16", 32768: "c4096w16"},
        5120: {1: "r1w4k5", 16: "r1w4u", 256: "r1w16p1", 512: "r1w8p2u", 1024: "r1w8p2u", 2048: "r1w8", 4096: "r1w16", 16384: "c2048w16", 32768: "c4096w16"},
        5125: {1: "r1w1k6", 16: "r1w16a", 256: "r1w16a", 1024: "r1w8p2a", 2048: "r2w8a", 4096: "r1w4a", 16384: "r1w4a", 32768: "r1w4a"},
        6144: {1: "r1w4k6", 16: "r1w4u", 256: "r2w8", 1024: "r1w8p2u", 2048: "r1w4", 4096: "r1w4", 8192: "c4096w16", 16384: "c2048w16", 32768: "c2048w16"},
        7168: {1: "r1w4k7", 16: "r1w4", 256: "r1w16", 512: "r2w8", 1024: "r1w8p2", 2048: "r1w4", 4096: "r1w4", 8192: "c4096w16", 16384: "c2048w16", 32768: "c4096w16"},
        8192: {1: "r1w4k8", 16: "r1w8", 256: "r2w8", 1024: "r2w16p1", 2048: "r1w16", 4096: "r1w16", 8192: "c4096w16", 16384: "c4096w32", 32768: "c4096w32"},
    },
}
# fmt: on
H200 = Table(
    device="NVIDIA H200",
    multiprocessors=132,
    source="benchmarks/results/h200-2026-12-04-pairs/tune_pairs.json, h200-2026-12-03-prefetch/tune_prefetch.json, "
    "h200-2026-12-03-t512/tune_512.json, tune_fused_8192.json, tune_fp16_5120.json, "
    "h200-2026-12-03-t2048/tune_fused_2048.json, tune_rms_8192.json, "
    "h200-2026-12-03-timeline/tune_staged_*.json, "
    "h200-2026-12-03-gluon/gluon_cute.json, "
    "h200-2026-12-03-shifted/callB.tar.xz (tune_heads.json), "
    "h200-2026-12-03-cold/callF.tar.xz (tune_fused_w32.json), "
    "h200-2026-12-02-mbarrier/tune_t1_lanes.json.xz, "
    "h200-2026-12-02-clusters/tune_t1_clusters.json.xz, "
    "h200-2026-12-02-heads/tune_heads.json.xz, tune_fused_8192.json.xz, "
    "h200-2026-12-02-static/tune_*.json.xz, h200-2026-12-02-aligned/tune_*.json.xz, "
    "h200-2026-12-02/tune_triton.json.xz, "
    "h200-2026-12-01/tune_triton.json",
    plans=_H200_PLANS,
)
# Keyed by device name; an H100 (and any GPU not listed) takes rules() with its own
# multiprocessor count: the H100 rules are its table.
TABLES = {H200.device: H200}

_SPEC = re.compile(
    r"(?:r(?P<rows>\d+)|c(?P<chunk>\d+))w(?P<warps>\d+)(?:p(?P<per_sm>\d+))?(?:s(?P<split>\d+)|k(?P<cluster>\d+))?"
    r"(?:(?P<whole>u)|(?P<aligned>a)(?P<heads>v)?|(?P<staged>g))?(?P<no_pdl>n)?$"
)


def _nearest(keys: Any, value: int) -> int:
    """The key nearest ``value`` on a log scale (the smaller on a tie)."""
    return min(sorted(keys), key=lambda k: abs(math.log2(k) - math.log2(max(value, 1))))


def from_table(
    table: Table,
    n_rows: int,
    n_cols: int,
    residual: bool,
    fp32_weight: bool,
    max_single_pass: int,
    multiprocessors: int,
) -> Plan | None:
    """The table's plan for the nearest measured H and T, fitted to (T, H); None outside its H range."""
    by_h = table.plans.get((residual, fp32_weight))
    if not by_h or not min(by_h) <= n_cols <= max(by_h):
        return None
    by_t = by_h[min(sorted(by_h), key=lambda h: abs(h - n_cols))]
    return from_spec(by_t[_nearest(by_t, n_rows)], n_rows, n_cols, max_single_pass, multiprocessors)


def from_spec(spec: str, n_rows: int, n_cols: int, max_single_pass: int, multiprocessors: int) -> Plan | None:
    """The plan a table spec names (see ``_H200_PLANS``), fitted to (T, H): rows, warps and
    programs cut to what the shape holds; None where its block exceeds ``max_single_pass`` or
    its row takes more programs than a cluster holds."""
    m = _SPEC.match(spec)
    if m is None:
        raise ValueError(
            f"plan spec {spec!r} is not r<rows>w<warps>[p<n>][s<n>|k<n>][u|a|av|g][n] or c<chunk>w<warps>[n]"
        )
    if m["heads"] and m["per_sm"]:
        raise ValueError(f"plan spec {spec!r}: the weight's shifted copies (av) are for one row a program, not p<n>")
    if m["aligned"] and (m["rows"] not in ("1", "2") or (m["rows"] == "2" and m["per_sm"])):
        raise ValueError(f"plan spec {spec!r}: the aligned-body kernel takes r1, or r2 (two rows a program, no p<n>)")
    if m["staged"] and (m["rows"] != "1" or m["per_sm"] or m["split"] or m["cluster"]):
        raise ValueError(f"plan spec {spec!r}: x staged in shared memory (g) is r1w<warps>g, one row a program")
    p = _fitted(m, n_rows, n_cols, max_single_pass, multiprocessors)
    return dataclasses.replace(p, pdl=False) if p is not None and m["no_pdl"] else p


def _fitted(m: re.Match[str], n_rows: int, n_cols: int, max_single_pass: int, multiprocessors: int) -> Plan | None:
    """``from_spec``'s plan for a matched spec, launching the next kernel early (the default)."""
    warps = int(m["warps"])
    if m["chunk"]:
        chunk = int(m["chunk"])
        return Plan(False, 1, chunk, warps, n_rows) if chunk <= max_single_pass else None
    if m["cluster"]:
        try:
            return cluster(n_rows, n_cols, int(m["cluster"]), warps)
        except ValueError:  # more programs a row than a cluster holds
            return None
    block = triton.next_power_of_2(n_cols)
    rows = min(int(m["rows"]), triton.next_power_of_2(n_rows))
    if rows * block > max_single_pass:
        return None
    if m["staged"]:  # where it cannot stage, the rows kernel runs it as r1w<warps>
        return split_row(Plan(True, 1, block, max(1, min(warps, block // 32)), n_rows, staged=True), n_cols)
    per_sm = int(m["per_sm"]) * multiprocessors if m["per_sm"] else None
    if m["aligned"]:
        return aligned_body(n_rows, n_cols, min(warps, block // 32), per_sm, weight_heads=bool(m["heads"]), rows=rows)
    warps = max(1, min(warps, rows * block // 32))
    blocks = triton.cdiv(n_rows, rows)
    if m["split"]:  # one block: its shares are powers of two
        return Plan(True, rows, block, warps, blocks, split=min(int(m["split"]), block // 32))
    programs = min(per_sm or blocks, blocks)
    p = Plan(True, rows, block, warps, programs, looping=programs < blocks)
    return p if m["whole"] else split_row(p, n_cols)


def cluster(n_rows: int, n_cols: int, programs: int, num_warps: int) -> Plan:
    """A plan for the cluster kernel: about ``programs`` programs a row (as many power-of-two
    shares as the row needs, 2 to ``MAX_CLUSTER``), ``num_warps`` warps each (at most one
    per 32 columns of a share)."""
    share = triton.next_power_of_2(triton.cdiv(n_cols, programs))
    parts = triton.cdiv(n_cols, share)
    if not 2 <= parts <= MAX_CLUSTER:
        raise ValueError(f"{parts} programs a row of {n_cols}: a cluster holds 2 to {MAX_CLUSTER}")
    return Plan(True, 1, share, max(1, min(num_warps, share // 32)), n_rows, cluster=parts)


def pieces(n_cols: int) -> tuple[int, int]:
    """``n_cols`` as two power-of-two pieces where they hold fewer columns than one power-of-two
    block (5120 = 4096 + 1024, not 8192; 7168 stays one block of 8192), else (block, 0)."""
    block = triton.next_power_of_2(n_cols)
    head = block // 2
    tail = triton.next_power_of_2(max(n_cols - head, 1))
    return (head, tail) if block > n_cols and head + tail < block else (block, 0)


def split_row(p: Plan, n_cols: int) -> Plan:
    """A rows-kernel plan with its row held as two power-of-two pieces (``pieces``)."""
    if not p.single_pass or p.tail or p.block <= n_cols:
        return p
    block, tail = pieces(n_cols)
    return dataclasses.replace(p, block=block, tail=tail)


def aligned_body(
    n_rows: int,
    n_cols: int,
    num_warps: int,
    programs: int | None = None,
    weight_heads: bool = False,
    rows: int = 1,
) -> Plan:
    """A plan for the aligned-body kernel: ``rows`` rows a program (1, or 2 of one head:
    ``aligned_body_grid`` says which), its weight from shifted copies with ``weight_heads``,
    or ``programs`` (rounded up to a multiple of ``ALIGNED_BODY_STEP``) looping over the rows
    one at a time. Where the inputs do not suit that kernel (strided or unaligned rows), the
    rows kernel runs it, rows in two pieces."""
    block, tail = pieces(n_cols)
    if rows not in (1, 2) or (programs is not None and rows > 1):
        raise ValueError(f"the aligned-body kernel takes one or two rows a program (looping: one), not {rows}")
    blocks = triton.cdiv(n_rows, rows)
    programs = blocks if programs is None else min(n_rows, -(-programs // ALIGNED_BODY_STEP) * ALIGNED_BODY_STEP)
    looping = programs < blocks
    return Plan(
        True,
        rows,
        block,
        num_warps,
        programs,
        looping,
        tail,
        aligned_body=True,
        weight_heads=not looping and weight_heads,
    )


def aligned_body_grid(p: Plan, n_rows: int, vec: int) -> int:
    """Programs of the aligned-body kernel for plan ``p``: with two rows a program, ``vec`` a group
    of ``2 * vec`` rows, program j of a group taking its rows j and j + vec (rows ``vec`` apart
    share a head)."""
    return p.programs if p.rows == 1 else vec * triton.cdiv(n_rows, vec * p.rows)


def rules(
    n_rows: int,
    n_cols: int,
    residual: bool = False,
    max_single_pass: int = MAX_SINGLE_PASS,
    multiprocessors: int = INTERPRETER_MULTIPROCESSORS,
) -> Plan:
    """Kernel, rows per block, warps and programs by T and H (see ``LOOPING_MAX_ELEMENTS``)."""
    block = triton.next_power_of_2(n_cols)
    if block > max_single_pass:
        chunk = min(CHUNK, max_single_pass)
        return Plan(False, 1, chunk, CHUNK_WARPS, n_rows)
    rows = max(1, min(MAX_ROWS, MIN_TILE // block, triton.next_power_of_2(n_rows)))
    warps = max(1, min(MAX_WARPS, rows * block // ELEMENTS_PER_WARP))
    blocks = triton.cdiv(n_rows, rows)
    small = n_rows * n_cols <= LOOPING_MAX_ELEMENTS
    if small and rows * block >= LOOPING_MIN_TILE and blocks > LOOPING_MIN_BLOCKS_PER_SM * multiprocessors:
        per_thread = LOOPING_PER_THREAD * (2 if residual else 1)
        warps = max(4, min(MAX_WARPS, rows * block // (32 * per_thread)))
        per_sm = min(LOOPING_MAX_PER_SM, LOOPING_WARPS_PER_SM // warps)
        return Plan(True, rows, block, warps, per_sm * multiprocessors, looping=True)
    if small:
        if n_rows >= (MANY_ROWS_RESIDUAL if residual else MANY_ROWS) and 2 * rows * block <= max_single_pass:
            rows *= 2
        return Plan(True, rows, block, warps, triton.cdiv(n_rows, rows))
    if not residual and 4 * n_cols <= 3 * block and 2 * rows * block <= max_single_pass:
        rows *= 2
    warps = LARGE_WARPS * (2 if residual and rows * block >= LOOPING_MIN_TILE else 1)
    warps = min(MAX_WARPS, max(warps, rows * block // (32 * LARGE_MAX_PER_THREAD)))
    return Plan(True, rows, block, min(warps, rows * block // 32), triton.cdiv(n_rows, rows))


def plan(
    n_rows: int,
    n_cols: int,
    residual: bool = False,
    max_single_pass: int = MAX_SINGLE_PASS,
    multiprocessors: int = INTERPRETER_MULTIPROCESSORS,
    table: Table | None = None,
    itemsize: int = 2,
    fp32_weight: bool = False,
) -> Plan:
    """The plan for (T, H): the device table's (2-byte x, H within its range), else ``rules()``.
    A rows-kernel plan holds its row in two pieces where that holds fewer columns (``split_row``):
    the table's unless its spec ends in ``u``, the rules' from ``SPLIT_MIN_ROWS`` rows on. The
    rules send rows not a multiple of 16 bytes, from ``ALIGNED_BODY_MIN_COLS`` on, to the
    aligned-body kernel (the table where its spec ends in ``a``)."""
    if table is not None and itemsize == 2:
        p = from_table(table, n_rows, n_cols, residual, fp32_weight, max_single_pass, multiprocessors)
        if p is not None:
            return p
    p = rules(n_rows, n_cols, residual, max_single_pass, multiprocessors)
    if p.single_pass and n_cols >= ALIGNED_BODY_MIN_COLS and n_cols * itemsize % 16:
        return aligned_body(n_rows, n_cols, p.num_warps, p.programs if p.looping else None)
    return split_row(p, n_cols) if n_rows >= SPLIT_MIN_ROWS else p


@functools.cache
def device_table(device: torch.device) -> Table | None:
    """The tuning table recorded for this GPU (name and multiprocessor count), or None."""
    if INTERPRET or device.type != "cuda":
        return None
    props = torch.cuda.get_device_properties(device)
    table = TABLES.get(props.name)
    return table if table is not None and table.multiprocessors == props.multi_processor_count else None


@functools.cache
def multiprocessors(device: torch.device) -> int:
    if INTERPRET or device.type != "cuda":
        return INTERPRETER_MULTIPROCESSORS
    return torch.cuda.get_device_properties(device).multi_processor_count


@functools.cache
def _hopper(device: torch.device) -> bool:
    """Whether our kernels run compiled on an sm_90+ GPU (not the interpreter): programmatic
    dependent launch and thread-block clusters."""
    return not INTERPRET and device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 9


@functools.cache
def _pdl_flags(device: torch.device, wanted: bool = True) -> dict[str, bool]:
    """Programmatic dependent launch where the GPU has it (sm_90+) and the plan wants it, as
    FlashInfer's norms use it: our launch overlaps the previous kernel's tail, and ``gdc_wait``
    keeps its writes ordered."""
    return {"USE_PDL": True, "launch_pdl": True} if wanted and _hopper(device) else {"USE_PDL": False}


def _rows_2d(name: str, t: torch.Tensor) -> torch.Tensor:
    """A (T, H) view with unit column stride (a copy only when no such view exists)."""
    t2 = t.reshape(-1, t.size(-1)) if t.dim() != 2 else t
    if t2.stride(-1) != 1:
        t2 = t2.contiguous()
    if t2.size(0) > 1 and t2.stride(0) < t2.size(1):
        raise ValueError(f"{name} rows overlap (row stride {t2.stride(0)} < H={t2.size(1)})")
    return t2


def _packed_and_aligned(n_cols: int, *rows: torch.Tensor | None) -> bool:
    """Whether every (T, H) input is packed and starts on a 16-byte boundary, as new outputs do."""
    return all(t is None or (t.stride(0) == n_cols and t.data_ptr() % 16 == 0) for t in rows)


def _weight_heads(weight: torch.Tensor, vec: int) -> torch.Tensor:
    """The weight shifted by each head 0..vec-1: a (vec, H rounded up to vec) tensor."""
    stride = triton.cdiv(weight.numel(), vec) * vec
    heads = torch.empty((vec, stride), dtype=weight.dtype, device=weight.device)
    kernels._weight_heads_kernel[(vec, triton.cdiv(stride, WEIGHT_HEADS_BLOCK))](
        weight, heads, weight.numel(), stride, BLOCK=WEIGHT_HEADS_BLOCK, num_warps=4, **_pdl_flags(weight.device)
    )  # fmt: skip
    return heads


@functools.cache
def _staged_kernel() -> Any:
    """The Gluon kernel of ``staged``, or None where this triton has no Gluon to build it."""
    try:
        from pytest_normfusion.impls.triton import staged
    except ImportError:
        return None
    return staged._norm_staged_kernel


def _stages(p: Plan, x2: torch.Tensor, residual: torch.Tensor | None, n_cols: int) -> bool:
    """Whether ``p`` runs the staged kernel here: an sm_90+ GPU, no residual, a 2-byte x whose
    rows are a multiple of 16 bytes, 16-byte aligned, in a power-of-two block of at most
    ``STAGED_MAX_COLS`` columns that holds a 16-byte vector for every thread (the kernel's layout
    holds no column twice)."""
    block = triton.next_power_of_2(n_cols)
    return (
        p.staged
        and residual is None
        and _hopper(x2.device)
        and x2.element_size() == 2
        and n_cols * x2.element_size() % 16 == 0
        and p.columns >= n_cols
        and 16 // x2.element_size() * 32 * p.num_warps <= block <= STAGED_MAX_COLS
        and x2.data_ptr() % 16 == 0
        and x2.stride(0) * x2.element_size() % 16 == 0
        and _staged_kernel() is not None
    )


def _launch_in_clusters(kernel: Any, rows: int, parts: int, *args: Any, **kwargs: Any) -> None:
    """Launch ``kernel`` as ``rows`` clusters of ``parts`` programs. triton makes a program
    a cluster (``num_ctas``) only where it can spread each reduction over the cluster
    (triton 3.6 cannot), so the kernel is compiled as usual and its PTX, with the cluster's
    size declared (``.explicitcluster``, ``.reqnctapercluster``), compiled again through
    triton's ``ir_override``: the driver then launches ``rows * parts`` programs in clusters."""
    compiled = kernel.warmup(*args, grid=(rows * parts,), **kwargs)
    compiled = compiled.result() if hasattr(compiled, "result") else compiled  # compiled asynchronously
    kernel[(rows * parts,)](*args, ir_override=_cluster_ptx(compiled.asm["ptx"], parts), **kwargs)


@functools.cache
def _cluster_ptx(ptx: str, parts: int) -> str:
    """The path of ``ptx`` declared to run in clusters of ``parts`` programs, written once,
    atomically, under the temporary directory and named by its content: processes share the
    directory, and one kernel's PTX differs between them where their ptxas differs (torch's
    inductor points triton at torch's own ptxas once it compiles), which triton's hash of the
    kernel does not tell apart. The path keys triton's cache."""
    declared, found = re.subn(
        r"^(\.reqntid .*)$", rf"\1\n.explicitcluster\n.reqnctapercluster {parts}, 1, 1", ptx, count=1, flags=re.M
    )
    if not found:
        raise RuntimeError("triton's PTX has no .reqntid line to declare the cluster after")
    digest = hashlib.sha256(declared.encode()).hexdigest()[:32]
    path = Path(tempfile.gettempdir()) / "normfusion-cluster-ptx" / f"{digest}.ptx"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(declared)
        partial.replace(path)
    return str(path)


def launch(
    x: torch.Tensor,
    residual: torch.Tensor | None,
    weight: torch.Tensor | None,
    eps: float,
    weight_bias: float,
    max_single_pass: int = MAX_SINGLE_PASS,
    launch_plan: Plan | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(y, r_out)`` (``r_out`` None without a residual); outputs are new, packed, in ``x.dtype``."""
    x2 = _rows_2d("x", x)
    n_rows, n_cols = x2.shape
    r2 = None if residual is None else _rows_2d("residual", residual)
    if r2 is not None and r2.shape != x2.shape:
        raise ValueError(f"residual shape {tuple(residual.shape)} differs from x {tuple(x.shape)}")
    if weight is not None and (weight.dim() != 1 or weight.numel() != n_cols or weight.stride(0) != 1):
        raise ValueError(f"weight must be a packed ({n_cols},) vector, got {tuple(weight.shape)}")
    y = torch.empty((n_rows, n_cols), dtype=x.dtype, device=x.device)
    r_out = None if r2 is None else torch.empty_like(y)
    if y.numel():
        p = launch_plan or plan(
            n_rows,
            n_cols,
            r2 is not None,
            max_single_pass,
            multiprocessors(x.device),
            device_table(x.device),
            x.element_size(),
            weight is not None and weight.dtype == torch.float32 and x.dtype != torch.float32,
        )
        args = (
            x2,
            x2 if r2 is None else r2,  # unread without a residual
            y if weight is None else weight,  # unread without a weight
            y,
            y if r_out is None else r_out,  # unwritten without a residual
        )
        strides = (x2.stride(0), x2.stride(0) if r2 is None else r2.stride(0))
        flags = dict(
            HAS_RESIDUAL=r2 is not None,
            HAS_WEIGHT=weight is not None,
            ROUND_BF16=INTERPRET and x.dtype == torch.bfloat16,
            num_warps=p.num_warps,
            **_pdl_flags(x.device, p.pdl),
        )
        vec = 16 // x.element_size()
        if _stages(p, x2, r2, n_cols):
            _staged_kernel()[(n_rows,)](
                x2, args[2], y, x2.stride(0), eps, weight_bias, H=n_cols, BLOCK=triton.next_power_of_2(n_cols), VEC=vec,
                HAS_WEIGHT=weight is not None,
                num_warps=p.num_warps, **_pdl_flags(x.device, p.pdl),
            )  # fmt: skip
        elif p.cluster:
            if not _hopper(x.device):
                raise ValueError(f"a plan of {p.cluster} programs a row needs thread-block clusters (sm_90+)")
            n_body = n_cols // 16 * 16
            one_row = n_rows == 1  # strides 0: its loads are vectors even where H is not a multiple of 16 bytes
            _launch_in_clusters(
                kernels._norm_cluster_kernel, n_rows, p.cluster, *args, n_cols, n_body,
                *((0, 0, 0) if one_row else (*strides, n_cols)), eps, weight_bias, SHARE=p.block, PARTS=p.cluster,
                EDGE=n_body < n_cols, START_PTX=kernels.cluster_start_ptx(p.cluster),
                SUM_PTX=kernels.cluster_sum_ptx(p.cluster),
                **{k: v for k, v in flags.items() if k != "ROUND_BF16"},
            )  # fmt: skip
        elif p.aligned_body and n_cols % vec and _packed_and_aligned(n_cols, x2, r2):
            block, tail = pieces(n_cols - n_cols % vec)  # the body's columns at most
            heads = p.weight_heads and weight is not None
            w_heads = _weight_heads(weight, vec) if heads else args[2]  # the weight again, unread
            grid = aligned_body_grid(p, n_rows, vec)
            kernels._norm_aligned_body_kernel[(grid,)](
                *args, n_rows, n_cols, eps, weight_bias, w_heads, w_heads.size(-1), VEC=vec, BLOCK=block, TAIL=tail,
                LOOPING=p.looping, WEIGHT_FIRST=grid <= multiprocessors(x.device), WEIGHT_HEADS=heads, PAIRS=p.rows == 2,
                **flags,
            )  # fmt: skip
        elif p.single_pass:
            kernels._norm_rows_kernel[(p.programs * p.split,)](
                *args,
                n_rows,
                n_cols,
                *strides,
                eps,
                weight_bias,
                ROWS=p.rows,
                BLOCK=p.block,
                TAIL=p.tail,
                LOOPING=p.looping,
                SPLIT=p.split,
                **flags,
            )
        else:
            kernels._norm_chunks_kernel[(p.programs,)](
                *args, *strides, eps, weight_bias, N_COLS=n_cols, CHUNK=p.block, **flags
            )
    shape = x.shape
    return y.view(shape), None if r_out is None else r_out.view(shape)
