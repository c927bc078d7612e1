"""Run the servers through the benchmark.

Phase 1, one server at a time: start it, time it to ready (HTTP, then gRPC if it serves gRPC cases),
record idle memory, check every answer (gRPC: three calls with grpcio, which also give the exact
answer size), record memory again. Every server stays up. Phase 2, case by case: warm each server up
on the case, then for each connection count load every server in turn (wrk for REST, h2load for
gRPC, followed by one more checked grpcio call so a server that started failing under load shows).
Measurements that are compared sit seconds apart, not minutes, so a shared machine's drifting load
skews the ratios less. With `rounds` > 1 phase 2 repeats and each figure is the median over the
rounds. Phase 3 stops them all.
"""
from __future__ import annotations

import json
import os
import statistics
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from . import grpccases, loadgen, procs, venvs
from .cases import ALL_CASES, Case, body, check_answer, check_values, grpc_message, write_script
from .servers import MODEL_NAME, Ports, ServerSpec, bench_bindir


@dataclass(frozen=True)
class Plan:
    connections: tuple[int, ...]
    seconds: int
    warmup: int
    workdir: Path           # scripts, bodies, server logs, scratch HOME
    rounds: int = 1
    cases: tuple[Case, ...] = ALL_CASES     # the cases to check and time (--cases)


@dataclass
class Running:
    spec: ServerSpec
    server: procs.Server | None
    base: str
    result: dict
    grpc_target: str = ""                           # host:port of its gRPC server
    passed: list[Case] = field(default_factory=list)
    samples: dict = field(default_factory=dict)     # case name -> connections -> [run, ...]
    answer_bytes: dict = field(default_factory=dict)  # gRPC case name -> (min, max) answer size
    loads: dict = field(default_factory=dict)       # case name -> the file the load generator replays


