"""Drive wrk (Debian's package) with a generated Lua script and read back its summary."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path


def wrk_version() -> str:
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout + out.stderr).splitlines()[0].strip() if (out.stdout + out.stderr) else "unknown"


def run(script: Path, url: str, connections: int, seconds: int) -> dict:
    """One bounded wrk run: `connections` keep-alive connections for `seconds`, 10 s request timeout.

    Returns req/s, p50/p90/p99/max latency (ms) and every error count wrk saw (non-2xx included).
    """
    threads = min(2, connections)
    argv = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
            "-s", str(script), url]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
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
    }
