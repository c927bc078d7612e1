"""The short summary of one run, in the form of the top-level README's benchmark section: one row
per headline case (modelpack vs the best peer and vs the raw baseline, 8 connections, 1 worker),
then scaling, memory, start-up and the targets missed, with the command that made the run.

report.write() puts it at the top of serve.md and alone in serve-summary.md, ready to paste.
"""
from __future__ import annotations

from .targets import evaluate

C = "8"

# (label, case, the peers' cases to take the best of): the binary cases are compared with the
# peers' best figure on the same body size in any encoding, as their targets are
ROWS = (
    ("Seldon REST, 1×10", "seldon/small", ("seldon/small",)),
    ("KServe V1, 1×10", "v1/small", ("v1/small",)),
    ("V2 REST, 1×10", "v2/small", ("v2/small",)),
    ("Seldon REST, 1000×100 JSON", "seldon/large", ("seldon/large",)),
    ("V2 REST, 1000×100 JSON", "v2/large", ("v2/large",)),
    ("V2 binary extension, 1000×100", "v2-binary/large", ("seldon/large", "v1/large", "v2/large")),
    ("Seldon gRPC (tensor), 1×10", "grpc-seldon/small", ("grpc-seldon/small",)),
    ("V2 gRPC (fp32_contents), 1×10", "grpc-v2/small", ("grpc-v2/small",)),
    ("V2 gRPC (raw_input_contents), 1×10", "grpc-v2-raw/small", ("grpc-v2-raw/small",)),
    ("Seldon gRPC (tensor), 1000×100", "grpc-seldon/large", ("grpc-seldon/large",)),
    ("V2 gRPC (fp32_contents), 1000×100", "grpc-v2/large", ("grpc-v2/large",)),
    ("V2 gRPC (raw_input_contents), 1000×100", "grpc-v2-raw/large",
     ("grpc-seldon/large", "grpc-v2/large", "grpc-v2-raw/large")),
)


def _run(servers: dict, name: str, case: str) -> dict | None:
    return servers.get(name, {}).get("cases", {}).get(case, {}).get(C)


def _rps(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def _ms(v: float) -> str:
    return f"{v:.2f} ms" if v < 10 else f"{v:.0f} ms"


def _who(servers: dict, name: str) -> str:
    """'seldon-core 1.19.0' from the version string 'seldon-core 1.19.0 (Python 3.12.1)'."""
    return " ".join(servers[name].get("version", name).split()[:2])


def _range(values: list[float]) -> str:
    return f"{min(values):.1f}–{max(values):.1f}×" if values else "not measured"


def table(servers: dict) -> list[str]:
    lines = [("| case | modelpack req/s (p99) | best peer req/s (p99) | vs best peer | raw baseline req/s"
              " | modelpack / raw |"), "|---|---:|---:|---:|---:|---:|"]
    peers = [n for n, s in servers.items() if s.get("kind") == "peer"]
    for label, case, peer_cases in ROWS:
        mine = _run(servers, "modelpack", case)
        if mine is None:
            continue
        found = [(r["rps"], n, c, r["p99_ms"]) for n in peers for c in peer_cases
                 if (r := _run(servers, n, c)) is not None]
        if found:
            rps, who, their_case, p99 = max(found)
            where = "" if their_case == case else f", {their_case}"
            best = f"{_rps(rps)} ({_ms(p99)}), {_who(servers, who)}{where}"
            ratio = f"{mine['rps'] / rps:.1f}×"
        else:
            best, ratio = "no peer serves it", ""
        raw = _run(servers, "raw", case)
        raw_cells = f"{_rps(raw['rps'])} | {100 * mine['rps'] / raw['rps']:.0f}%" if raw else " | "
        lines.append(f"| {label} | {_rps(mine['rps'])} ({_ms(mine['p99_ms'])}) | {best} | {ratio} |"
                     f" {raw_cells} |")
    return lines


def prose(servers: dict) -> list[str]:
    out = []
    two = [(c, s / o) for c in servers.get("modelpack-w2", {}).get("cases", {})
           if (s := (_run(servers, "modelpack-w2", c) or {}).get("rps"))
           and (o := (_run(servers, "modelpack", c) or {}).get("rps"))]
    raw_two = [r2 / r1 for c, _ in two if (r1 := (_run(servers, "raw", c) or {}).get("rps"))
               and (r2 := (_run(servers, "raw-w2", c) or {}).get("rps"))]
    if two:
        out.append(f"With `--workers 2`, modelpack scales {_range([r for _, r in two])} on REST (the raw app"
                   f" {_range(raw_two)} in the same run; gRPC is served by one worker by default).")
    mp = servers.get("modelpack", {})
    mem = mp.get("memory")
    if mem:
        procs = mem["processes"]
        worker = max(p["rss_mb"] for p in (procs[1:] or procs))
        others = ", ".join(f"{n} {s['memory']['rss_total_mb']:.0f} MB" for n, s in servers.items()
                           if s.get("kind") == "peer" and s.get("memory"))
        out.append(f"Idle memory {worker:.0f} MB per worker ({others} in all).")
    ready = [f"{n} {s['ready_s']:.2f} s" for n, s in servers.items()
             if s.get("kind") == "peer" and "ready_s" in s]
    if "ready_s" in mp:
        out.append(f"Ready {mp['ready_s']:.2f} s after start ({', '.join(ready)}).")
    verdicts = evaluate(servers)
    for label, chosen in (("Not met (issue targets):", [v for v in verdicts if not v.extension]),
                          ("Not met (gRPC targets, modelpack's own extension):",
                           [v for v in verdicts if v.extension])):
        missed = [f"- {v.target}: {v.value}" for v in chosen if v.met is False]
        if missed:
            out += ["", label, "", *missed]
    return out


def markdown(results: dict) -> str:
    meta, servers = results["meta"], results["servers"]
    head = (f"Command: `{meta['command'].strip()}`; run {meta['started_utc']}, load average"
            f" {meta['load_before'][0]:.2f} before it; 8 connections, 1 worker, the same row-sum model"
            " everywhere; ratios are taken within this run.")
    return "\n".join([head, "", *table(servers), "", *prose(servers)]) + "\n"
