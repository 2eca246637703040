"""Print the Triton source inductor generates for our static compile peer at rms_norm, bf16 x, fp32 weight + 1 (TORCH_LOGS=output_code)."""
import sys

import torch

from compile_peer import Static

T, H = int(sys.argv[1]), int(sys.argv[2])
x = torch.randn(T, H, device="cuda", dtype=torch.bfloat16)
w = torch.randn(H, device="cuda", dtype=torch.float32)
peer = Static()
print(f"=== {peer.name} {T} x {H}", flush=True)
peer.rms_norm(x, w, 1e-6, 1.0)
torch.cuda.synchronize()
