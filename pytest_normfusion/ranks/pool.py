"""Rank pools: one per world size, spawned once, reused, torn down and rebuilt after a failure.

The parent (a pytest process) sends each rank a job over its pipe and waits on
the pipes and the processes' sentinels at once, so a rank that answers, raises,
dies or hangs is noticed without polling (the rank side is ``rank.py``).

A rank that raises sends its traceback; a rank that dies or outlives the job's
timeout fails the job, and the whole pool is torn down (the other ranks may be
blocked in a collective with it) and rebuilt lazily for the next job, at most
``max_rebuilds`` times per world size. Pools get plain values (backend, timeout,
rebuild cap), never pytest's config.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pickle
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_normfusion.ranks.rank import RankContext, RankFailure, rank_main, stack_path

# Spawning imports torch in every rank: 3.5-5.6 s for 2 ranks, 8-10 s for 4 on 2
# busy cores (measured, docs/world-sizes.md); a start that takes longer than this
# (or the job timeout, whichever is larger) is reported as a hang.
START_TIMEOUT_S = 120.0
# After one rank failed, how long the others may take to finish the job before
# they are taken to be blocked in a collective with it.
FAILURE_GRACE_S = 2.0
# How long ranks get to leave on their own at shutdown before they are killed.
STOP_GRACE_S = 2.0
# How long a busy rank gets to write its stack after SIGUSR1.
STACK_WAIT_S = 0.5


@dataclasses.dataclass
class PoolStats:
    """What one world size's pool cost in this process (plain numbers, for records and docs)."""

    spawns: int = 0
    spawn_seconds: list[float] = dataclasses.field(default_factory=list)
    jobs: int = 0
    rebuilds: int = 0  # teardowns after a failure
    overhead_seconds: list[float] = dataclasses.field(default_factory=list)  # round trip - slowest rank's job
    capped: bool = False  # the rebuild cap was hit: no more pools of this size


def _job_frames(thread_dump: str) -> str:
    """The frames above the pool's own (faulthandler lists the most recent call first)."""
    lines = thread_dump.strip().splitlines()
    frames = [ln for ln in lines[1:] if ln.strip().startswith("File")]
    cut = next((i for i, ln in enumerate(frames) if "_run_job" in ln), len(frames))
    return "\n".join(frames[:cut]) or thread_dump.strip()


