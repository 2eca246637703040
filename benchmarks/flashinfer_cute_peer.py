"""FlashInfer's default norm path, its CuTe-DSL kernels, as a benchmark peer beside the shipped
``flashinfer`` candidate timed on its CUDA kernels (``FLASHINFER_USE_CUDA_NORM=1``).

FlashInfer chooses the path once, when ``flashinfer.norm`` is imported: the CuTe-DSL kernels
unless that variable is 1 or nvidia-cutlass-dsl does not import. This peer declines every case
where the process is on the CUDA path, so its records name the kernels they timed. Run it in a
process without the variable (``env -u FLASHINFER_USE_CUDA_NORM``).
"""

from __future__ import annotations

import importlib

import torch

from pytest_normfusion.impls.flashinfer import FlashInfer


class FlashInferCute(FlashInfer):
    name = "flashinfer-cute"

    def supports(self, case: object) -> bool | str:
        answer = super().supports(case)
        if answer is not True:
            return answer
        norm = importlib.import_module("flashinfer.norm")
        if norm._use_cuda_norm(torch.device("cuda")):
            return "FlashInfer is on its CUDA norm kernels here (FLASHINFER_USE_CUDA_NORM=1, or no nvidia-cutlass-dsl)"
        return True
