"""The adaptive inline/thread-pool policy (MODELPACK_INLINE_PREDICT), on a real event loop."""
from __future__ import annotations

import asyncio
import threading
import time

import pytest

from modelpack_runtime import inline
from modelpack_runtime.errors import MicroserviceError


def where() -> str:
    return threading.current_thread().name


def run(runner: inline.Runner, state: inline.RouteState, fn, n: int = 1) -> list:
    async def go() -> list:
        return [await runner.run(state, fn) for _ in range(n)]

    return asyncio.run(go())


def test_auto_goes_inline_after_warmup_and_back_on_a_slow_call() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    names = run(runner, state, where, inline.WARMUP)
    assert all(n.startswith("predict") for n in names)  # warm-up in the pool
    assert state.inline
    assert run(runner, state, where) == [threading.main_thread().name]  # now on the loop's thread
    run(runner, state, lambda: time.sleep(inline.SLOW * 1.2))
    assert not state.inline and state.pool_until > time.monotonic()
    assert run(runner, state, where)[0].startswith("predict")  # back in the pool for the cooldown
    runner.shutdown()


def test_auto_steady_few_ms_model_flips_back_within_a_few_calls() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    run(runner, state, where, inline.WARMUP)
    assert state.inline
    calls = 0
    while state.inline and calls < 50:
        run(runner, state, lambda: time.sleep(0.005))
        calls += 1
    assert not state.inline and calls == inline.SLOW_CALLS
    runner.shutdown()


def test_auto_rare_spikes_keep_a_fast_route_inline() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    run(runner, state, where, inline.WARMUP)
    for _ in range(5):  # one 20 ms spike (say, preemption) among every 30 calls
        run(runner, state, lambda: time.sleep(0.02))
        run(runner, state, where, 29)
    assert state.inline
    runner.shutdown()


def test_auto_slow_model_never_goes_inline() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    run(runner, state, lambda: time.sleep(0.003), inline.WARMUP * 2)
    assert not state.inline
    runner.shutdown()


@pytest.mark.parametrize("mode,pool", [("always", False), ("never", True)])
def test_fixed_modes(mode: str, pool: bool) -> None:
    runner, state = inline.Runner(mode, 2, 5.0), inline.RouteState()
    names = run(runner, state, where, inline.WARMUP + 5)
    assert all(n.startswith("predict") == pool for n in names)
    runner.shutdown()


def test_pool_call_over_timeout_is_504() -> None:
    runner, state = inline.Runner("never", 1, 0.2), inline.RouteState()
    with pytest.raises(MicroserviceError) as info:
        run(runner, state, lambda: time.sleep(0.5))
    assert info.value.status_code == 504 and "0.2 s" in info.value.message
    runner.shutdown()


def test_auto_never_runs_inline_while_a_pool_call_is_busy() -> None:
    # --threads 1 promises one user call at a time, even when one route runs inline
    runner, fast, slow = inline.Runner("auto", 1, 5.0), inline.RouteState(), inline.RouteState()
    run(runner, fast, where, inline.WARMUP)
    assert fast.inline
    active = {"now": 0, "max": 0}

    def guarded(seconds: float):
        def call() -> str:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
            time.sleep(seconds)
            active["now"] -= 1
            return where()
        return call

    async def go() -> list:
        slow_task = asyncio.ensure_future(runner.run(slow, guarded(0.3)))
        await asyncio.sleep(0.05)  # the slow call is running in the pool thread
        fast_name = await runner.run(fast, guarded(0.0))
        return [await slow_task, fast_name]

    slow_name, fast_name = asyncio.run(go())
    assert active["max"] == 1
    assert fast_name.startswith("predict")  # it waited for the pool instead of running beside it
    assert fast.inline and run(runner, fast, where) == [threading.main_thread().name]  # idle pool: inline again
    runner.shutdown()


def test_a_timed_out_queued_call_does_not_block_inline_forever() -> None:
    runner, fast, slow = inline.Runner("auto", 1, 0.2), inline.RouteState(), inline.RouteState()
    run(runner, fast, where, inline.WARMUP)

    async def go() -> None:
        a = asyncio.ensure_future(runner.run(slow, lambda: time.sleep(0.4)))
        b = asyncio.ensure_future(runner.run(slow, lambda: time.sleep(0.4)))  # queued, then cancelled
        for t in (a, b):
            with pytest.raises(MicroserviceError):
                await t

    asyncio.run(go())
    time.sleep(0.5)  # the running one finishes in its thread
    assert runner.submitted == runner.finished
    assert run(runner, fast, where) == [threading.main_thread().name]
    runner.shutdown()


def test_auto_two_slow_calls_in_a_row_do_not_flip_three_do() -> None:
    # a preempted call is a random event: two in a row happen, three in a row are a slow model
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    run(runner, state, where, inline.WARMUP)
    for _ in range(3):
        for _ in range(inline.SLOW_CALLS - 1):
            run(runner, state, lambda: time.sleep(0.002))
        run(runner, state, where, 2)
    assert state.inline  # 6 slow calls among the last 20, never SLOW_CALLS in a row
    for _ in range(inline.SLOW_CALLS):
        run(runner, state, lambda: time.sleep(0.002))
    assert not state.inline
    runner.shutdown()


def test_auto_a_model_slow_half_the_time_flips() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    run(runner, state, where, inline.WARMUP)
    calls = 0
    while state.inline and calls < 60:
        run(runner, state, lambda: time.sleep(0.002))  # slow, fast, slow, fast ...: never 2 in a row
        run(runner, state, where)
        calls += 2
    assert not state.inline and calls <= inline.WINDOW + 2
    runner.shutdown()


def test_auto_a_few_slow_pool_calls_do_not_keep_a_fast_route_in_the_pool() -> None:
    # in the pool a fast call now and then waits for the GIL or a core; it still goes inline
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    for i in range(inline.WARMUP):
        run(runner, state, (lambda: time.sleep(0.002)) if i % 10 == 0 else where)
    assert state.inline
    runner.shutdown()


def test_auto_a_route_with_many_slow_pool_calls_stays_in_the_pool() -> None:
    runner, state = inline.Runner("auto", 1, 5.0), inline.RouteState()
    for i in range(inline.WARMUP * 2):
        run(runner, state, (lambda: time.sleep(0.002)) if i % 5 == 0 else where)
    assert not state.inline  # 4 of every 20 calls slow: at least SLOW_CALLS in any window
    runner.shutdown()