def _exit_text(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"exit code {code} ({signal.Signals(-code).name})"
    return f"exit code {code}"


class RankPool:
    """``world_size`` spawned ranks in one process group; ``run`` sends a job to all of them."""

    def __init__(self, world_size: int, backend: str, timeout_s: float, stats: PoolStats) -> None:
        import torch.multiprocessing as mp

        self.world_size = world_size
        self.timeout_s = timeout_s
        self.stats = stats
        self._dir = tempfile.mkdtemp(prefix=f"normfusion-ws{world_size}-")
        ctx = mp.get_context("spawn")
        self._conns: list[Any] = []
        self.procs: list[Any] = []
        self._path_sent: tuple[list[str], str] | None = None
        self._job_id = 0
        started = time.perf_counter()
        try:
            for rank in range(world_size):
                parent_end, child_end = ctx.Pipe()
                proc = ctx.Process(
                    target=rank_main,
                    args=(rank, world_size, self._dir, backend, timeout_s, child_end),
                    name=f"normfusion-rank{rank}-of-{world_size}",
                )
                proc.start()
                child_end.close()
                self._conns.append(parent_end)
                self.procs.append(proc)
            self._gather("ready", max(START_TIMEOUT_S, timeout_s), "starting")
        except BaseException:
            self.close(graceful=False)
            raise
        stats.spawns += 1
        stats.spawn_seconds.append(time.perf_counter() - started)

    def alive(self) -> bool:
        return all(p.is_alive() for p in self.procs)

    def run(
        self, fn: Callable[[RankContext, Any], Any], payload: Any, failed: Callable[[Any], str | None] | None = None
    ) -> list[Any]:
        """``fn(ctx, payload)`` on every rank; the values in rank order, or RankFailure."""
        started = time.perf_counter()
        self._job_id += 1
        where = (list(sys.path), os.getcwd())
        sys_path, cwd = (None, None) if where == self._path_sent else where
        blob = pickle.dumps((self._job_id, sys_path, cwd, pickle.dumps((fn, payload))))
        for conn in self._conns:
            conn.send(("job", blob))
        self._path_sent = where
        answers = self._gather("result", self.timeout_s, f"running {fn.__module__}.{fn.__qualname__}", failed)
        slowest = max(a["seconds"] for a in answers.values())
        self.stats.overhead_seconds.append(time.perf_counter() - started - slowest)
        return [answers[r]["value"] for r in range(self.world_size)]

    def _gather(
        self, want: str, timeout_s: float, doing: str, failed: Callable[[Any], str | None] | None = None
    ) -> dict[int, dict[str, Any]]:
        """One ``want`` event from every rank; raises RankFailure on an error, a death or the timeout.

        ``failed(value)`` names a result that is a failure (a candidate that raised on
        one rank): the other ranks then get ``FAILURE_GRACE_S``, as after an error.
        """
        from multiprocessing.connection import wait

        answers: dict[int, dict[str, Any]] = {}
        errors: dict[int, str] = {}  # rank -> what went wrong there
        hard = False  # a rank raised in the job runner or died, not just returned a failure
        deadline = time.monotonic() + timeout_s
        pending = set(range(self.world_size))
        while pending:
            left = deadline - time.monotonic()
            waiting = {self._conns[r]: r for r in pending} | {self.procs[r].sentinel: r for r in pending}
            ready = wait(list(waiting), timeout=max(0.0, left))
            if not ready:
                break
            for obj in ready:
                rank = waiting[obj]
                if rank not in pending:
                    continue
                pending.discard(rank)
                message = self._receive(rank)
                if message is None:
                    errors[rank] = f"rank {rank} died with {_exit_text(self.procs[rank].exitcode)} while {doing}"
                elif message[0] != want:
                    errors[rank] = f"rank {rank} raised while {doing}:\n{message[1]['traceback'].rstrip()}"
                else:
                    answers[rank] = message[1]
                    why = failed(message[1]["value"]) if failed else None
                    if why:
                        errors[rank] = f"rank {rank} failed while {doing}: {why}"
                    continue
                hard = True
            if errors and pending:
                deadline = min(deadline, time.monotonic() + FAILURE_GRACE_S)
        if not pending and not hard:
            return answers
        raise self._failure(errors, pending, timeout_s, doing)

    def _receive(self, rank: int) -> tuple[str, dict[str, Any]] | None:
        """The rank's next message, or None when it died (its pipe closed) before sending one."""
        conn = self._conns[rank]
        try:
            if conn.poll():
                return conn.recv()
        except (EOFError, OSError):
            pass
        self.procs[rank].join(STOP_GRACE_S)
        return None

    def _failure(self, errors: dict[int, str], pending: set[int], timeout_s: float, doing: str) -> RankFailure:
        """The explanation: deaths first (the usual root cause), then errors, then ranks still busy.

        The pool is closed when a rank is gone or stuck.
        """
        dead = [r for r in sorted(errors) if not self.procs[r].is_alive()]
        lines = [errors[r] for r in dead] + [errors[r] for r in sorted(errors) if r not in dead]
        stacks = self._stacks(pending)
        if pending and errors:
            lines.append(
                f"rank(s) {', '.join(map(str, sorted(pending)))} did not finish within {FAILURE_GRACE_S:g} s "
                "after that (blocked in a collective with the failed rank?)"
            )
        for rank in sorted(pending) if not errors else ():
            lines.append(f"rank {rank} timed out after {timeout_s:g} s while {doing}")
        lines += [f"rank {rank} was here:\n{stack}" for rank, stack in stacks.items()]
        if pending or dead:
            self.close(graceful=False)
            lines.append(f"the world size {self.world_size} pool was torn down; it is rebuilt for the next case")
        return RankFailure("\n".join(lines), timed_out=bool(pending) and not errors)

    def _stacks(self, ranks: set[int]) -> dict[int, str]:
        """Each busy rank's Python stack (its job's frames), asked for with SIGUSR1."""
        for rank in ranks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.procs[rank].pid, signal.SIGUSR1)
        time.sleep(STACK_WAIT_S if ranks else 0.0)
        stacks = {}
        for rank in sorted(ranks):
            with contextlib.suppress(OSError):
                dump = Path(stack_path(self._dir, rank)).read_text()
                main = dump.split("\n\n")  # one block per thread; the job runs on the main one
                job = [b for b in main if "_run_job" in b]
                stacks[rank] = _job_frames(job[0] if job else dump)
        return stacks

    def close(self, graceful: bool = True) -> None:
        """Stop every rank (kill what does not stop) and remove the rendezvous directory."""
        if graceful:
            for conn in self._conns:
                with contextlib.suppress(OSError, ValueError):
                    conn.send(("stop", None))
            deadline = time.monotonic() + STOP_GRACE_S
            for proc in self.procs:
                proc.join(max(0.0, deadline - time.monotonic()))
        for proc in self.procs:
            if proc.is_alive():
                proc.kill()
        for proc in self.procs:
            proc.join(STOP_GRACE_S)
        for conn in self._conns:
            conn.close()
        self._conns, self.procs = [], []
        shutil.rmtree(self._dir, ignore_errors=True)


class Pools:
    """The session's pools, one per world size, built on first use and after a failure."""

    def __init__(self, backend: str, timeout_s: float, max_rebuilds: int) -> None:
        self.backend = backend
        self.timeout_s = timeout_s
        self.max_rebuilds = max_rebuilds
        self.pools: dict[int, RankPool] = {}
        self.stats: dict[int, PoolStats] = {}

    def get(self, world_size: int) -> RankPool:
        """The live pool of ``world_size``, spawning it if needed (within the rebuild cap)."""
        stats = self.stats.setdefault(world_size, PoolStats())
        pool = self.pools.get(world_size)
        if pool is not None and pool.procs and pool.alive():
            return pool
        if pool is not None:  # torn down after a failure, or a rank died between jobs
            pool.close(graceful=False)
            del self.pools[world_size]
            stats.rebuilds += 1
        if stats.rebuilds > self.max_rebuilds:
            stats.capped = True
            raise RankFailure(
                f"the world size {world_size} pool failed {stats.rebuilds} times; the cap is "
                f"{self.max_rebuilds} rebuilds (--normfusion-max-pool-rebuilds), so it is not started again"
            )
        try:
            self.pools[world_size] = pool = RankPool(world_size, self.backend, self.timeout_s, stats)
        except RankFailure:
            stats.rebuilds += 1  # a pool that cannot start counts against the cap too
            raise
        return pool

    def run(
        self,
        world_size: int,
        fn: Callable[[RankContext, Any], Any],
        payload: Any,
        failed: Callable[[Any], str | None] | None = None,
    ) -> list[Any]:
        pool = self.get(world_size)
        self.stats[world_size].jobs += 1
        try:
            return pool.run(fn, payload, failed)
        except KeyboardInterrupt:
            pool.close(graceful=False)
            raise

    def stats_of(self, world_size: int) -> PoolStats | None:
        """The pool's spawn and job counts in this process, or None when none ran."""
        return self.stats.get(world_size)

    def close(self) -> None:
        for pool in self.pools.values():
            pool.close()
        self.pools.clear()
