"""Profile one server under load: `python -m serve.profile SERVER CASE [--seconds N]` (run through
bench/run-serve's venv: `bench/run-serve --profile SERVER CASE`).

Starts SERVER, loads CASE at 8 connections (wrk for REST, h2load for gRPC cases), and meanwhile
- samples the busiest server process with py-spy (installed in its own cached venv) into a
  collapsed-stack file and prints the top functions, self and inclusive;
- reads the CPU time (utime + stime from /proc) each server process used, to report CPU
  microseconds per request: the figure that decides throughput on a 2-core box.
"""
from __future__ import annotations

import argparse
import collections
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from . import grpccases, loadgen, procs, venvs
from .cases import parse_case, write_script
from .runner import _env
from .servers import MODEL_NAME, SPECS, Ports, bench_bindir

PYSPY = venvs.Venv("py-spy-0.4", sys.executable, ("py-spy>=0.4,<0.5",), "py-spy")
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def summarize(collapsed: Path, top: int = 25) -> str:
    own, incl, total = collections.Counter(), collections.Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        count = int(n)
        total += count
        frames = []
        for f in stack.split(";"):
            name, _, where = f.partition(" (")
            frames.append(f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]})" if where else name)
        own[frames[-1]] += count
        for name in set(frames):
            incl[name] += count
    lines = [f"{total} samples", "self:"]
    lines += [f"  {100 * v / total:5.1f}%  {k}" for k, v in own.most_common(top)]
    lines += ["inclusive:"] + [f"  {100 * v / total:5.1f}%  {k}" for k, v in incl.most_common(top + 15)]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench/run-serve --profile")
    p.add_argument("server", choices=list(SPECS))
    p.add_argument("case", help="e.g. seldon/small, v2-binary/large, grpc-seldon/small")
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent.parent / "results" / "profiles")
    args = p.parse_args(argv)
    try:
        spec, case = SPECS[args.server], parse_case(args.case)
    except ValueError as exc:
        p.error(str(exc))
    if case not in spec.cases:
        p.error(f"{spec.name} does not serve {case.name}; it serves {', '.join(c.name for c in spec.cases)}")
    pyspy = venvs.ensure(PYSPY, print).bin("py-spy")
    bindir = bench_bindir() if spec.venv is None else str(venvs.ensure(spec.venv(), print).path / "bin")
    work = args.out / f"{spec.name}-{case.protocol}-{case.size}"
    (work / "home").mkdir(parents=True, exist_ok=True)
    ports = Ports(procs.free_port(), procs.free_port(), procs.free_port())
    base = f"http://127.0.0.1:{ports.http}"
    server = procs.start(spec.name, spec.argv(bindir, ports), _env(spec, ports, work / "home"), spec.cwd,
                         work / "server.log")
    try:
        server.wait_ready(base + spec.ready_path)
        script = write_script(case, MODEL_NAME, work)
        if case.grpc:
            target = f"127.0.0.1:{ports.grpc}"
            grpccases.wait_ready(target, 60)
            url = f"http://{target}{case.path(MODEL_NAME)}"

            def run(seconds: int) -> dict:
                return loadgen.run_grpc(script, url, args.connections, seconds, work / "h2load.log")
        else:
            url = base + case.path(MODEL_NAME)

            def run(seconds: int) -> dict:
                return loadgen.run(script, url, args.connections, seconds)
        run(2)                                                              # warm-up
        tree = procs.process_tree(server.proc.pid)
        before = {pid: cpu_seconds(pid) for pid in tree}
        result: dict = {}
        load = threading.Thread(target=lambda: result.update(run(args.seconds)))
        load.start()
        time.sleep(1.0)
        busiest = max(tree, key=lambda pid: cpu_seconds(pid) - before[pid])
        collapsed = work / "pyspy.collapsed.txt"
        subprocess.run([pyspy, "record", "-p", str(busiest), "-d", str(max(args.seconds - 3, 1)), "-r", "250",
                        "-f", "raw", "-o", str(collapsed), "--nonblocking"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        load.join()
        used = {pid: cpu_seconds(pid) - before[pid] for pid in tree if Path(f"/proc/{pid}").exists()}
    finally:
        server.stop()
    requests = result["requests"]
    report = [(f"{spec.name} {case.name} at {args.connections} connections: {result['rps']:.0f} req/s,"
               f" p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms"),
              "CPU per request (utime+stime over the measured run / requests):"]
    report += [f"  pid {pid}{' (profiled)' if pid == busiest else ''}: {1e6 * s / requests:.1f} us"
               for pid, s in used.items()]
    report += [f"  total: {1e6 * sum(used.values()) / requests:.1f} us", "", summarize(collapsed)]
    text = "\n".join(report)
    (work / "summary.txt").write_text(text + "\n")
    print(text)
    print(f"\nfiles in {work}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
