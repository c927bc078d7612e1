"""Run one server through the benchmark: start, time to ready, check every answer, measure idle
memory, load each case with wrk, stop. Returns a plain dict for results JSON."""
from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from . import loadgen, procs, venvs
from .cases import Case, body, check_answer, write_script
from .servers import MODEL_NAME, Ports, ServerSpec, bench_bindir


@dataclass(frozen=True)
class Plan:
    connections: tuple[int, ...]
    seconds: int
    warmup: int
    workdir: Path           # scripts, bodies, server logs, scratch HOME


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


def bench_server(spec: ServerSpec, plan: Plan, log) -> dict:
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
    try:
        result["ready_s"] = round(server.wait_ready(base + spec.ready_path), 3)
        log(f"[{spec.name}] ready in {result['ready_s']:.3f} s")
        time.sleep(1.0)   # let start-up work (imports, lazy init, worker forks) settle before "idle"
        result["memory"] = procs.memory(server.proc.pid)
        log(f"[{spec.name}] idle RSS {result['memory']['rss_total_mb']} MB over "
            f"{len(result['memory']['processes'])} processes")
        passed = []
        for case in spec.cases:
            try:
                check_answer(case, post(base + case.path(MODEL_NAME), case))
                result["checks"][case.name] = "ok"
                passed.append(case)
            except (AssertionError, KeyError, TypeError, ValueError, OSError) as exc:
                result["checks"][case.name] = f"FAILED: {exc}"
                log(f"[{spec.name}] answer check FAILED, case not timed: {exc}")
        # after one request of every case (large bodies included): what a warm server holds
        result["memory_after_checks"] = procs.memory(server.proc.pid)
        for case in passed:
            script = write_script(case, MODEL_NAME, plan.workdir / "scripts")
            url = base + case.path(MODEL_NAME)
            if plan.warmup:
                loadgen.run(script, url, 8, plan.warmup)
            runs = {}
            for connections in plan.connections:
                r = loadgen.run(script, url, connections, plan.seconds)
                runs[str(connections)] = r
                log(f"[{spec.name}] {case.name:16} c={connections:<3} {r['rps']:>9.1f} req/s"
                    f"  p50 {r['p50_ms']:.2f} ms  p99 {r['p99_ms']:.2f} ms  errors {r['error_total']}")
            result["cases"][case.name] = runs
    except RuntimeError as exc:
        result["failure"] = str(exc)
        log(f"[{spec.name}] FAILED: {exc}")
    finally:
        server.stop()
    return result
