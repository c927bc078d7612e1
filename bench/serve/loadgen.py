"""Drive the load generators and read back their summaries: wrk (Debian's package) with a generated
Lua script for REST, h2load (Debian's nghttp2-client) replaying one gRPC frame over h2c for gRPC.

Both return the same dict: req/s, p50/p90/p99/max latency (ms), every error count, and the CPU time
the load generator itself used (so a run can show the generator was not the bottleneck).
"""
from __future__ import annotations

import json
import math
import re
import resource
import subprocess
from collections.abc import Iterable, Sequence
from pathlib import Path


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
    except OSError:
        return "not installed"
    text = (out.stdout + out.stderr).strip()
    return text.splitlines()[0].strip() if text else "unknown"


def wrk_version() -> str:
    return _first_line(["wrk", "-v"])


def h2load_version() -> str:
    return _first_line(["h2load", "--version"])


def _children_cpu() -> float:
    """CPU seconds (user + system) of this process's waited-for children so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(argv: list[str], timeout: float) -> tuple[subprocess.CompletedProcess, float]:
    """Run `argv`; return its result and the CPU seconds it used (all its threads)."""
    before = _children_cpu()
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise RuntimeError(f"{argv[0]} not found on PATH (bench/run-serve installs it)") from None
    return out, _children_cpu() - before


def _cpu_fields(cpu_s: float, requests: int, seconds: float) -> dict:
    return {"loadgen_cpu_us_per_request": round(1e6 * cpu_s / requests, 1) if requests else None,
            "loadgen_cpu_share": round(cpu_s / seconds, 3) if seconds else None}


def run(script: Path, url: str, connections: int, seconds: int) -> dict:
    """One bounded wrk run: `connections` keep-alive connections for `seconds`, 10 s request timeout.

    Returns req/s, p50/p90/p99/max latency (ms) and every error count wrk saw (non-2xx included).
    """
    threads = min(2, connections)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", str(script), url]
    out, cpu_s = _timed(argv, seconds + 60)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({' '.join(argv)}): {out.stderr.strip() or out.stdout.strip()}")
    raw = json.loads(line[len("WRKJSON "):])
    errors = {k: raw[k] for k in ("connect_errors", "read_errors", "write_errors", "status_errors", "timeouts")}
    seconds_run = raw["duration_us"] / 1e6
    return {
        "connections": connections,
        "requests": raw["requests"],
        "seconds": round(seconds_run, 3),
        "rps": round(raw["requests"] / seconds_run, 1) if seconds_run else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "max_ms": raw["max_us"] / 1000,
        "errors": errors,
        "error_total": sum(errors.values()),
        **_cpu_fields(cpu_s, raw["requests"], seconds_run),
    }


# ------------------------------------------------------------------------------------------- h2load

def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The nearest-rank `q`-th percentile (0 < q <= 100) of ascending `sorted_values`: the smallest
    value that at least q % of the values do not exceed. 0.0 for no values."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def read_h2load_log(lines: Iterable[str]) -> tuple[list[int], int]:
    """h2load --log-file rows (start time in us since the epoch, HTTP status, us to the end of the
    response; tab-separated): the latencies (us) of the streams that got a response, ascending, and
    the number of failed streams (status -1)."""
    latencies, failed = [], 0
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 3:
            continue
        if int(fields[1]) < 0:
            failed += 1
        else:
            latencies.append(int(fields[2]))
    latencies.sort()
    return latencies, failed


_REQUESTS = re.compile(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed,"
                       r" (\d+) errored, (\d+) timeout")
_STATUS = re.compile(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx")
_DATA = re.compile(r"traffic: .*?, .*? headers .*?, \S+ \((\d+)\) data")
_FINISHED = re.compile(r"finished in ([\d.]+)(m?s), ([\d.]+) req/s")


def parse_h2load(stdout: str) -> dict:
    """The summary h2load prints: run time, req/s, request counts, status classes, DATA bytes."""
    found = {name: rx.search(stdout) for name, rx in
             (("finished", _FINISHED), ("requests", _REQUESTS), ("status", _STATUS), ("data", _DATA))}
    missing = [name for name, m in found.items() if m is None]
    if missing:
        raise ValueError(f"h2load output lacks its {', '.join(missing)} line(s): {stdout.strip()[-400:]}")
    fin, req, status, data = found["finished"], found["requests"], found["status"], found["data"]
    seconds = float(fin.group(1)) / (1000 if fin.group(2) == "ms" else 1)
    total, started, done, succeeded, failed, errored, timeout = (int(g) for g in req.groups())
    s2xx, s3xx, s4xx, s5xx = (int(g) for g in status.groups())
    return {"seconds": seconds, "rps": float(fin.group(3)), "total": total, "started": started,
            "done": done, "succeeded": succeeded, "failed": failed, "errored": errored, "timeout": timeout,
            "status_2xx": s2xx, "status_3xx": s3xx, "status_4xx_5xx": s4xx + s5xx,
            "data_bytes": int(data.group(1))}


def short_responses(summary: dict, answer_bytes: tuple[int, int] | None) -> int:
    """How many 2xx responses at least carried no complete answer, from the DATA byte count.

    h2load cannot read grpc-status (it comes in the trailers), and a gRPC error is an HTTP 200 with
    no DATA at all (a trailers-only response). Every good answer is one frame of 5 + n bytes with n
    in `answer_bytes` (min, max), as the checks before timing measured; so DATA below
    2xx x (5 + min) means some answers were missing, at least (shortfall / (5 + max)) of them.
    """
    if answer_bytes is None:
        return 0
    low, high = answer_bytes
    shortfall = summary["status_2xx"] * (5 + low) - summary["data_bytes"]
    return math.ceil(shortfall / (5 + high)) if shortfall > 0 else 0


def run_grpc(frame: Path, url: str, connections: int, seconds: int, log_path: Path,
             answer_bytes: tuple[int, int] | None = None, headers: dict[str, str] | None = None) -> dict:
    """One bounded h2load run over h2c: `connections` connections with one stream in flight each
    (-m 1, like wrk's one request per connection), for `seconds`, every request the gRPC frame in
    `frame` POSTed to `url` (http://host:port/package.Service/Method).

    Latency percentiles come from h2load's per-request log (written to `log_path`); errors are
    h2load's failed/errored/timeout streams, non-2xx statuses, and answers short of DATA (gRPC
    errors, see short_responses). One h2load thread: it drives 64 connections at well over the
    request rates of these Python servers for a small fraction of one core (loadgen_cpu_share).
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_path.unlink(missing_ok=True)          # h2load appends to an existing log file
    argv = ["h2load", "-c", str(connections), "-t", "1", "-m", "1", "-D", str(seconds),
            "-d", str(frame), "--log-file", str(log_path)]
    for key, value in (headers or {"content-type": "application/grpc", "te": "trailers"}).items():
        argv += ["-H", f"{key}: {value}"]
    argv.append(url)
    out, cpu_s = _timed(argv, seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"h2load failed ({' '.join(argv)}): {out.stderr.strip() or out.stdout.strip()}")
    try:
        summary = parse_h2load(out.stdout)
    except ValueError as exc:
        raise RuntimeError(f"h2load ({' '.join(argv)}): {exc}") from None
    with log_path.open() as f:
        latencies, failed_streams = read_h2load_log(f)
    # h2load's "failed" already holds its "errored" (network, RST_STREAM) and non-2xx/3xx statuses
    errors = {"failed": summary["failed"], "status_3xx": summary["status_3xx"],
              "timeouts": summary["timeout"], "short_responses": short_responses(summary, answer_bytes)}
    return {
        "connections": connections,
        "requests": summary["done"],
        "seconds": round(summary["seconds"], 3),
        "rps": round(summary["rps"], 1),
        "p50_ms": percentile(latencies, 50) / 1000,
        "p90_ms": percentile(latencies, 90) / 1000,
        "p99_ms": percentile(latencies, 99) / 1000,
        "max_ms": (latencies[-1] if latencies else 0) / 1000,
        "errors": errors,
        "error_total": sum(errors.values()),
        "logged_requests": len(latencies) + failed_streams,
        "data_bytes": summary["data_bytes"],
        **_cpu_fields(cpu_s, summary["done"], summary["seconds"]),
    }
