"""CPU cost of the ASGI app alone, without the HTTP server: modelpack's App vs the raw baseline.

`bench/run-serve --appbench` calls each app in-process (`await app(scope, receive, send)`, on uvloop,
one request at a time) and reports process CPU microseconds per request (all threads, so a thread-pool
hop is counted). CPU time does not include time the process was preempted, so the figures hold on a
busy machine where wall-clock req/s do not. Variants switch one runtime knob each, to show what it costs.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
import time

from .cases import Case, body, parse_case
from .servers import MODEL_NAME, MODELS

CASES = ("seldon/small", "v1/small", "v2/small", "v2-binary/small", "seldon/large", "v2/large",
         "v2-binary/large")


def _scope(case: Case, headers: dict[str, str]) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": case.path(MODEL_NAME), "raw_path": case.path(MODEL_NAME).encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


async def _measure(app, case: Case, seconds: float) -> tuple[float, int]:
    data, headers = body(case)
    headers["Content-Length"] = str(len(data))
    scope = _scope(case, headers)
    status: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    for _ in range(50):                                   # warm-up (and the inline policy's warm-up)
        await app(dict(scope), receive, send)
    if set(status) != {200}:
        raise RuntimeError(f"{case.name}: the app answered {sorted(set(status))}, not 200")
    n, cpu0, wall_end = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < wall_end:
        for _ in range(20):
            await app(dict(scope), receive, send)
        n += 20
    return 1e6 * (time.process_time() - cpu0) / n, n


def _modelpack(**overrides):
    from modelpack_runtime.dataplane import DataPlane
    from modelpack_runtime.http_app import App
    from modelpack_runtime.metrics import Metrics
    from modelpack_runtime.settings import Settings

    settings = dataclasses.replace(Settings(interface_name="Model", workdir=str(MODELS / "seldon"),
                                            model_name=MODEL_NAME), **{k: v for k, v in overrides.items()
                                                                      if k != "metrics"})
    metrics = Metrics(settings) if overrides.get("metrics", True) else None
    dp = DataPlane(settings, metrics)
    dp.construct()
    dp.load()
    if not dp.ready:
        raise RuntimeError(f"model not ready: {dp.failure}")
    return App(settings, dp, metrics)


def main(argv: list[str]) -> int:
    seconds = float(argv[0]) if argv else 2.0
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="appbench-prom-"))
    sys.path.insert(0, str(MODELS / "raw"))
    import raw_app
    import uvloop

    variants = {
        "raw app": lambda: raw_app.app,
        "modelpack (defaults: inline auto, metrics on)": lambda: _modelpack(),
        "modelpack, inline always": lambda: _modelpack(inline_predict="always"),
        "modelpack, inline always, no metrics": lambda: _modelpack(inline_predict="always", metrics=False),
        "modelpack, inline never (thread pool)": lambda: _modelpack(inline_predict="never"),
    }
    cases = [parse_case(c) for c in CASES]
    print(f"CPU microseconds per request, app only (no HTTP server), {seconds:g} s per cell")
    print("| variant | " + " | ".join(c.name for c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for label, make in variants.items():
        cells = []
        for case in cases:
            # a fresh app per case: the inline policy keeps per-route state, and the cases share routes
            us, _ = uvloop.run(_measure(make(), case, seconds if case.size == "small" else seconds * 2))
            cells.append(f"{us:.1f}")
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
