"""Probe (thirteenth H200 run): the sweep's timing with and without the GPU kept busy before the start
event (timing.LEAD_CYCLES), the same prepared graphs sampled in alternation (off, on, on, off); the
host's time to submit one replay; the 1 GiB copy roofline both ways.

    python lead.py OUT.json
"""

import json
import statistics
import sys
import time

import torch

from pytest_normfusion.core.case import Case
from pytest_normfusion.loading import load_candidate
from pytest_normfusion.perf import sweep, timing, verdict

SHAPES = [  # op, dtype, weight, bias, T, H
    ("rms_norm", "bf16", "bf16", 0.0, 4096, 8192), ("rms_norm", "bf16", "bf16", 0.0, 4096, 4096),
    ("rms_norm", "bf16", "fp32", 1.0, 4096, 5120), ("rms_norm", "fp16", "fp16", 0.0, 2048, 8192),
    ("fused_add_rms_norm", "bf16", "bf16", 0.0, 4096, 2048), ("rms_norm", "bf16", "bf16", 0.0, 32768, 8192),
    ("rms_norm", "bf16", "bf16", 0.0, 1024, 8192), ("rms_norm", "bf16", "bf16", 0.0, 256, 4096),
    ("rms_norm", "bf16", "bf16", 0.0, 1, 8192), ("fused_add_rms_norm", "bf16", "fp32", 1.0, 1, 4096),
]  # fmt: skip


def main() -> None:
    out = sys.argv[1]
    candidates = [load_candidate(s) for s in ("triton", "copy_peer:Copy")]
    records = []
    roofline = timing.copy_bandwidth.__wrapped__
    for lead in (0, timing.LEAD_CYCLES, timing.LEAD_CYCLES, 0):
        lead_default, timing.LEAD_CYCLES = timing.LEAD_CYCLES, lead
        records.append({"roofline_gbps": roofline("cuda"), "lead_cycles": lead})
        timing.LEAD_CYCLES = lead_default
    print(records, flush=True)
    for op, dtype, weight, bias, t, h in SHAPES:
        case = Case(op, dtype, weight, bias, t, h, 1e-6, residual=op != "rms_norm")
        prepared, _ = sweep.prepare_all(candidates, case, "cuda", 0)
        samples = {(name, lead): [] for name in prepared for lead in ("off", "on")}
        lead_default = timing.LEAD_CYCLES
        for lead in ("off", "on", "on", "off"):
            timing.LEAD_CYCLES = lead_default if lead == "on" else 0
            for name, timed in sweep.sample(prepared).items():
                samples[(name, lead)] += timed.samples
        timing.LEAD_CYCLES = lead_default
        host = []
        for _ in range(10):  # the host's submission of the candidate's replay, the GPU busy meanwhile
            torch.cuda._sleep(4_000_000)
            started = time.perf_counter()
            prepared["triton"].run()
            host.append(time.perf_counter() - started)
            torch.cuda.synchronize()
        nbytes = verdict.case_bytes(case)
        for (name, lead), taken in samples.items():
            us = statistics.median(taken) * 1e6
            rec = {"case": case.id, "impl": name, "lead": lead, "us": us, "gbps": nbytes / us / 1e3,
                   "calls_per_sample": prepared[name].calls_per_sample, "samples_us": [s * 1e6 for s in taken]}
            records.append(rec)
        line = {n: round(statistics.median(samples[(n, "off")]) / statistics.median(samples[(n, "on")]), 4)
                for n in prepared}
        print(case.id, "calls", {n: p.calls_per_sample for n, p in prepared.items()},
              "off/on", line, "host submit us", round(statistics.median(host) * 1e6, 1), flush=True)
        records.append({"case": case.id, "host_submit_us": [h * 1e6 for h in host]})
        del prepared
        torch.cuda.empty_cache()
    with open(out, "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "records": records}, f)


if __name__ == "__main__":
    main()
