"""Print the Triton source inductor generates for our compile peers at one shape (TORCH_LOGS=output_code)."""
import sys

import torch

from pytest_normfusion.impls.torch_compile import TorchCompile
from compile_peer import Static

T, H = int(sys.argv[1]), int(sys.argv[2])
x = torch.randn(T, H, device="cuda", dtype=torch.bfloat16)
r = torch.randn_like(x)
w = torch.randn(H, device="cuda", dtype=torch.bfloat16)
for peer in (TorchCompile(), Static()):
    print(f"=== {peer.name}", flush=True)
    peer.fused_add_rms_norm(x, r, w, 1e-6, 0.0)
    torch.cuda.synchronize()
