"""The rank side: a spawned rank's life (join the group, run jobs until told to stop), the context a
job receives, and the failure a parent raises. A leaf: it imports nothing of the pool's.

Messages are ``(event, plain data)``: the parent sends ``("job", bytes)`` and ``("stop", None)``; a rank
answers ``("ready", ...)``, ``("result", ...)`` or ``("error", ...)``.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import importlib
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pytest_normfusion import loading
from pytest_normfusion.loading import Candidate

if TYPE_CHECKING:
    import torch
    import torch.distributed as dist

# Set in every rank before torch loads: NVLink SHARP (multicast) needs fabric
# setup that shared CI hosts do not have; NCCL and symmetric memory fall back.
RANK_ENV = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1"}


class RankFailure(Exception):
    """A rank raised, died or timed out; ``str()`` is the whole explanation."""

    def __init__(self, message: str, *, timed_out: bool = False) -> None:
        super().__init__(message)
        self.timed_out = timed_out


@dataclasses.dataclass
class RankContext:
    """What a rank function receives: its rank and world size, its device and the group."""

    rank: int
    world_size: int
    device: torch.device
    group: dist.ProcessGroup

    def candidate(self, spec: str) -> Candidate:
        """The candidate ``spec`` names (as the user gave it), loaded once in this process."""
        return loading.cached_candidate(spec)


def device_for(backend: str, rank: int) -> torch.device:
    """The device a rank computes on: its own GPU under NCCL, the CPU under gloo."""
    import torch

    if backend == "nccl":
        torch.cuda.set_device(rank)
        return torch.device("cuda", rank)
    return torch.device("cpu")


def stack_path(workdir: str, rank: int) -> str:
    """Where a rank writes its Python stack when asked (SIGUSR1)."""
    return os.path.join(workdir, f"stack-rank{rank}.txt")


def _watch_parent(parent_pid: int) -> None:
    """Leave when the parent is gone (killed hard, so it could not stop us)."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(1.0)
        os._exit(1)

    threading.Thread(target=watch, name="normfusion-parent-watch", daemon=True).start()


def rank_main(rank: int, world_size: int, workdir: str, backend: str, timeout_s: float, conn: Any) -> None:
    """A rank's life: join the group, then run jobs until told to stop or the parent leaves."""
    os.environ.update(RANK_ENV)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    _watch_parent(os.getppid())
    # SIGUSR1 writes every thread's Python stack, even while blocked in C (a collective):
    # the parent asks for it when a job times out, to show where each rank was stuck.
    stack_file = open(stack_path(workdir, rank), "w")  # noqa: SIM115 (open for the process's life)
    faulthandler.register(signal.SIGUSR1, file=stack_file, all_threads=True)
    store = f"file://{os.path.join(workdir, 'store')}"
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)  # ranks share the cores; OpenMP spinning oversubscribes them
    device = device_for(backend, rank)
    init_started = time.perf_counter()
    dist.init_process_group(
        backend,
        init_method=store,
        rank=rank,
        world_size=world_size,
        # later than the parent's job timeout, so that a hang is reported as one (with
        # every rank's stack), not as the collective's own timeout error on the waiting ranks
        timeout=timedelta(seconds=2 * timeout_s + 10),
        **({"device_id": device} if backend == "nccl" else {}),
    )
    ctx = RankContext(rank, world_size, device, dist.group.WORLD)
    conn.send(("ready", {"rank": rank, "pid": os.getpid(), "init_s": time.perf_counter() - init_started}))
    while True:
        try:
            event, data = conn.recv()
        except (EOFError, OSError):
            break
        if event == "stop":
            break
        conn.send(_run_job(ctx, data))
    dist.destroy_process_group()
    conn.close()


def _run_job(ctx: RankContext, blob: bytes) -> tuple[str, dict[str, Any]]:
    """Unpickle and run one job; any error becomes an ``error`` event with the traceback."""
    started = time.perf_counter()
    try:
        job_id, sys_path, cwd, job = pickle.loads(blob)
        if sys_path is not None:  # the parent's, so its test and candidate modules import here too
            sys.path[:] = sys_path
            importlib.invalidate_caches()
        if cwd is not None:
            os.chdir(cwd)
        fn, payload = pickle.loads(job)
        value = fn(ctx, payload)
        pickle.dumps(value)  # an unpicklable result is this job's error, not a dead pipe
    except BaseException:
        return "error", {"rank": ctx.rank, "traceback": traceback.format_exc()}
    return "result", {"rank": ctx.rank, "job": job_id, "value": value, "seconds": time.perf_counter() - started}
