"""Pick T=1 table cells from a tune: the tune's fastest where it beats the cell's plan by >= 2 %."""
import json, re, sys, collections
from pathlib import Path
tune = json.load(open(sys.argv[1]))
by = collections.defaultdict(dict)
for r in tune["records"]:
    by[(r["op"] != "rms_norm", r["weight_dtype"] == "fp32", r["hidden"])][r["impl"][7:-1]] = r["us"]
src = Path("impls/triton/plan.py").read_text()
from pytest_normfusion.impls.triton import plan as tn
changes = []
for (res, fp32w, h), times in sorted(by.items()):
    cell = tn._H200_PLANS[(res, fp32w)][h][1]
    best = min(times, key=times.get)
    # the cell's own time: the tune timed it under its spec name, or as the default
    own = times.get(cell)
    verdict = "keep"
    if own is None:
        verdict = "cell not timed"
    elif best != cell and times[best] <= 0.98 * own:
        verdict = "change"
        changes.append((res, fp32w, h, cell, best))
    print(f"{'fused_add' if res else 'rms_norm ':9} {'fp32' if fp32w else 'x   '} H{h:<5} cell {cell:10} {own if own else float('nan'):.3f}  best {best:10} {times[best]:.3f}  {verdict}")
for res, fp32w, h, cell, best in changes:
    tn._H200_PLANS[(res, fp32w)][h][1] = best
# rewrite the table block
start = src.index("_H200_PLANS = {")
end = src.index("# fmt: on", start)
lines = ["_H200_PLANS = {"]
for key, by_h in tn._H200_PLANS.items():
    lines.append(f"    {key!r}: {{")
    for h, by_t in by_h.items():
        lines.append(f"        {h}: {{" + ", ".join(f'{t}: "{s}"' for t, s in by_t.items()) + "},")
    lines.append("    },")
lines.append("}")
Path("impls/triton/plan.py").write_text(src[:start] + "\n".join(lines) + "\n" + src[end:])
print(f"{len(changes)} cells changed")