def _env(spec: ServerSpec, ports: Ports, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV", "MLSERVER_"))}
    # gunicorn (seldon-core) writes a control socket under $HOME/.gunicorn
    env.update(HOME=str(home), PYTHONUNBUFFERED="1", PYTHONDONTWRITEBYTECODE="1")
    env.update(spec.env(ports))
    return env


def post(url: str, case: Case, timeout: float = 30.0) -> dict:
    data, headers = body(case)
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read()[:300].decode(errors="replace")
        raise AssertionError(f"{case.name}: HTTP {exc.code} from {url}: {detail}") from None


def check_grpc(target: str, case: Case, calls: int = 1) -> tuple[int, int]:
    """`calls` checked gRPC calls of `case`; the (min, max) size of the serialized answers. Raises
    AssertionError on a status other than OK or a wrong answer."""
    request, sizes = grpc_message(case, MODEL_NAME), []
    for _ in range(calls):
        answer = grpccases.call(target, case.path(MODEL_NAME), request)
        check_values(case, grpccases.answer_values(case.protocol, answer))
        sizes.append(len(answer))
    return min(sizes), max(sizes)


def _check(running: Running, case: Case) -> None:
    if case.grpc:
        running.answer_bytes[case.name] = check_grpc(running.grpc_target, case, calls=3)
        running.result.setdefault("grpc_answer_bytes", {})[case.name] = list(running.answer_bytes[case.name])
    else:
        check_answer(case, post(running.base + case.path(MODEL_NAME), case))


def start_server(spec: ServerSpec, plan: Plan, log) -> Running:
    """Phase 1 for one server. On failure the server is stopped and `result["failure"]` says why."""
    if spec.venv is None:
        bindir, note = bench_bindir(), ""
        version = venvs.installed_version(f"{bindir}/python", spec.package)
    else:
        venv = venvs.ensure(spec.venv(), log)
        bindir, note = str(venv.path / "bin"), venv.note
        version = venvs.installed_version(venv.bin("python"), venv.package)
    ports = Ports(procs.free_port(), procs.free_port(), procs.free_port())
    home = plan.workdir / "home" / spec.name
    home.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{ports.http}"
    result: dict = {"version": version, "note": note, "workers": spec.workers, "kind": spec.kind,
                    "checks": {}, "cases": {}}
    log(f"[{spec.name}] {version}: starting on {base}")
    server = procs.start(spec.name, spec.argv(bindir, ports), _env(spec, ports, home), spec.cwd,
                         plan.workdir / "logs" / f"{spec.name}.log")
    running = Running(spec, server, base, result, grpc_target=f"127.0.0.1:{ports.grpc}")
    cases = [c for c in spec.cases if c in plan.cases]
    try:
        result["ready_s"] = round(server.wait_ready(base + spec.ready_path), 3)
        log(f"[{spec.name}] ready in {result['ready_s']:.3f} s")
        if any(c.grpc for c in cases):
            try:
                grpccases.wait_ready(running.grpc_target, max(1.0, server.started + 60 - time.monotonic()))
                result["grpc_ready_s"] = round(time.monotonic() - server.started, 3)
                log(f"[{spec.name}] gRPC on {running.grpc_target} up"
                    f" {result['grpc_ready_s']:.3f} s after start")
            except TimeoutError as exc:
                for case in [c for c in cases if c.grpc]:
                    result["checks"][case.name] = f"FAILED: {exc}"
                    cases.remove(case)
                log(f"[{spec.name}] gRPC FAILED, its cases are not timed: {exc}")
        time.sleep(1.0)   # let start-up work (imports, lazy init, worker forks) settle before "idle"
        result["memory"] = procs.memory(server.proc.pid)
        log(f"[{spec.name}] idle RSS {result['memory']['rss_total_mb']} MB over "
            f"{len(result['memory']['processes'])} processes")
        for case in cases:
            try:
                _check(running, case)
                result["checks"][case.name] = "ok"
                running.passed.append(case)
            except (AssertionError, KeyError, TypeError, ValueError, OSError) as exc:
                result["checks"][case.name] = f"FAILED: {exc}"
                log(f"[{spec.name}] answer check FAILED, case not timed: {exc}")
        # after one request of every case (large bodies included): what a warm server holds
        result["memory_after_checks"] = procs.memory(server.proc.pid)
    except RuntimeError as exc:
        result["failure"] = str(exc)
        log(f"[{spec.name}] FAILED: {exc}")
        server.stop()
        running.server = None
    except BaseException:
        # anything else (Ctrl-C, SIGTERM, a closed stdout) leaves before the caller knows this
        # server: stop it here, or it would outlive the bench
        server.stop()
        raise
    return running


def _median_run(runs: list[dict]) -> dict:
    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in ("rps", "p50_ms", "p90_ms", "p99_ms", "max_ms", "loadgen_cpu_us_per_request",
                "loadgen_cpu_share"):
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = round(statistics.median(values), 3)
    out["requests"] = sum(r["requests"] for r in runs)
    out["error_total"] = sum(r["error_total"] for r in runs)
    out["errors"] = {k: sum(r["errors"].get(k, 0) for r in runs) for k in runs[0]["errors"]}
    failed_check = next((r["check_after"] for r in runs if r.get("check_after")), None)
    if failed_check:
        out["check_after"] = failed_check
    out["rounds"] = [{k: r[k] for k in ("rps", "p50_ms", "p99_ms", "error_total")} for r in runs]
    return out


def load(r: Running, case: Case, connections: int, seconds: int, plan: Plan) -> dict:
    """One load-generator run of `case` against `r`: wrk for REST; for gRPC h2load, then one checked
    grpcio call (h2load cannot see grpc-status, so a server that started failing shows here)."""
    url_path = case.path(MODEL_NAME)
    if not case.grpc:
        return loadgen.run(r.loads[case.name], r.base + url_path, connections, seconds)
    log_path = plan.workdir / "h2load" / f"{r.spec.name}-{case.protocol}-{case.size}.log"
    run = loadgen.run_grpc(r.loads[case.name], f"http://{r.grpc_target}{url_path}", connections, seconds,
                           log_path, r.answer_bytes.get(case.name), grpccases.HEADERS)
    try:
        check_grpc(r.grpc_target, case)
        run["errors"]["check_after"] = 0
    except (AssertionError, ValueError, KeyError) as exc:
        run["errors"]["check_after"] = 1
        run["error_total"] += 1
        run["check_after"] = str(exc)
    return run


def measure(servers: list[Running], plan: Plan, log) -> None:
    """Phase 2: case by case, connection count by connection count, every server in turn."""
    for round_no in range(plan.rounds):
        for case in plan.cases:
            ready = [r for r in servers if r.server is not None and case in r.passed]
            for r in ready:
                r.loads[case.name] = write_script(case, MODEL_NAME, plan.workdir / "scripts")
                if plan.warmup and round_no == 0:
                    try:
                        load(r, case, 8, plan.warmup, plan)
                    except RuntimeError as exc:
                        log(f"[{r.spec.name}] {case.name} warm-up: {exc}")
            for connections in plan.connections:
                for r in ready:
                    try:
                        run = load(r, case, connections, plan.seconds, plan)
                    except RuntimeError as exc:
                        log(f"[{r.spec.name}] {case.name} c={connections}: {exc}")
                        continue
                    r.samples.setdefault(case.name, {}).setdefault(str(connections), []).append(run)
                    tag = f" round {round_no + 1}" if plan.rounds > 1 else ""
                    log(f"[{r.spec.name:12}] {case.name:18} c={connections:<3} {run['rps']:>9.1f} req/s"
                        f"  p50 {run['p50_ms']:.2f} ms  p99 {run['p99_ms']:.2f} ms"
                        f"  errors {run['error_total']}{tag}"
                        + (f"  ({run['check_after']})" if run.get("check_after") else ""))
    for r in servers:
        r.result["cases"] = {case: {c: _median_run(runs) for c, runs in by_c.items()}
                             for case, by_c in r.samples.items()}


def stop_all(servers: list[Running]) -> None:
    for r in servers:
        if r.server is not None:
            r.server.stop()
            if r.server.proc.returncode not in (0, -15, 143):
                r.result["exit_code"] = r.server.proc.returncode
            r.server = None
