"""Write one run's results: serve.json (everything), serve.md (tables), serve.png (chart)."""
from __future__ import annotations

import json
from pathlib import Path

from .cases import ALL_CASES
from .targets import evaluate

CHART_BARS = ("modelpack", "modelpack-w2", "seldon-core", "mlserver", "kserve")
COLORS = {"modelpack": "#1f6fb4", "modelpack-w2": "#7fb2e0", "seldon-core": "#d62728",
          "mlserver": "#ff9f1c", "kserve": "#2ca02c"}


def _fmt_rps(v: float) -> str:
    return f"{v:,.0f}" if v >= 100 else f"{v:.1f}"


def markdown(results: dict) -> str:
    meta, servers = results["meta"], results["servers"]
    conns = [str(c) for c in meta["connections"]]
    lines = [f"Command: `{meta['command']}`  ",
             f"Run {meta['started_utc']} on {meta['machine']}; {meta['wrk']}; each point is the median of"
             f" {meta.get('rounds', 1)} round(s) of {meta['seconds']} s, after a {meta['warmup']} s warm-up;"
             f" load average before {meta['load_before'][0]:.2f}, after {meta.get('load_after', [0])[0]:.2f}"
             " (the machine is shared: compare ratios within this run only).", ""]
    lines += ["| case | server | " + " | ".join(f"req/s @{c} | p50 ms @{c} | p99 ms @{c}" for c in conns) + " |",
              "|---|---|" + "---:|---:|---:|" * len(conns)]
    for case in ALL_CASES:
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
    lines += ["", "| server | version | workers | start to ready | idle RSS total | idle PSS total |"
              " processes | largest process RSS | RSS total after one request per case |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, s in servers.items():
        mem, warm = s.get("memory", {}), s.get("memory_after_checks", {})
        ready = f"{s['ready_s']:.2f} s" if "ready_s" in s else "never"
        lines.append(f"| {name} | {s['version']} | {s['workers']} | {ready} | {mem.get('rss_total_mb', '')} MB |"
                     f" {mem.get('pss_total_mb', '')} MB | {len(mem.get('processes', []))} |"
                     f" {mem.get('rss_max_process_mb', '')} MB | {warm.get('rss_total_mb', '')} MB |")
    notes = [f"- {n}: {s['note']}" for n, s in servers.items() if s.get("note")]
    notes += [f"- {n}: {s['failure']}" for n, s in servers.items() if s.get("failure")]
    notes += [f"- {n} {c}: {v}" for n, s in servers.items() for c, v in s["checks"].items() if v != "ok"]
    if notes:
        lines += ["", "Notes:", *notes]
    verdicts = evaluate(servers)
    if verdicts:
        lines += ["", "Targets (ratios within this run, 8 connections, modelpack 1 worker unless named):", "",
                  "| target | measured | met |", "|---|---|---|"]
        mark = {True: "yes", False: "**no**", None: "n/a"}
        lines += [f"| {v.target} | {v.value} | {mark[v.met]} |" for v in verdicts]
    return "\n".join(lines) + "\n"


def chart(results: dict, path: Path) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, NullFormatter
    except ImportError:
        return False
    servers, c = results["servers"], "8"

    def rps(name: str, case: str) -> float | None:
        return servers.get(name, {}).get("cases", {}).get(case, {}).get(c, {}).get("rps")

    bars = [b for b in CHART_BARS if b in servers]
    fig, axes = plt.subplots(1, 2, figsize=(15, 6.2))
    handles: dict = {}
    for ax, size in zip(axes, ("small", "large")):
        cases = [k.name for k in ALL_CASES if k.size == size]
        width = 0.8 / max(len(bars), 1)
        for i, case in enumerate(cases):
            # only the servers that serve this case, centred in the group: no gaps for missing ones
            present = [(name, v) for name in bars if (v := rps(name, case)) is not None]
            for j, (name, v) in enumerate(present):
                x = i - width * len(present) / 2 + width * (j + 0.5)
                handles[name] = ax.bar(x, v, width, color=COLORS[name])
                inside = v >= 60   # label inside the bar's top, clear of the baseline lines
                ax.text(x, v / 1.1 if inside else v * 1.1, _fmt_rps(v), ha="center",
                        va="top" if inside else "bottom", fontsize=7, rotation=90,
                        color="white" if inside else "black")
            for name, style, label in (("raw", "-", "raw ASGI baseline, 1 worker"),
                                       ("raw-w2", ":", "raw ASGI baseline, 2 workers")):
                v = rps(name, case)
                if v is not None:
                    handles[label] = ax.hlines(v, i - 0.45, i + 0.45, colors="black", linestyles=style,
                                               linewidth=2)
        ax.set_yscale("log")
        # bars on a log axis must start at a fixed floor, or their heights mislead
        ax.set_ylim(bottom=10)
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v / 1000:g}k" if v >= 1000 else f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(range(len(cases)), [k.replace(f"/{size}", "") for k in cases])
        dims = "1x10" if size == "small" else "1000x100"
        ax.set_title(f"{size} body ({dims} floats)")
        ax.set_ylabel("requests/s at 8 connections (log scale)")
        ax.grid(axis="y", which="both", alpha=0.3)
        ax.set_ylim(top=ax.get_ylim()[1] * 3)
    order = [b for b in bars if b in handles] + [k for k in handles if k not in bars]
    fig.legend([handles[k] for k in order], order, loc="lower center", ncol=len(order), frameon=False)
    fig.suptitle(f"Serving throughput, same row-sum model, wrk on loopback, 8 connections"
                 f" ({results['meta']['started_utc']}); higher is better")
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def write(results: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    results = dict(results, targets=[v.__dict__ for v in evaluate(results["servers"])])
    paths = [out / "serve.json", out / "serve.md"]
    paths[0].write_text(json.dumps(results, indent=2) + "\n")
    paths[1].write_text(markdown(results))
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
