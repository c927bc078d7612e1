"""CPU cost of the ASGI app alone, without the HTTP server: modelpack's App vs the raw baseline.

`bench/run-serve --appbench [SECONDS] [--rounds N]` calls each app in-process (`await app(scope,
receive, send)`, on uvloop, one request at a time) and reports process CPU microseconds per request
(all threads, so a thread-pool hop is counted). CPU time does not include time the process was
preempted, but on a shared machine it still grows when the other hyperthread or the caches are
busy; so every cell is measured in N interleaved rounds and the smallest figure is reported (other
load can only add CPU time). Variants switch one runtime knob each, to show what it costs.

Two exact modes need valgrind (Debian's `valgrind` package) and count instructions, which no
amount of load on the machine changes:
- `--instructions`: the app alone, per request, for the raw app and modelpack with the calls
  inline (under valgrind every call takes over 1 ms of wall time, so the default `auto` policy
  would keep them in the thread pool: that variant is not comparable there).
- `--server-instructions`: the whole server process per request (uvicorn, httptools, the app;
  not the kernel), loaded by h2load (`nghttp2-client`) over 8 connections: the raw baseline on
  uvicorn, and one modelpack worker run in-process (no master) so callgrind_control can reach it.
"""
from __future__ import annotations

import dataclasses
import functools
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from .cases import Case, body, parse_case
from .servers import MODEL_NAME, MODELS

CASES = ("seldon/small", "v1/small", "v2/small", "v2-binary/small", "seldon/large", "v1/large", "v2/large",
         "v2-binary/large")
SMALL_REQUESTS = 2000   # per cell in the instruction modes; large bodies: 1/100 of it
HERE = Path(__file__).resolve()


def _scope(case: Case, headers: dict[str, str]) -> dict:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
            "scheme": "http", "path": case.path(MODEL_NAME), "raw_path": case.path(MODEL_NAME).encode(),
            "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 2),
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}


def _driver(app, case: Case):
    """`run(n)`: a coroutine that sends the case's request n times; checks every answer is a 200."""
    data, headers = body(case)
    headers["Content-Length"] = str(len(data))
    scope = _scope(case, headers)
    status: list[int] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": data, "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    async def run(n: int) -> None:
        for _ in range(n):
            await app(dict(scope), receive, send)
        if set(status) != {200}:
            raise RuntimeError(f"{case.name}: the app answered {sorted(set(status))}, not 200")

    return run


async def _measure(app, case: Case, seconds: float) -> tuple[float, int]:
    run = _driver(app, case)
    await run(50)                                        # warm-up (and the inline policy's warm-up)
    n, cpu0, wall_end = 0, time.process_time(), time.monotonic() + seconds
    while time.monotonic() < wall_end:
        await run(20)
        n += 20
    return 1e6 * (time.process_time() - cpu0) / n, n


def _modelpack(**overrides):
    from modelpack_runtime.dataplane import DataPlane
    from modelpack_runtime.http_app import App
    from modelpack_runtime.metrics import Metrics
    from modelpack_runtime.settings import Settings

    settings = dataclasses.replace(Settings(interface_name="Model", workdir=str(MODELS / "seldon"),
                                            model_name=MODEL_NAME), **{k: v for k, v in overrides.items()
                                                                      if k not in ("metrics", "fastjson")})
    if not overrides.get("fastjson", True):
        from modelpack_runtime import fastjson
        fastjson.LARGE = 1 << 62  # every body takes the orjson path
    metrics = Metrics(settings) if overrides.get("metrics", True) else None
    dp = DataPlane(settings, metrics)
    dp.construct()
    dp.load()
    if not dp.ready:
        raise RuntimeError(f"model not ready: {dp.failure}")
    return App(settings, dp, metrics)


def _raw_app():
    sys.path.insert(0, str(MODELS / "raw"))
    import raw_app

    return raw_app.app


VARIANTS = {
    "raw app": _raw_app,
    "modelpack (defaults: inline auto, metrics on)": lambda: _modelpack(),
    "modelpack, inline always": lambda: _modelpack(inline_predict="always"),
    "modelpack, inline always, no metrics": lambda: _modelpack(inline_predict="always", metrics=False),
    "modelpack, inline never (thread pool)": lambda: _modelpack(inline_predict="never"),
}


