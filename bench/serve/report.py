"""Write one run's results: serve.json (everything), serve.md (summary and tables), serve.png (chart),
serve-summary.md (the summary alone, in the form of the top-level README's benchmark section)."""
from __future__ import annotations

import json
from pathlib import Path

from . import summary
from .cases import ALL_CASES, GRPC_CASES, REST_CASES
from .targets import evaluate

CHART_BARS = ("modelpack", "modelpack-w2", "seldon-core", "mlserver", "kserve")
COLORS = {"modelpack": "#1f6fb4", "modelpack-w2": "#7fb2e0", "seldon-core": "#d62728",
          "mlserver": "#ff9f1c", "kserve": "#2ca02c"}


def _fmt_rps(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


CASE_LEGEND = (
    "Cases: REST over HTTP/1.1 with wrk: `seldon` (`/api/v1.0/predictions`, `data.ndarray`), `v1`"
    " (`instances`), `v2` (FP32 JSON `data`), `v2-binary` (V2 binary tensor extension); gRPC over h2c"
    " with h2load, one stream per connection: `grpc-seldon` (`seldon.protos.Model/Predict`, `data.tensor`),"
    " `grpc-v2` (`inference.GRPCInferenceService/ModelInfer`, `fp32_contents`), `grpc-v2-raw` (the same"
    " with `raw_input_contents`). small = 1x10 floats, large = 1000x100. The -w2 variants serve gRPC"
    " from one worker (modelpack's default GRPC_WORKERS=1), so they run the REST cases only.")


def _loadgen_note(servers: dict) -> str:
    """The most CPU either load generator used in any timed run, as a share of one core."""
    worst: dict[str, float] = {}
    for s in servers.values():
        for case, by_c in s.get("cases", {}).items():
            tool = "h2load" if case.startswith("grpc-") else "wrk"
            for r in by_c.values():
                share = r.get("loadgen_cpu_share")
                if share is not None:
                    worst[tool] = max(worst.get(tool, 0.0), share)
    if not worst:
        return ""
    parts = [f"{tool} {100 * worst[tool]:.0f} %" for tool in ("wrk", "h2load") if tool in worst]
    return ("Load generator CPU, the most used in any run (share of one core; the servers had the rest"
            " of the 2 cores): " + ", ".join(parts) + ".")


def _case_table(servers: dict, conns: list[str], cases: list) -> list[str]:
    heads = " | ".join(f"req/s @{c} | p50 ms @{c} | p99 ms @{c}" for c in conns)
    lines = [f"| case | server | {heads} |",
             "|---|---|" + "---:|---:|---:|" * len(conns)]
    for case in cases:
        for name, s in servers.items():
            runs = s.get("cases", {}).get(case.name)
            if not runs:
                continue
            cells = []
            for c in conns:
                r = runs.get(c)
                cells += ([_fmt_rps(r["rps"]) + (f" ({r['error_total']} err)" if r["error_total"] else ""),
                           f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}"] if r else ["", "", ""])
            lines.append(f"| {case.name} | {name} | " + " | ".join(cells) + " |")
    return lines


def _verdict_table(verdicts: list) -> list[str]:
    mark = {True: "yes", False: "**no**", None: "n/a"}
    return ["| target | measured | met |", "|---|---|---|",
            *(f"| {v.target} | {v.value} | {mark[v.met]} |" for v in verdicts)]


def markdown(results: dict) -> str:
    meta, servers = results["meta"], results["servers"]
    conns = [str(c) for c in meta["connections"]]
    tools = f"{meta['wrk']}; {meta['h2load']}" if meta.get("h2load") else meta["wrk"]
    run = (f"Run {meta['started_utc']} on {meta['machine']}; {tools}; each point is the median of"
           f" {meta.get('rounds', 1)} round(s) of {meta['seconds']} s, after a {meta['warmup']} s warm-up;"
           f" load average before {meta['load_before'][0]:.2f}, after {meta.get('load_after', [0])[0]:.2f}"
           " (the machine is shared: compare ratios within this run only).")
    lines = [f"Command: `{meta['command'].strip()}`  ", run, ""]
    head = summary.table(servers)
    if len(head) > 2:
        lines += ["Summary at 8 connections, 1 worker (full tables below):", "", *head, "",
                  *summary.prose(servers), ""]
    lines.append(CASE_LEGEND)
    note = _loadgen_note(servers)
    if note:
        lines += ["", note]
    for title, group in (("REST", REST_CASES), ("gRPC", GRPC_CASES)):
        if any(c.name in s.get("cases", {}) for c in group for s in servers.values()):
            lines += ["", f"{title}:", "", *_case_table(servers, conns, group)]
    lines += ["", ("| server | version | workers | start to ready | gRPC up | idle RSS total | idle PSS total"
                   " | processes | largest process RSS | RSS total after one request per case |"),
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in servers.items():
        mem, warm = s.get("memory", {}), s.get("memory_after_checks", {})
        ready = f"{s['ready_s']:.2f} s" if "ready_s" in s else "never"
        grpc_up = f"{s['grpc_ready_s']:.2f} s" if "grpc_ready_s" in s else "-"
        lines.append(f"| {name} | {s['version']} | {s['workers']} | {ready} | {grpc_up} |"
                     f" {mem.get('rss_total_mb', '')} MB | {mem.get('pss_total_mb', '')} MB |"
                     f" {len(mem.get('processes', []))} | {mem.get('rss_max_process_mb', '')} MB |"
                     f" {warm.get('rss_total_mb', '')} MB |")
    notes = [f"- {n}: {s['note']}" for n, s in servers.items() if s.get("note")]
    notes += [f"- {n}: {s['failure']}" for n, s in servers.items() if s.get("failure")]
    notes += [f"- {n} {c}: {v}" for n, s in servers.items() for c, v in s["checks"].items() if v != "ok"]
    if notes:
        lines += ["", "Notes:", *notes]
    verdicts = evaluate(servers)
    issue = [v for v in verdicts if not v.extension]
    extension = [v for v in verdicts if v.extension and v.met is not None]
    if issue:
        lines += ["", "Targets (ratios within this run, 8 connections, modelpack 1 worker unless named):", "",
                  *_verdict_table(issue)]
    if extension:
        lines += ["", ("gRPC targets (modelpack's own extension: the issue states its targets for REST only;"
                       " the same rules on the gRPC cases, 8 connections, 1 worker):"), "",
                  *_verdict_table(extension)]
    return "\n".join(lines) + "\n"


# the chart: one panel per transport and body size, one bar group per protocol
PANELS = (("REST", "small"), ("REST", "large"), ("gRPC", "small"), ("gRPC", "large"))
BASELINES = (("raw", "-", "raw baseline, 1 worker (ASGI app / grpcio server)"),
             ("raw-w2", ":", "raw baseline, 2 workers (REST only)"))


def _panel(ax, servers: dict, transport: str, size: str, bars: list[str], rps, handles: dict) -> None:
    from matplotlib.ticker import FuncFormatter, NullFormatter

    cases = [k.name for k in ALL_CASES if k.size == size and k.grpc == (transport == "gRPC")]
    cases = [c for c in cases if any(rps(n, c) is not None for n in servers)]
    width = 0.8 / max(len(bars), 1)
    for i, case in enumerate(cases):
        # only the servers that serve this case, centred in the group: no gaps for missing ones
        present = [(name, v) for name in bars if (v := rps(name, case)) is not None]
        for j, (name, v) in enumerate(present):
            x = i - width * len(present) / 2 + width * (j + 0.5)
            mine = name == "modelpack"
            handles[name] = ax.bar(x, v, width, color=COLORS[name], edgecolor="black" if mine else "none",
                                   linewidth=1.6 if mine else 0, zorder=3)
            inside = v >= 60   # label inside the bar's top, clear of the baseline lines
            ax.text(x, v / 1.12 if inside else v * 1.12, _fmt_rps(v), ha="center",
                    va="top" if inside else "bottom", fontsize=7, rotation=90, zorder=4,
                    color="white" if inside else "black", fontweight="bold" if mine else "normal")
        for name, style, label in BASELINES:
            v = rps(name, case)
            if v is not None:
                handles[label] = ax.hlines(v, i - 0.45, i + 0.45, colors="black", linestyles=style,
                                           linewidth=2, zorder=5)
        # the ratios that matter, above the group: modelpack vs the best peer, and vs the raw ceiling
        mp = rps("modelpack", case)
        peers = [(v, n) for n in bars if servers[n].get("kind") == "peer" and (v := rps(n, case)) is not None]
        tops = [v for name in (*bars, "raw", "raw-w2") if (v := rps(name, case)) is not None]
        if mp is not None and tops:
            text = []
            if peers:
                best, who = max(peers)
                text.append(f"{mp / best:.1f}x {who}")
            if rps("raw", case):
                text.append(f"{100 * mp / rps('raw', case):.0f}% of raw")
            ax.text(i, max(tops) * 1.35, "\n".join(text), ha="center", va="bottom", fontsize=8,
                    color=COLORS["modelpack"], fontweight="bold")
    ax.set_yscale("log")
    # bars on a log axis must start at a fixed floor, or their heights mislead
    ax.set_ylim(bottom=10)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xticks(range(len(cases)), [k.replace(f"/{size}", "") for k in cases])
    dims = "1x10" if size == "small" else "1000x100"
    tool = "wrk, HTTP/1.1" if transport == "REST" else "h2load, h2c, 1 stream per connection"
    ax.set_title(f"{transport}, {size} body ({dims} floats; {tool})", fontsize=11)
    ax.set_ylabel("req/s at 8 connections (log)")
    ax.grid(axis="y", which="both", alpha=0.3, zorder=0)
    ax.set_ylim(top=ax.get_ylim()[1] * 6)
    if not cases:
        ax.text(0.5, 0.5, "not measured in this run", transform=ax.transAxes, ha="center", color="gray")


def chart(results: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    servers, c = results["servers"], "8"

    def rps(name: str, case: str) -> float | None:
        return servers.get(name, {}).get("cases", {}).get(case, {}).get(c, {}).get("rps")

    bars = [b for b in CHART_BARS if b in servers]
    fig, axes = plt.subplots(2, 2, figsize=(15, 11))
    handles: dict = {}
    for ax, (transport, size) in zip(axes.flat, PANELS):
        _panel(ax, servers, transport, size, bars, rps, handles)
    order = [b for b in bars if b in handles] + [k for k in handles if k not in bars]
    labels = [f"{k} (outlined)" if k == "modelpack" else k for k in order]
    fig.legend([handles[k] for k in order], labels, loc="lower center", ncol=len(order),
               frameon=False, fontsize=9.5, handlelength=2.5, columnspacing=1.4)
    fig.suptitle("Serving throughput: same row-sum model on every server, loopback, 8 connections, higher is"
                 f" better\nblue text: modelpack vs the best peer on that case, and vs the raw baseline"
                 f" (run {results['meta']['started_utc']})", fontsize=12)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return True


def write(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    results = dict(results, targets=[v.__dict__ for v in evaluate(results["servers"])])
    paths = [out / "serve.json", out / "serve.md", out / "serve-summary.md"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n")
    paths[1].write_text(markdown(results))
    paths[2].write_text(summary.markdown(results))
    if chart(results, out / "serve.png"):
        paths.append(out / "serve.png")
    return paths


START, END = "<!-- results:start -->", "<!-- results:end -->"


def refresh_section(doc: Path, results_md: str, image: str) -> bool:
    """Replace the text between the results markers of `doc` with the chart and the tables."""
    if not doc.exists():
        return False
    text = doc.read_text()
    if START not in text or END not in text:
        return False
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    section = f"\n![serving benchmark chart]({image})\n\n{results_md}"
    doc.write_text(head + START + section + END + tail)
    return True
