"""Where a DataPlane call runs: inline on the event loop, or in the worker's thread pool.

A thread-pool hop costs tens of microseconds per request, which dominates a model that answers in
a few microseconds; running a slow model inline, though, stalls every other connection of the
worker. MODELPACK_INLINE_PREDICT picks the policy:

  never   always the pool (Seldon's behaviour: gunicorn threads)
  always  always inline (fastest for trivial models; a slow call blocks the worker, no 504)
  auto    (default) per route, from an exponentially weighted average (EWMA, weight ALPHA) of
          the wall time of its calls: start in the pool; once WARMUP calls were made there and the
          average is under THRESHOLD/2, run inline. Inline, a call over SLOW, or the average
          rising over THRESHOLD, sends the route back to the pool for COOLDOWN seconds (doubling,
          up to MAX_COOLDOWN, when it flips again soon after). The average, not the maximum, is
          used because on a busy machine the wall time of a 10 us call now and then includes a
          few ms of preemption; a steadily slow model still flips within a few calls (a 5 ms
          model after ~5, anything over SLOW after one).
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
SLOW = 0.05
ALPHA = 0.05
WARMUP = 20
COOLDOWN = 1.0
MAX_COOLDOWN = 60.0


class RouteState:
    """Adaptive state of one route (one per route template)."""

    __slots__ = ("inline", "ewma", "calls", "pool_until", "cooldown")

    def __init__(self) -> None:
        self.inline = False
        self.ewma = 0.0
        self.calls = 0              # pool calls since the route last went to the pool
        self.pool_until = 0.0
        self.cooldown = COOLDOWN

    def record(self, seconds: float) -> None:
        """A pool call's duration. Runs in a pool thread; a lost update under a race only delays
        a switch by one call."""
        self.ewma += ALPHA * (seconds - self.ewma)
        self.calls += 1
        if self.calls >= WARMUP and self.ewma < THRESHOLD / 2 and monotonic() >= self.pool_until:
            self.inline = True

    def record_inline(self, seconds: float) -> None:
        self.ewma += ALPHA * (seconds - self.ewma)
        if seconds < SLOW and self.ewma < THRESHOLD:
            return
        log.debug("inline calls average %.2f ms (last %.2f ms): back to the thread pool",
                  self.ewma * 1000, seconds * 1000)
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

    async def run(self, state: RouteState, fn: Callable[..., Any], *args: Any) -> Any:
        mode = self.mode
        if mode == "always":
            return fn(*args)
        if mode == "auto" and state.inline and self.submitted == self.finished:
            start = perf_counter()
            try:
                return fn(*args)
            finally:
                state.record_inline(perf_counter() - start)
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
