"""`python -m serve` (what bench/run-serve runs): parse options, run every server in turn, write
bench/results/serve.{json,md,png}."""
from __future__ import annotations

import argparse
import fnmatch
import os
import platform
import shlex
import shutil
import signal
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from . import loadgen, report
from .cases import ALL_CASES
from .runner import Plan, measure, start_server, stop_all
from .servers import SPECS

BENCH = Path(__file__).resolve().parent.parent


def _log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="bench/run-serve", description=__doc__)
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 1 s runs, no warm-up, 8 connections only; writes to results/partial/")
    p.add_argument("--only", action="append", default=[], metavar="NAME",
                   help=f"run only these servers (repeat or comma-separate): {', '.join(SPECS)}")
    p.add_argument("--cases", default="*", metavar="PATTERN[,PATTERN]",
                   help="run only the cases matching these globs, e.g. 'grpc-*' or 'v2/small,v2-binary/*'"
                        f" (cases: {', '.join(c.name for c in ALL_CASES)})")
    p.add_argument("--seconds", type=int, default=4, help="length of each measured wrk run (default 4)")
    p.add_argument("--warmup", type=int, default=2, help="warm-up run per case, 8 connections (default 2)")
    p.add_argument("--connections", default="1,8,64", help="comma-separated (default 1,8,64)")
    p.add_argument("--rounds", type=int, default=3,
                   help="repeat the measurements N times and report medians (default 3)")
    p.add_argument("--out", type=Path, default=None,
                   help="results folder (default bench/results, or bench/results/partial with --quick/--only)")
    args = p.parse_args(argv)
    only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = [n for n in only if n not in SPECS]
    if unknown:
        p.error(f"--only {','.join(unknown)}: unknown server; choose from {', '.join(SPECS)}")
    args.only = only or list(SPECS)
    patterns = [c.strip() for c in args.cases.split(",") if c.strip()]
    args.cases = tuple(c for c in ALL_CASES if any(fnmatch.fnmatchcase(c.name, pat) for pat in patterns))
    if not args.cases:
        p.error(f"--cases {','.join(patterns)}: matches no case;"
                f" cases are {', '.join(c.name for c in ALL_CASES)}")
    for tool, package, kind in (("wrk", "wrk", "REST"), ("h2load", "nghttp2-client", "gRPC")):
        if any(c.grpc == (kind == "gRPC") for c in args.cases) and shutil.which(tool) is None:
            p.error(f"{tool} not found on PATH: it loads the {kind} cases; install Debian's {package} package"
                    f" (bench/run-serve does that), or leave those cases out with --cases")
    if args.quick:
        args.seconds, args.warmup, args.connections, args.rounds = 1, 0, "8", 1
    try:
        args.connections = tuple(int(c) for c in args.connections.split(","))
    except ValueError:
        p.error(f"--connections {args.connections!r}: expected comma-separated integers, e.g. 1,8,64")
    if args.out is None:
        partial = args.quick or len(args.only) < len(SPECS) or len(args.cases) < len(ALL_CASES)
        args.out = BENCH / "results" / ("partial" if partial else "")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    plan = Plan(args.connections, args.seconds, args.warmup, BENCH / "results" / "raw" / stamp, args.rounds,
                args.cases)
    meta = {
        "command": " ".join(["bench/run-serve", *(shlex.quote(a) for a in (argv or sys.argv[1:]))]),
        "started_utc": stamp, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}",
        "load_before": os.getloadavg(), "wrk": loadgen.wrk_version(), "h2load": loadgen.h2load_version(),
        "cases": [c.name for c in args.cases],
        "seconds": plan.seconds, "warmup": plan.warmup, "connections": list(plan.connections),
        "rounds": plan.rounds,
    }
    _log(f"serving benchmark: {', '.join(args.only)}; {plan.seconds} s per run at {plan.connections}"
         f" connections; load average {meta['load_before'][0]:.2f}")
    # SIGTERM (e.g. a CI timeout) unwinds through `finally`, so every server started here is stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    running = []
    try:
        for name in args.only:
            running.append(start_server(SPECS[name], plan, _log))
        measure(running, plan, _log)
    finally:
        stop_all(running)
    servers = {r.spec.name: r.result for r in running}
    meta["load_after"] = os.getloadavg()
    results = {"meta": meta, "servers": servers}
    paths = report.write(results, args.out)
    if args.out.resolve() == (BENCH / "results").resolve():
        md = (args.out / "serve.md").read_text()
        for doc, image in ((BENCH / "README.md", "results/serve.png"),
                           (BENCH.parent / "docs" / "serving-benchmark.md", "../bench/results/serve.png")):
            if report.refresh_section(doc, md, image):
                paths.append(doc)
    _log("wrote " + ", ".join(str(p) for p in paths))
    failed = [n for n, s in servers.items() if "failure" in s or any(v != "ok" for v in s["checks"].values())]
    if failed:
        _log(f"some servers failed or answered wrong: {', '.join(failed)} (see the JSON)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
