"""Trace a test model to an FX graph the way engines see it (aten level, inductor decompositions).

Two tracers: ``make_fx`` in fake mode, and ``torch.compile`` with a custom
backend (AOT autograd, the inference graph inductor's post-grad passes get)
that captures the graph. Weights are graph inputs in both, so a Gemma
``w.float() + 1.0`` stays in the graph for the pass to fold.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.fx

TRACERS = ("make_fx", "compile")


def _as_flat_function(model: torch.nn.Module) -> Callable[..., tuple[torch.Tensor, ...]]:
    """``f(*params, h)``: the model with its parameters as positional inputs."""
    names = [name for name, _ in model.named_parameters()]

    def flat(*args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        params = dict(zip(names, args[:-1], strict=True))
        return torch.func.functional_call(model, params, (args[-1],))

    return flat


def _decompositions() -> dict:
    from torch._inductor.decomposition import select_decomp_table

    return select_decomp_table()


def trace_make_fx(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[torch.fx.GraphModule, list]:
    """make_fx in fake mode with inductor's decompositions; the inputs stay in their order."""
    from torch._dispatch.python import enable_python_dispatcher
    from torch.fx.experimental.proxy_tensor import make_fx

    with enable_python_dispatcher():
        gm = make_fx(_as_flat_function(model), _decompositions(), tracing_mode="fake")(*inputs)
    gm.graph.eliminate_dead_code()  # decompositions leave unused dtype conversions behind
    gm.recompile()
    return gm, list(inputs)


def trace_compile(model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[torch.fx.GraphModule, list]:
    """torch.compile with a backend that captures AOT autograd's inference graph.

    The model runs once (collectives included: every rank must call this); the
    graph's own inputs are recorded as it is called, in its placeholder order.
    """
    from functorch.compile import make_boxed_func
    from torch._dynamo.backends.common import aot_autograd

    captured: list[torch.fx.GraphModule] = []
    called_with: list[list[torch.Tensor]] = []

    def capture(gm: torch.fx.GraphModule, example_inputs: Sequence[torch.Tensor]):
        captured.append(gm)
        run = make_boxed_func(gm.forward)

        def record(args: list) -> object:
            called_with.append(list(args))
            return run(args)

        record._boxed_call = True  # type: ignore[attr-defined]
        return record

    # every model shares the flat function's code object: without a reset, dynamo would hit its
    # recompile limit after a few models and run them eagerly, capturing nothing
    torch._dynamo.reset()
    backend = aot_autograd(fw_compiler=capture, decompositions=_decompositions())
    compiled = torch.compile(_as_flat_function(model), backend=backend, fullgraph=True, dynamic=False)
    with torch.no_grad():
        compiled(*inputs)
    if len(captured) != 1 or len(called_with) != 1:
        raise RuntimeError(f"expected one captured graph, got {len(captured)} (graph breaks?)")
    return captured[0], called_with[0]


def trace(tracer: str, model: torch.nn.Module, inputs: Sequence[torch.Tensor]) -> tuple[torch.fx.GraphModule, list]:
    """``(graph module, its inputs in placeholder order)`` from the tracer named ``tracer``."""
    if tracer == "make_fx":
        return trace_make_fx(model, inputs)
    if tracer == "compile":
        return trace_compile(model, inputs)
    raise ValueError(f"unknown tracer {tracer!r}; expected one of {TRACERS}")
