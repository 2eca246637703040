"""Whether our kernels run in Triton's CPU interpreter, and the switch that turns it on.

``enable()`` is called explicitly, by the candidate (``Triton``) before it first
imports triton, never as a side effect of importing a module: Triton reads
``TRITON_INTERPRET`` once, at its first import, to interpret its own library too
(``tl.sum`` then runs as one numpy call).
"""

from __future__ import annotations

import os
import sys

# Turns Triton's CPU interpreter on ("1") or off ("0"); unset: on exactly when CUDA is absent.
INTERPRET_ENV = "NORMFUSION_TRITON_INTERPRET"


def interpreting() -> bool:
    """Whether kernels run in Triton's interpreter (CPU tensors) rather than compiled for a GPU."""
    if os.environ.get("TRITON_INTERPRET") == "1":
        return True
    setting = os.environ.get(INTERPRET_ENV)
    if setting is not None:
        return setting == "1"
    import torch

    return not torch.cuda.is_available()


def enable() -> bool:
    """Set ``TRITON_INTERPRET=1`` when interpreting and triton is not imported yet; returns ``interpreting()``.

    Where triton was imported earlier without it (``import torch._dynamo`` imports
    triton), the kernels still run interpreted, with their own slower sum (``kernels``).
    """
    on = interpreting()
    if on and "triton" not in sys.modules:
        os.environ["TRITON_INTERPRET"] = "1"
    return on
