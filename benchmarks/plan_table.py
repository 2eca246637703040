"""A per-device launch-plan table for ``impls/triton/plan.py`` from tune_triton.py JSON.

    python benchmarks/plan_table.py tune_triton.json [more.json ...]

Prints, per op (residual or not) and weight (x.dtype or fp32), the fastest plan spec
timed at each measured H and T (2-byte x only): the literal that ``plan.py`` holds
for that device. Shapes timed at fewer than 4 plans, and H timed at fewer than 5 T,
are left out (a row's nearest T must be a measured one).
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from pathlib import Path


def table(records: list[dict]) -> dict[tuple[bool, bool], dict[int, dict[int, str]]]:
    times: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in records:
        if r.get("dtype", "bf16") == "fp32" or not r["impl"].startswith("triton["):
            continue
        key = (r["op"] != "rms_norm", r["weight_dtype"] == "fp32", r["hidden"], r["tokens"])
        times[key][r["impl"][len("triton[") : -1]] = r["us"]
    out: dict[tuple[bool, bool], dict[int, dict[int, str]]] = defaultdict(lambda: defaultdict(dict))
    for (residual, fp32_weight, hidden, tokens), plans in sorted(times.items()):
        if len(plans) >= 4:
            out[residual, fp32_weight][hidden][tokens] = min(plans, key=plans.get)
    for by_h in out.values():
        for hidden in [h for h, by_t in by_h.items() if len(by_t) < 5]:
            del by_h[hidden]
    return out


def main(argv: list[str]) -> int:
    records = [r for path in argv for r in json.loads(Path(path).read_text())["records"]]
    for (residual, fp32_weight), by_h in sorted(table(records).items()):
        print(f"    ({residual}, {fp32_weight}): {{")
        for hidden, by_t in sorted(by_h.items()):
            cells = ", ".join(f'{t}: "{spec}"' for t, spec in sorted(by_t.items()))
            print(f"        {hidden}: {{{cells}}},")
        print("    },")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
