"""Kept for the documented import ``from pytest_normfusion.pool import RankContext, RankFailure, run_on_ranks``;
new code takes the ``normfusion_ranks`` fixture (``normfusion_ranks.run(world_size, fn, payload)``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from pytest_normfusion.harness import NormfusionSession
from pytest_normfusion.ranks.rank import RankContext, RankFailure

__all__ = ["RankContext", "RankFailure", "run_on_ranks"]


def run_on_ranks(
    config: pytest.Config,
    world_size: int,
    fn: Callable[[RankContext, Any], Any],
    payload: Any,
    *,
    failed: Callable[[Any], str | None] | None = None,
) -> list:
    """Run module-level ``fn(ctx, payload)`` on every rank of the session's ranks; results in rank order.

    Raises RankFailure on any rank's error, death or timeout (see ``ranks/pool.py``).
    """
    return NormfusionSession.of(config).ranks.run(world_size, fn, payload, failed)
