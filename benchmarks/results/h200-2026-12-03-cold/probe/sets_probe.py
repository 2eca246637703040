"""pytest plugin for a probe: input sets cycled through capped at $NF_MAX_SETS (not 8)."""
import os

from pytest_normfusion.perf import timing

timing.MAX_SETS = int(os.environ.get("NF_MAX_SETS", timing.MAX_SETS))
