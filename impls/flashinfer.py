"""FlashInfer 0.7.2.post1 as a candidate: its CUDA norm kernels and the TRT-LLM all-reduce fusion.

What each op maps to (signatures read from flashinfer-python 0.7.2.post1):

- ``rms_norm``: ``flashinfer.norm.rmsnorm(input, weight, eps)`` for ``weight_bias == 0``,
  ``gemma_rmsnorm`` (``(1 + w)``) for ``weight_bias == 1``; both return a new tensor.
- ``fused_add_rms_norm``: ``fused_add_rmsnorm`` / ``gemma_fused_add_rmsnorm``, which
  return nothing and write in place: ``residual <- x + residual`` (rounded),
  ``input <- norm``. We return ``(input, residual)``; the suite hands us copies.
- ``allreduce_rms_norm``: ``flashinfer.comm.allreduce_fusion`` with pattern
  ``kARResidualRMSNorm`` on a workspace made with ``backend="trtllm"``, with
  ``weight_bias`` passed through and ``fp32_acc=True``. No residual is an all-zero
  one (``s + 0`` is exact). One workspace per (process group, fp32 or not), made on
  first use and destroyed at exit.

FlashInfer takes no ``weight=None``: we pass ones of ``x.dtype`` (exact, so the
result is the unscaled norm). ``weight_bias`` other than 0 and 1 has no norm kernel.

Guards (``supports`` says the same): the kernels reinterpret the weight's memory as
``x.dtype``, so an fp32 weight with bf16 x returns NaN with no error (DESIGN.md 9,
H100, all four norm functions and ``allreduce_fusion``): we raise instead. The norm
kernels load ``gcd(16 / itemsize, H)`` elements per 16-byte access, so a row stride
that is not a multiple of that would fault with a misaligned address, which poisons
the CUDA context for the rest of the process: we raise instead of launching.
"""

from __future__ import annotations

import atexit
import functools
import importlib
import math
from typing import TYPE_CHECKING, Any

import torch

if TYPE_CHECKING:
    from pytest_normfusion.api import Case

# Workspace capacity of the all-reduce fusion: tokens x hidden it may carry.
# 8192 x 8192 covers the perf sweep up to T=8192 at H=8192 (T=32768 at H=2048);
# at world size 2 the TRT-LLM buffers take 4 x 2 x 128 MiB per rank (bf16).
WORKSPACE_TOKENS = 8192
WORKSPACE_HIDDEN = 8192
# allreduce_fusion's kernel is instantiated for these rank counts only
# (trtllm_allreduce_fusion.cuh: "Supported ranks: 2, 4, 8, 16").
WORLD_SIZES = (2, 4, 8, 16)
# One 16-byte access per thread; a token is at most 8 blocks (cluster) of 1024 threads.
ACCESS_BYTES = 16
MAX_THREADS_PER_TOKEN = 8 * 1024


def _flashinfer(submodule: str) -> Any:
    """``flashinfer.<submodule>``, or an ImportError that says how to get it."""
    try:
        return importlib.import_module(f"flashinfer.{submodule}")
    except ImportError as exc:
        raise ImportError(
            f"flashinfer is not importable ({exc}); install flashinfer-python==0.7.2.post1 "
            "(or the bundle of shared/gpu/flashinfer-bundle.sh) on a CUDA host"
        ) from exc


@functools.cache
def unavailable() -> str | None:
    """Why FlashInfer cannot run here, or None."""
    if not torch.cuda.is_available():
        return "FlashInfer needs a CUDA device (none is available)"
    try:
        _flashinfer("norm")
    except ImportError as exc:
        return str(exc)
    return None


