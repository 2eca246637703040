"""Probe (fourteenth H200 run): the sweep's timing with replays of about 1 ms (timing.TARGET_REPLAY_S, as
shipped) against replays of about 5 ms, the same candidates prepared both ways and sampled in alternation,
at shapes of 32-64 MiB of input (and one of 512 MiB); the 1 GiB copy roofline before and after.

    python replay.py OUT.json
"""

import json
import statistics
import sys

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing, verdict

SHAPES = [  # op, dtype, weight, bias, T, H
    ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096), ("rms_norm", "bf16", "bf16", 0.0, 2048, 8192),
    ("rms_norm", "bf16", "bf16", 0.0, 4096, 8192), ("rms_norm", "bf16", "bf16", 0.0, 4096, 5120),
    ("rms_norm", "bf16", "fp32", 1.0, 4096, 8192), ("rms_norm", "bf16", "fp32", 1.0, 2048, 8192),
    ("fused_add_rms_norm", "bf16", "bf16", 0.0, 2048, 4096), ("fused_add_rms_norm", "bf16", "bf16", 0.0, 2048, 8192),
    ("fused_add_rms_norm", "bf16", "bf16", 0.0, 4096, 4096), ("fused_add_rms_norm", "bf16", "fp32", 1.0, 2048, 7168),
    ("rms_norm", "bf16", "bf16", 0.0, 32768, 8192),
]  # fmt: skip
REPLAYS = {"1ms": 1e-3, "5ms": 5e-3}


def main() -> None:
    out = sys.argv[1]
    candidates = [load_candidate(s) for s in ("triton", "copy_peer:Copy", "torch-compile")]
    roofline = timing.copy_bandwidth.__wrapped__
    records = [{"roofline_gbps": roofline("cuda")}]
    default = timing.TARGET_REPLAY_S
    for op, dtype, weight, bias, t, h in SHAPES:
        case = Case(op, dtype, weight, bias, t, h, 1e-6, residual=op != "rms_norm")
        prepared = {}
        for label, seconds in REPLAYS.items():
            timing.TARGET_REPLAY_S = seconds
            both, _ = sweep.prepare_all(candidates, case, "cuda", 0)
            prepared.update({f"{name}@{label}": p for name, p in both.items()})
        timing.TARGET_REPLAY_S = default
        samples = {key: [] for key in prepared}
        for _ in range(2):
            for key, timed in sweep.sample(prepared).items():
                samples[key] += timed.samples
        nbytes = verdict.case_bytes(case)
        line = {}
        for key, taken in samples.items():
            us = statistics.median(taken) * 1e6
            records.append({"case": case.id, "impl": key, "us": us, "gbps": nbytes / us / 1e3,
                            "calls_per_sample": prepared[key].calls_per_sample, "samples_us": [s * 1e6 for s in taken]})
            line[key] = round(nbytes / us / 1e3)
        print(case.id, "GB/s", line, "calls", {k: p.calls_per_sample for k, p in prepared.items()}, flush=True)
        del prepared
        torch.cuda.empty_cache()
    records.append({"roofline_gbps": roofline("cuda")})
    print(records[0], records[-1])
    with open(out, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "records": records}, f)


if __name__ == "__main__":
    main()
