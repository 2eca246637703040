"""Fusion passes: the ``normfusion::`` op set, the test models, tracing, and the checks of a rewrite.

This package's ``__init__`` imports no torch (the loader reads ``PATTERNS`` before torch loads).
"""

# The fusion patterns a pass may claim (a model exercises some of them; a pass is run on a
# model only when its claims cover them).
PATTERNS = ("plain", "residual", "gemma")
