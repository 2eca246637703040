"""Under ``torchrun`` (WORLD_SIZE and RANK set) there is no pool: this process is one rank of the
launcher's group, every rank runs the same job and the results are gathered to all of them."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from pytest_normfusion.ranks.rank import RANK_ENV, RankContext, RankFailure, device_for

# How long a rank that finished waits for the others at the end.
FINISH_TIMEOUT_S = 3600.0


def torchrun_env() -> tuple[int, int] | None:
    """(rank, world size) when this process was started by torchrun, else None."""
    if "WORLD_SIZE" in os.environ and "RANK" in os.environ:
        return int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    return None


class LauncherGroup:
    """This process as one rank of torchrun's group: jobs run here and results are gathered."""

    def __init__(self, backend: str, timeout_s: float) -> None:
        import torch.distributed as dist

        os.environ.update(RANK_ENV)
        rank, world_size = torchrun_env() or (0, 1)
        local_rank = int(os.environ.get("LOCAL_RANK", rank))
        device = device_for(backend, local_rank)
        if not dist.is_initialized():
            dist.init_process_group(backend, init_method="env://", timeout=timedelta(seconds=timeout_s))
        self.world_size = world_size
        self.ctx = RankContext(rank, world_size, device, dist.group.WORLD)
        # The ranks leave together: torchrun kills the others as soon as one exits non-zero,
        # which would cut rank 0's report short. Its own group, as the ranks may finish far apart.
        self._finish = dist.new_group(backend="gloo", timeout=timedelta(seconds=FINISH_TIMEOUT_S))

    def run(
        self,
        world_size: int,
        fn: Callable[[RankContext, Any], Any],
        payload: Any,
        failed: Callable[[Any], str | None] | None = None,
    ) -> list[Any]:
        """Run here, then all-gather every rank's value or traceback, so all ranks fail alike."""
        import torch.distributed as dist

        if world_size != self.world_size:
            raise RankFailure(f"torchrun's world size is {self.world_size}; cannot run world size {world_size}")
        try:
            mine: tuple[str, Any] = ("result", fn(self.ctx, payload))
        except Exception:
            mine = ("error", f"rank {self.ctx.rank} raised:\n{traceback.format_exc()}")
        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, mine)
        errors = [text for event, text in gathered if event == "error"]
        if errors:
            raise RankFailure("\n".join(errors))
        return [value for _, value in gathered]

    def stats_of(self, world_size: int) -> None:
        """torchrun started the ranks: there are no pool statistics."""
        return None

    def close(self) -> None:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.barrier(group=self._finish)
            dist.destroy_process_group()
