"""Where a DataPlane call runs: inline on the event loop, or in the worker's thread pool.

A thread-pool hop costs tens of microseconds per request, which dominates a model that answers in
a few microseconds; running a slow model inline, though, stalls every other connection of the
worker. MODELPACK_INLINE_PREDICT picks the policy:

  never   always the pool (Seldon's behaviour: gunicorn threads)
  always  always inline (fastest for trivial models; a slow call blocks the worker, no 504)
  auto    (default) per route: start in the pool; after WARMUP consecutive calls each under
          THRESHOLD seconds, run inline; one inline call over THRESHOLD flips the route back to
          the pool, and the warm-up it must pass to come back doubles (up to MAX_WARMUP).
The request timeout (504) only applies to calls in the pool: an inline call cannot be interrupted.
"""
from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from time import perf_counter
from typing import Any, Callable

from .errors import MicroserviceError

THRESHOLD = 0.001
WARMUP = 20
MAX_WARMUP = 20_000


class RouteState:
    """Adaptive state of one route (one per route template)."""

    __slots__ = ("inline", "fast", "need")

    def __init__(self) -> None:
        self.inline = False
        self.fast = 0
        self.need = WARMUP

    def record(self, seconds: float) -> None:
        # Runs in a pool thread; a lost update under a race only delays the switch by one call.
        if seconds < THRESHOLD:
            self.fast += 1
            if self.fast >= self.need:
                self.inline = True
        else:
            self.fast = 0


class Runner:
    """Runs synchronous DataPlane work per the policy, with the request timeout in the pool."""

    def __init__(self, mode: str, threads: int, timeout: float) -> None:
        self.mode = mode
        self.timeout = timeout
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="predict")

    async def run(self, state: RouteState, fn: Callable[..., Any], *args: Any) -> Any:
        mode = self.mode
        if mode == "always":
            return fn(*args)
        if mode == "auto" and state.inline:
            start = perf_counter()
            try:
                return fn(*args)
            finally:
                if perf_counter() - start >= THRESHOLD:
                    state.inline = False
                    state.fast = 0
                    state.need = min(state.need * 2, MAX_WARMUP)
        loop = asyncio.get_running_loop()
        fut = loop.run_in_executor(self.executor, _timed, state if mode == "auto" else None, fn, args)
        try:
            return await asyncio.wait_for(fut, self.timeout)
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
