"""Compile the reference at the shapes where torch.compile leads; print inductor's Triton kernels' chosen configs."""
import gc, sys, time
import torch
sys.path.insert(0, "benchmarks")
from compile_peer import Static
from pytest_normfusion.impls.torch_compile import TorchCompile
from pytest_normfusion.perf import timing, stats

cases = [("fused_add_rms_norm", torch.bfloat16, 0.0, 32768, 8192), ("fused_add_rms_norm", torch.bfloat16, 0.0, 32768, 4096),
         ("rms_norm", torch.float32, 1.0, 32768, 8192), ("fused_add_rms_norm", torch.bfloat16, 0.0, 16384, 6144),
         ("rms_norm", torch.float32, 1.0, 1024, 2048), ("rms_norm", torch.float32, 1.0, 256, 5120),
         ("rms_norm", torch.float32, 1.0, 16384, 2880), ("rms_norm", torch.bfloat16, 0.0, 16384, 2048),
         ("rms_norm", torch.bfloat16, 0.0, 32768, 5125), ("fused_add_rms_norm", torch.bfloat16, 0.0, 32768, 5125)]
for peer_cls in (Static, TorchCompile):
    for op, wd, bias, t, h in cases:
        peer = peer_cls()
        x = torch.randn(t, h, device="cuda", dtype=torch.bfloat16)
        w = torch.randn(h, device="cuda", dtype=wd)
        print(f"=== {peer_cls.__name__} {op} w={wd} bias={bias} {t}x{h}", flush=True)
        if op == "rms_norm":
            peer.rms_norm(x, w, 1e-6, bias)
        else:
            peer.fused_add_rms_norm(x, x.clone(), w, 1e-6, bias)
        torch.cuda.synchronize()
from torch._inductor.runtime.triton_heuristics import CachingAutotuner
for obj in gc.get_objects():
    if isinstance(obj, CachingAutotuner):
        for l in obj.launchers:
            print("KERNEL", obj.fn.__name__, getattr(obj, "size_hints", None), l.config, "regs", getattr(l, "n_regs", None),
                  "spills", getattr(l, "n_spills", None), "shared", getattr(l, "shared", None), "configs", len(obj.configs))
