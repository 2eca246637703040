"""Rewrite the H200 table's T=1 cells of impls/triton/plan.py from a T=1 tune JSON: a cell takes
the fastest plan timed where it is at least 2 % faster than the cell's own (the default).
    python pick_t1.py tune.json[.xz] impls/triton/plan.py"""
import collections
import json
import lzma
import re
import sys
from pathlib import Path

src = sys.argv[1]
data = json.load(lzma.open(src) if src.endswith(".xz") else open(src))
times = collections.defaultdict(dict)
for r in data["records"]:
    if r["impl"].startswith("triton[") and r["tokens"] == 1 and r["us"]:
        times[(r["op"] != "rms_norm", r["weight_dtype"] == "fp32", r["hidden"])][r["impl"][7:-1]] = r["us"]
path = Path(sys.argv[2])
text = path.read_text()
start = text.index("_H200_PLANS = {")
end = text.index("# fmt: on", start)
table = text[start:end]
sections = re.split(r"(\n    \((?:True|False), (?:True|False)\): \{)", table)
out = [sections[0]]
changes = []
for head, body in zip(sections[1::2], sections[2::2]):
    key = tuple(v == "True" for v in re.findall(r"True|False", head))
    def cell(m):
        h, spec = int(m[1]), m[2]
        t = times.get((*key, h))
        if not t or spec not in t:
            return m[0]
        best = min(t, key=t.get)
        if t[best] <= 0.98 * t[spec]:
            changes.append(f"{key} H{h}: {spec} {t[spec]:.2f} us -> {best} {t[best]:.2f} us")
            return f'{h}: {{1: "{best}"'
        return m[0]
    out += [head, re.sub(r'(\d+): \{1: "([^"]+)"', cell, body)]
path.write_text(text[:start] + "".join(out) + text[end:])
print("\n".join(changes) or "no T=1 cell changed")