def norm_vector_size(hidden: int, itemsize: int) -> int:
    """Elements per 16-byte access of FlashInfer's norm kernels: ``gcd(16 / itemsize, H)``."""
    return math.gcd(ACCESS_BYTES // itemsize, hidden)


def _check_dtypes(
    x: torch.Tensor, weight: torch.Tensor | None, *, allow_fp32: bool = False, allow_mixed: bool = False
) -> None:
    """The norm kernels take fp16 / bf16 x (the all-reduce fusion fp32 too), and a weight of x's dtype."""
    if x.dtype not in (torch.float16, torch.bfloat16) and not (allow_fp32 and x.dtype == torch.float32):
        raise TypeError(f"FlashInfer's norm kernels take fp16 or bf16 x, not {x.dtype}")
    if weight is not None and weight.dtype != x.dtype and not allow_mixed:
        raise TypeError(
            f"FlashInfer reads the weight as x.dtype: a {weight.dtype} weight with {x.dtype} x "
            "returns NaN (FlashInfer 0.7.2.post1); refused"
        )


def _check_rows(name: str, t: torch.Tensor) -> None:
    """Refuse what would fault in the vectorised loads instead of launching it."""
    if t.dim() != 2 or t.stride(-1) != 1:
        raise ValueError(f"FlashInfer needs a 2-D {name} with unit last stride, got strides {t.stride()}")
    vec = norm_vector_size(t.size(1), t.element_size())
    if t.size(0) > 1 and t.stride(0) % vec:
        raise ValueError(
            f"{name} row stride {t.stride(0)} is not a multiple of FlashInfer's access width "
            f"({vec} elements for H={t.size(1)}): the kernel would fault on a misaligned address"
        )
    if t.data_ptr() % (vec * t.element_size()):
        raise ValueError(f"{name} data pointer is not {vec * t.element_size()}-byte aligned")


def _scale(x: torch.Tensor, weight: torch.Tensor | None, weight_bias: float) -> tuple[torch.Tensor, float]:
    """(weight, weight_bias) for FlashInfer, which has no weight=None: then ones of x.dtype
    (exact) and no bias, since without a weight weight_bias is not used (DESIGN.md 2)."""
    if weight is None:
        return torch.ones(x.size(-1), dtype=x.dtype, device=x.device), 0.0
    if weight_bias not in (0.0, 1.0):
        raise ValueError(f"FlashInfer has norm kernels for weight_bias 0 and 1 only, not {weight_bias}")
    return weight, weight_bias


class _Workspaces:
    """TRT-LLM all-reduce fusion workspaces, one per (group, fp32 or not), destroyed at exit."""

    def __init__(self) -> None:
        self._made: dict[tuple[int, bool], Any] = {}
        atexit.register(self.destroy)

    def get(self, group: Any, dtype: torch.dtype) -> Any:
        import torch.distributed as dist

        group = group or dist.group.WORLD
        key = (id(group), dtype == torch.float32)  # the Lamport buffers are fp32 or 16-bit
        if key not in self._made:
            self._made[key] = _flashinfer("comm").create_allreduce_fusion_workspace(
                backend="trtllm",
                world_size=dist.get_world_size(group),
                rank=dist.get_rank(group),
                max_token_num=WORKSPACE_TOKENS,
                hidden_dim=WORKSPACE_HIDDEN,
                dtype=dtype,
                group=group,
            )
        return self._made[key]

    def destroy(self) -> None:
        while self._made:
            _, workspace = self._made.popitem()
            workspace.destroy()


class FlashInfer:
    """FlashInfer 0.7.2.post1's norm kernels and TRT-LLM all-reduce + residual + RMSNorm fusion.

    Set ``FLASHINFER_USE_CUDA_NORM=1`` on GPU hosts without nvidia-cutlass-dsl:
    it selects the CUDA norm kernels instead of the CuTe-DSL ones.
    """

    name = "flashinfer"
    # refuse a weight whose dtype differs from x's at the call (FlashInferUnchecked lets it through)
    refuses_mixed_weights = True

    def __init__(self) -> None:
        self._workspaces: _Workspaces | None = None

    def supports(self, case: Case) -> bool | str:
        reason = unavailable()
        if reason:
            return reason
        if case.dtype == "fp32" and case.op != "allreduce_rms_norm":
            return "FlashInfer's norm kernels dispatch fp16 and bf16 only"
        if case.weight_bias not in (0.0, 1.0):
            return f"FlashInfer has norm kernels for weight_bias 0 and 1 only, not {case.weight_bias:g}"
        if case.mixed_weight:
            return f"an {case.weight} weight with {case.dtype} x returns NaN in FlashInfer 0.7.2.post1 (DESIGN.md 9)"
        if case.op == "allreduce_rms_norm":
            return self._supports_allreduce(case)
        vec = norm_vector_size(case.hidden, case.itemsize)
        if case.tokens > 1 and case.row_stride % vec:
            return f"row stride {case.row_stride} is not a multiple of the {vec}-element access for H={case.hidden}"
        return True

    def _supports_allreduce(self, case: Case) -> bool | str:
        if case.world_size not in WORLD_SIZES:
            return f"the TRT-LLM fusion kernel takes world sizes {WORLD_SIZES}, not {case.world_size}"
        if case.layout != "contiguous":
            return "allreduce_fusion needs contiguous input and residual"
        vec = ACCESS_BYTES // case.itemsize
        if case.hidden % vec:
            return f"the TRT-LLM fusion kernel needs H % {vec} == 0 ({case.dtype}), H={case.hidden}"
        if case.hidden // vec > MAX_THREADS_PER_TOKEN:
            return f"H={case.hidden} needs more than {MAX_THREADS_PER_TOKEN} threads per token"
        if case.hidden // vec < case.world_size:
            return f"H={case.hidden} has fewer 16-byte accesses than ranks; the two-shot launch needs as many"
        if case.tokens * case.hidden > WORKSPACE_TOKENS * WORKSPACE_HIDDEN:
            return (
                f"T x H = {case.tokens * case.hidden} exceeds the workspace ({WORKSPACE_TOKENS} x {WORKSPACE_HIDDEN})"
            )
        return True

    def rms_norm(
        self, x: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> torch.Tensor:
        norm = _flashinfer("norm")
        _check_dtypes(x, weight, allow_mixed=not self.refuses_mixed_weights)
        _check_rows("x", x)
        weight, weight_bias = _scale(x, weight, weight_bias)
        fn = norm.gemma_rmsnorm if weight_bias == 1.0 else norm.rmsnorm
        return fn(x, weight, eps)

    def fused_add_rms_norm(
        self, x: torch.Tensor, residual: torch.Tensor, weight: torch.Tensor | None, eps: float, weight_bias: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        norm = _flashinfer("norm")
        _check_dtypes(x, weight, allow_mixed=not self.refuses_mixed_weights)
        _check_rows("x", x)
        _check_rows("residual", residual)
        weight, weight_bias = _scale(x, weight, weight_bias)
        fn = norm.gemma_fused_add_rmsnorm if weight_bias == 1.0 else norm.fused_add_rmsnorm
        fn(x, residual, weight, eps)  # in place: residual <- x + r, x <- y
        return x, residual

    def allreduce_rms_norm(
        self,
        x: torch.Tensor,
        residual: torch.Tensor | None,
        weight: torch.Tensor | None,
        eps: float,
        weight_bias: float = 0.0,
        group: Any = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        comm = _flashinfer("comm")
        _check_dtypes(x, weight, allow_fp32=True, allow_mixed=not self.refuses_mixed_weights)
        if not x.is_contiguous() or (residual is not None and not residual.is_contiguous()):
            raise ValueError("allreduce_fusion needs contiguous input and residual")
        weight, weight_bias = _scale(x, weight, weight_bias)
        if self._workspaces is None:
            self._workspaces = _Workspaces()
        workspace = self._workspaces.get(group, x.dtype)
        if not workspace.is_buffer_size_sufficient(workspace.world_size, x.size(0), x.size(1), x.dtype):
            raise ValueError(f"T x H = {x.size(0)} x {x.size(1)} exceeds the all-reduce fusion workspace")
        norm_out, residual_out = torch.empty_like(x), torch.empty_like(x)
        comm.allreduce_fusion(
            input=x,
            workspace=workspace,
            pattern=comm.AllReduceFusionPattern.kARResidualRMSNorm,
            launch_with_pdl=False,
            residual_out=residual_out,
            norm_out=norm_out,
            residual_in=torch.zeros_like(x) if residual is None else residual,
            rms_gamma=weight,
            rms_eps=eps,
            fp32_acc=True,
            weight_bias=weight_bias,
        )
        return norm_out, residual_out


class FlashInferUnchecked(FlashInfer):
    """FlashInfer with the call-time weight-dtype refusal removed, so the suite's probe of the
    declined mixed-weight cases shows what the kernels themselves return (``supports`` unchanged;
    the guards against misaligned rows, which would fault the GPU, stay)."""

    name = "flashinfer-unchecked"
    refuses_mixed_weights = False