def _table(title: str, cases: list[Case], rows: dict[str, list[str]]) -> None:
    print(title)
    print("| variant | " + " | ".join(c.name for c in cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for label, cells in rows.items():
        print(f"| {label} | " + " | ".join(cells) + " |", flush=True)


def cpu_time(seconds: float, rounds: int, cases: list[Case]) -> None:
    import uvloop

    best: dict[tuple[str, str], float] = {}
    for r in range(rounds):
        for label, make in VARIANTS.items():
            for case in cases:
                # a fresh app per cell: the inline policy keeps per-route state, and the cases share routes
                us, _ = uvloop.run(_measure(make(), case, seconds if case.size == "small" else seconds * 2))
                key = (label, case.name)
                best[key] = min(us, best.get(key, us))
        print(f"round {r + 1} of {rounds} done (load average {os.getloadavg()[0]:.1f})", file=sys.stderr, flush=True)
    _table(f"CPU microseconds per request, app only (no HTTP server), {seconds:g} s per cell, "
           f"smallest of {rounds} interleaved rounds",
           cases, {label: [f"{best[(label, c.name)]:.1f}" for c in cases] for label in VARIANTS})


# ---- instruction counts (valgrind) ---------------------------------------------------------------

INSTRUCTION_VARIANTS = {"raw app": "raw", "modelpack, inline always": "always",
                        "modelpack, inline always, no fastjson": "always-nofastjson"}


def _need(tool: str, package: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise SystemExit(f"bench/run-serve --appbench: {tool} not found; install Debian's {package} package")
    return path


def _callgrind_total(path: Path) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {path}")


def _requests(case: Case) -> int:
    return SMALL_REQUESTS if case.size == "small" else max(SMALL_REQUESTS // 100, 10)


def one_cell(variant: str, case_name: str, n: int) -> None:
    """Child of --instructions: warm up, then n requests inside functools.reduce, the only code
    callgrind collects (--toggle-collect=functools_reduce)."""
    import uvloop

    case = parse_case(case_name)
    app = _raw_app() if variant == "raw" else _modelpack(inline_predict="always",
                                                        fastjson=not variant.endswith("nofastjson"))
    run = _driver(app, case)
    loop = uvloop.new_event_loop()
    loop.run_until_complete(run(200 if case.size == "small" else 5))
    functools.reduce(lambda _, __: loop.run_until_complete(run(n)), range(1), None)


def app_instructions(cases: list[Case]) -> None:
    valgrind = _need("valgrind", "valgrind")
    rows: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="appbench-cg-") as tmp:
        for label, variant in INSTRUCTION_VARIANTS.items():
            cells = []
            for case in cases:
                out = Path(tmp) / f"{variant}-{case.protocol}-{case.size}.cg"
                n = _requests(case)
                done = subprocess.run([valgrind, "--tool=callgrind", "--collect-atstart=no",
                                       "--toggle-collect=functools_reduce", f"--callgrind-out-file={out}",
                                       sys.executable, "-m", "serve.appbench", "--one", variant, case.name, str(n)],
                                      check=False, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                      env=_prom_env(tmp), cwd=HERE.parent.parent)
                if done.returncode != 0:  # e.g. a runtime without fastjson (an older checkout)
                    said = [ln for ln in done.stderr.splitlines() if ln.strip() and not ln.startswith("==")]
                    print(f"{label} {case.name}: failed: {said[-1] if said else done.returncode}", file=sys.stderr)
                    cells.append("-")
                    continue
                cells.append(f"{_callgrind_total(out) / n / 1000:.1f}")
            rows[label] = cells
    _table("Instructions per request (thousands), app only (no HTTP server), valgrind callgrind", cases, rows)


def _prom_env(tmp: str) -> dict[str, str]:
    folder = Path(tmp) / "prom"
    folder.mkdir(exist_ok=True)
    # PYTHONPATH: this bench's modules, then whatever the caller set (e.g. an older runtime to compare)
    path = os.pathsep.join(p for p in (str(HERE.parent.parent), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PROMETHEUS_MULTIPROC_DIR=str(folder), PYTHONPATH=path)


_SOLO_WORKER = """
import os, sys
from modelpack_runtime import cli, server, worker
cli.configure_logging("WARNING")
settings = cli.settings_from_args(sys.argv[1:], os.environ)
worker._serve_worker(settings, server.bind(settings.host, settings.http_port), 0)
"""


def server_instructions(cases: list[Case]) -> None:
    """Instructions per request of the whole server process (not the kernel), each case after a
    warm-up: callgrind starts uninstrumented, counters are zeroed after the warm-up."""
    valgrind, h2load = _need("valgrind", "valgrind"), _need("h2load", "nghttp2-client")
    control = _need("callgrind_control", "valgrind")
    from . import procs

    rows: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="appbench-srv-") as tmp:
        for label, kind in (("raw app (uvicorn)", "raw"), ("modelpack worker, inline auto", "auto"),
                            ("modelpack worker, inline always", "always")):
            port = procs.free_port()
            env = _prom_env(tmp)
            if kind == "raw":
                argv = [sys.executable, "-m", "uvicorn", "raw_app:app", "--host", "127.0.0.1", "--port", str(port),
                        "--http", "httptools", "--loop", "uvloop", "--no-access-log", "--log-level", "warning"]
                cwd, ready = MODELS / "raw", "/ready"
            else:
                argv = [sys.executable, "-c", _SOLO_WORKER, "Model", "--http-port", str(port), "--host", "127.0.0.1",
                        "--grpc-port", str(procs.free_port()), "--model-name", MODEL_NAME]
                cwd, ready = MODELS / "seldon", f"/v2/models/{MODEL_NAME}/ready"
                env["MODELPACK_INLINE_PREDICT"] = kind
            out = Path(tmp) / f"{kind}.cg"
            proc = subprocess.Popen([valgrind, "--tool=callgrind", "--instr-atstart=no",
                                     f"--callgrind-out-file={out}", *argv], cwd=cwd, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                _wait(f"http://127.0.0.1:{port}{ready}", proc)
                subprocess.run([control, "-i", "on", str(proc.pid)], check=True, capture_output=True)
                cells = []
                for i, case in enumerate(cases, 1):
                    n = _requests(case) * 2
                    _h2load(h2load, tmp, case, port, max(n // 4, 20))
                    subprocess.run([control, "-z", str(proc.pid)], check=True, capture_output=True)
                    _h2load(h2load, tmp, case, port, n)
                    subprocess.run([control, "-d", str(proc.pid)], check=True, capture_output=True)
                    dump = Path(f"{out}.{i}")
                    for _ in range(200):
                        if dump.exists() and dump.stat().st_size:
                            break
                        time.sleep(0.05)
                    time.sleep(0.5)
                    cells.append(f"{_callgrind_total(dump) / n / 1000:.1f}")
                rows[label] = cells
            finally:
                proc.terminate()
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    proc.kill()
    _table("Instructions per request (thousands), whole server process (user space), valgrind callgrind, "
           "h2load at 8 connections", cases, rows)
    print("\n(inline auto under valgrind: every call takes over 1 ms of wall time, so the policy keeps the "
          "predict calls in the thread pool; on a real machine it runs them inline: compare 'inline always')")


def _wait(url: str, proc: subprocess.Popen) -> None:
    for _ in range(1200):
        if proc.poll() is not None:
            raise RuntimeError(f"server under valgrind exited with {proc.returncode}")
        try:
            urllib.request.urlopen(url, timeout=5)
            return
        except OSError:
            time.sleep(0.25)
    raise RuntimeError(f"server under valgrind not ready: {url}")


def _h2load(h2load: str, tmp: str, case: Case, port: int, n: int) -> None:
    data, headers = body(case)
    path = Path(tmp) / f"{case.protocol}-{case.size}.body"
    path.write_bytes(data)
    argv = [h2load, "--h1", "-n", str(n), "-c", "8", "-d", str(path)]
    for k, v in headers.items():
        argv += ["-H", f"{k}: {v}"]
    done = subprocess.run(argv + [f"http://127.0.0.1:{port}{case.path(MODEL_NAME)}"], check=False,
                          capture_output=True, text=True)
    if not re.search(rf"\b{n} succeeded\b", done.stdout):
        raise RuntimeError(f"h2load {case.name}: not every request succeeded:\n{done.stdout[-2000:]}")


def main(argv: list[str]) -> int:
    if argv[:1] == ["--one"]:
        one_cell(argv[1], argv[2], int(argv[3]))
        return 0
    os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="appbench-prom-"))
    rounds = 3
    if "--rounds" in argv:
        i = argv.index("--rounds")
        rounds = int(argv[i + 1])
        del argv[i:i + 2]
    cases = [parse_case(c) for c in CASES]
    if argv[:1] == ["--instructions"]:
        app_instructions(cases)
    elif argv[:1] == ["--server-instructions"]:
        server_instructions(cases)
    else:
        cpu_time(float(argv[0]) if argv else 2.0, rounds, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
