"""Where a DataPlane call runs: inline on the event loop, or in the worker's thread pool.

A thread-pool hop costs tens of microseconds per request, which dominates a model that answers in
a few microseconds; running a slow model inline, though, stalls every other connection of the
worker. MODELPACK_INLINE_PREDICT picks the policy:

  never   always the pool (Seldon's behaviour: gunicorn threads)
  always  always inline (fastest for trivial models; a slow call blocks the worker, no 504)
  auto    (default) per route, from how many of its last WINDOW calls took THRESHOLD or longer
          (wall time): start in the pool; once WARMUP calls were made there and fewer than
          SLOW_CALLS of the last WINDOW were slow, run inline. Inline, SLOW_CALLS slow calls in a
          row, half of the last WINDOW slow, or one call over SLOW, send the route back to the pool
          for COOLDOWN seconds (doubling, up to MAX_COOLDOWN, when it flips again soon after).
The rules ask for slow calls in a row, or many of them, because on a busy machine the wall time of
a 10 us call now and then includes milliseconds of preemption (or, in the pool, of waiting for the
GIL while the event loop runs). Such stalls hit single calls at random; a model that is really slow
(CPU-bound, or waiting on I/O) is slow call after call and flips after SLOW_CALLS calls.
Wall time, not thread CPU time, is what counts, because a model that waits on I/O uses no CPU but
would still stall the loop; reading a thread's CPU clock also costs a system call per call.
The request timeout (504) only applies to calls in the pool: an inline call cannot be interrupted.
"""
from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from time import monotonic, perf_counter
from typing import Any, Callable

from .errors import MicroserviceError

log = logging.getLogger("modelpack_runtime.inline")

THRESHOLD = 0.001
SLOW = 0.1
WINDOW = 20
SLOW_CALLS = 3
WARMUP = 20
COOLDOWN = 1.0
MAX_COOLDOWN = 60.0
_WINDOW_MASK = (1 << WINDOW) - 1
_IN_A_ROW = (1 << SLOW_CALLS) - 1       # the SLOW_CALLS most recent calls
_MANY = WINDOW // 2


class RouteState:
    """Adaptive state of one route (one per route template)."""

    __slots__ = ("calls", "cooldown", "inline", "pool_until", "recent")

    def __init__(self) -> None:
        self.inline = False
        self.recent = 0             # bit i set: the i-th most recent call was slow
        self.calls = 0              # pool calls since the route last went to the pool
        self.pool_until = 0.0
        self.cooldown = COOLDOWN

    def record(self, seconds: float) -> None:
        """A pool call's duration. Runs in a pool thread; a lost update under a race only delays
        a switch by one call."""
        self.recent = recent = ((self.recent << 1) | (seconds >= THRESHOLD)) & _WINDOW_MASK
        self.calls += 1
        if self.calls >= WARMUP and bin(recent).count("1") < SLOW_CALLS and monotonic() >= self.pool_until:
            self.inline = True

    def record_inline(self, seconds: float) -> None:
        """An inline call's duration. The caller shifts in fast calls itself (`recent << 1`), the
        common case, and calls this only for calls of THRESHOLD or longer."""
        self.recent = recent = ((self.recent << 1) | 1) & _WINDOW_MASK
        if seconds < SLOW and recent & _IN_A_ROW != _IN_A_ROW and bin(recent).count("1") < _MANY:
            return
        log.debug("inline call took %.2f ms, %d of the last %d over %g ms: back to the thread pool",
                  seconds * 1000, bin(recent).count("1"), WINDOW, THRESHOLD * 1000)
        now = monotonic()
        # flipping again within 10 cooldowns of the last flip: the route is really slow, wait longer
        recent = now - self.pool_until < 10 * self.cooldown
        self.cooldown = min(self.cooldown * 2, MAX_COOLDOWN) if recent else COOLDOWN
        self.inline = False
        self.calls = 0
        self.pool_until = now + self.cooldown


class Runner:
    """Runs synchronous DataPlane work per the policy, with the request timeout in the pool."""

    def __init__(self, mode: str, threads: int, timeout: float) -> None:
        self.mode = mode
        self.timeout = timeout
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict")
        # Pool calls submitted (written by the loop thread only) and finished (pool threads, locked).
        # An inline call runs only while no pool call is queued or running, so user code never
        # runs on more threads at once than --threads allows (with --threads 1: one call at a time).
        self.submitted = 0
        self.finished = 0
        self._lock = threading.Lock()

    def _done(self, _: Future) -> None:
        with self._lock:
            self.finished += 1

    def inline_now(self, state: RouteState) -> bool:
        """The policy's choice for the next call of the route: inline (True) or the pool."""
        mode = self.mode
        return mode == "always" or (mode == "auto" and state.inline and self.submitted == self.finished)

    def call_inline(self, state: RouteState, fn: Callable[..., Any], *args: Any) -> Any:
        """Run inline; under `auto`, time the call and let the route's state judge it."""
        if self.mode == "always":
            return fn(*args)
        start = perf_counter()
        try:
            return fn(*args)
        finally:
            elapsed = perf_counter() - start
            if elapsed < THRESHOLD:
                state.recent = (state.recent << 1) & _WINDOW_MASK  # the common case, kept cheap
            else:
                state.record_inline(elapsed)

    async def run(self, state: RouteState, fn: Callable[..., Any], *args: Any) -> Any:
        if self.inline_now(state):
            return self.call_inline(state, fn, *args)
        return await self.run_in_pool(state, fn, *args)

    async def run_in_pool(self, state: RouteState, fn: Callable[..., Any], *args: Any) -> Any:
        """Run in the thread pool, with the request timeout (504)."""
        mode = self.mode
        cfut = self.executor.submit(_timed, state if mode == "auto" else None, fn, args)
        self.submitted += 1
        cfut.add_done_callback(self._done)  # also runs when a queued call is cancelled by the timeout
        try:
            return await asyncio.wait_for(asyncio.wrap_future(cfut), self.timeout)
        except asyncio.TimeoutError:
            raise MicroserviceError(
                f"the model did not answer within the request timeout of {self.timeout:g} s (raise it with "
                "--request-timeout or the seldon.io/rest-timeout annotation); the call keeps running in its "
                "thread", status_code=504, reason="MICROSERVICE_TIMEOUT") from None

    def shutdown(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)


def _timed(state: RouteState | None, fn: Callable[..., Any], args: tuple) -> Any:
    if state is None:
        return fn(*args)
    start = perf_counter()
    try:
        return fn(*args)
    finally:
        state.record(perf_counter() - start)
