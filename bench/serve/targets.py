"""The issue's targets, evaluated on one run's results (ratios within the run, 8 connections,
modelpack with 1 worker unless stated).

Issue 6 states its throughput and latency targets for REST. For gRPC this module applies the same
rules to the gRPC cases, marked `extension` (modelpack's own, not the issue's): small bodies at
least 5x the best peer on the same protocol and at least 60 % of the raw gRPC baseline; the large
body in raw_input_contents at least 5x the peers' best large gRPC figure (any encoding: over gRPC
the peers' typed contents are already binary, so there is no JSON to beat 10x); p99 at most a third
of the best peer's.
"""
from __future__ import annotations

from dataclasses import dataclass

from .cases import GRPC_PROTOCOLS

C = "8"


@dataclass(frozen=True)
class Verdict:
    target: str
    value: str
    met: bool | None        # None: not measurable in this run (a server or case is missing)
    extension: bool = False  # modelpack's own target (gRPC), not one the issue states


def _metric(servers: dict, name: str, case: str, key: str, conns: str = C) -> float | None:
    return servers.get(name, {}).get("cases", {}).get(case, {}).get(conns, {}).get(key)


def _peers(servers: dict) -> list[str]:
    return [n for n, s in servers.items() if s.get("kind") == "peer"]


def _best_peer(servers: dict, cases: list[str], key: str = "rps", lowest: bool = False):
    found = [(v, f"{n} {c}") for n in _peers(servers) for c in cases
             if (v := _metric(servers, n, c, key)) is not None]
    if not found:
        return None, ""
    return (min if lowest else max)(found)


def evaluate(servers: dict) -> list[Verdict]:
    out: list[Verdict] = []
    mp = "modelpack"

    def ratio(target: str, num: float | None, den: float | None, need: float, what: str,
              extension: bool = False) -> None:
        if num is None or not den:
            out.append(Verdict(target, "not measured", None, extension))
        else:
            r = num / den
            out.append(Verdict(target, f"{r:.2f}x ({what})", r >= need, extension))

    for proto in ("seldon", "v1", "v2"):
        case = f"{proto}/small"
        peer, who = _best_peer(servers, [case])
        ratio(f"{case}: >= 5x best peer", _metric(servers, mp, case, "rps"), peer,
              5, f"vs {who}" if who else "no peer")
        ratio(f"{case}: >= 60% of raw baseline", _metric(servers, mp, case, "rps"),
              _metric(servers, "raw", case, "rps"), 0.6, "vs raw")
    for proto in ("seldon", "v1", "v2"):
        case = f"{proto}/large"
        ratio(f"{case}: >= raw baseline", _metric(servers, mp, case, "rps"),
              _metric(servers, "raw", case, "rps"), 1.0, "vs raw")
    peer, who = _best_peer(servers, ["seldon/large", "v1/large", "v2/large"])
    ratio("v2-binary/large: >= 10x best peer's large JSON", _metric(servers, mp, "v2-binary/large", "rps"),
          peer, 10, f"vs {who}")
    for proto in GRPC_PROTOCOLS:
        case = f"{proto}/small"
        peer, who = _best_peer(servers, [case])
        ratio(f"{case}: >= 5x best peer", _metric(servers, mp, case, "rps"), peer,
              5, f"vs {who}" if who else "no peer", extension=True)
        ratio(f"{case}: >= 60% of raw gRPC baseline", _metric(servers, mp, case, "rps"),
              _metric(servers, "raw", case, "rps"), 0.6, "vs raw", extension=True)
    peer, who = _best_peer(servers, [f"{p}/large" for p in GRPC_PROTOCOLS])
    ratio("grpc-v2-raw/large: >= 5x best peer's large gRPC", _metric(servers, mp, "grpc-v2-raw/large", "rps"),
          peer, 5, f"vs {who}", extension=True)
    for case in sorted({c for n in _peers(servers) for c in servers[n].get("cases", {})}):
        best, who = _best_peer(servers, [case], "p99_ms", lowest=True)
        mine = _metric(servers, mp, case, "p99_ms")
        grpc = case.startswith("grpc-")
        if mine is None or best is None:
            out.append(Verdict(f"{case}: p99 <= 1/3 of best peer's", "not measured", None, grpc))
        else:
            out.append(Verdict(f"{case}: p99 <= 1/3 of best peer's",
                               f"{mine:.2f} ms vs {best:.2f} ms ({who})", mine <= best / 3, grpc))
    for name in (mp, f"{mp}-w2"):
        mem = servers.get(name, {}).get("memory")
        if mem:
            workers = [p for p in mem["processes"] if p is not mem["processes"][0]] or mem["processes"]
            worst = max(p["rss_mb"] for p in workers)
            out.append(Verdict(f"{name}: idle RSS per worker < 60 MB",
                               f"{worst:.1f} MB (total {mem['rss_total_mb']:.1f} MB RSS,"
                               f" {mem['pss_total_mb']:.1f} MB PSS, {len(mem['processes'])} processes)",
                               worst < 60))
        ready = servers.get(name, {}).get("ready_s")
        if ready is not None:
            out.append(Verdict(f"{name}: ready within 0.5 s of start", f"{ready:.3f} s", ready <= 0.5))
    for case in sorted(servers.get(f"{mp}-w2", {}).get("cases", {})):
        one, two = _metric(servers, mp, case, "rps"), _metric(servers, f"{mp}-w2", case, "rps")
        raw1, raw2 = _metric(servers, "raw", case, "rps"), _metric(servers, "raw-w2", case, "rps")
        ceiling = f"; raw app: {raw2 / raw1:.2f}x" if raw1 and raw2 else ""
        if one and two:
            out.append(Verdict(f"{case}: --workers 2 scales", f"{two / one:.2f}x{ceiling}", two / one > 1.1))
    return out
