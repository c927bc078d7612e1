"""bench/run-build --edits N: the Model.py edit loop and the image overhead, without pruning anything.

For each config: build once (warm: whatever the build cache holds is used), then N times append a
comment to Model.py and rebuild, timing each rebuild (wall clock of the whole command). The s2i-style
baseline runs the same way in the same sitting. The configs alternate inside every round, so drift
on a shared machine hits all of them alike. Every modelpack image is measured like the full run does
(cases.size_breakdown: image - base - the user's packages). Nothing is pruned and only this run's
own tags are removed at the end, so it is safe on a machine others build on.
Results: <out>/partial/edits.json, and a table on stdout.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import cases

MODELPACK = str(Path(sys.executable).with_name("modelpack"))


def _say(text: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _build(config: str, tag: str, src: Path, ctx: Path, args: argparse.Namespace) -> cases.BuildRun:
    if config.startswith("modelpack-"):
        _, backend, installer = config.split("-")
        return cases.run_build([MODELPACK, "build", str(src), tag, "--base-image", args.base, "--ca-cert",
                                args.ca_cert, "--backend", backend, "--installer", installer, "--progress", "plain"])
    cases.sync_source(src, ctx / "src")
    buildkit = config.endswith("buildkit")
    argv = [cases.DOCKER, "build", "-t", tag] + (["--progress=plain"] if buildkit else []) + [str(ctx)]
    return cases.run_build(argv, {"DOCKER_BUILDKIT": "1" if buildkit else "0"})


def run(configs: list[str], args: argparse.Namespace) -> dict[str, object]:
    run_id = uuid.uuid4().hex[:8]
    tags = {c: f"modelpack-bench-edits/{c}:{run_id}" for c in configs}
    results: dict[str, object] = {
        "meta": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "edits": args.edits,
                 "base_image": args.base, "load_before": os.getloadavg()[0]},
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="modelpack-bench-edits-") as tmp:
        work = Path(tmp)
        sources = {}
        for config in configs:
            src = work / config / "src"
            cases.write_source(src)
            ctx = work / config / "baseline"
            if config.startswith("s2i-"):
                cases.write_baseline_context(ctx, src, args.base, args.ca_cert)
            sources[config] = (src, ctx)
        try:
            for config in configs:
                src, ctx = sources[config]
                first = _build(config, tags[config], src, ctx, args)
                if not first.ok:
                    raise SystemExit(f"{config} first build failed:\n" + "\n".join(first.output.splitlines()[-30:]))
                _say(f"{config}: first build {first.seconds:.1f}s")
                results["configs"][config] = {"first": round(first.seconds, 2), "edits": []}  # type: ignore[index]
            for round_no in range(args.edits):
                for config in configs:
                    src, ctx = sources[config]
                    with open(src / "Model.py", "a") as fh:
                        fh.write(f"# edit {round_no} at {time.time()}\n")
                    result = _build(config, tags[config], src, ctx, args)
                    if not result.ok:
                        raise SystemExit(f"{config} edit build failed:\n" + "\n".join(result.output.splitlines()[-30:]))
                    entry = results["configs"][config]  # type: ignore[index]
                    entry["edits"].append(round(result.seconds, 2))
                    entry["executed"] = result.executed_runs()
                    _say(f"{config} edit {round_no + 1}: {result.seconds:.2f}s, executed {result.executed_runs()}")
            for config in configs:
                entry = results["configs"][config]  # type: ignore[index]
                entry["edit_median"] = statistics.median(entry["edits"])
                entry["size"] = cases.size_breakdown(tags[config], args.base)
        finally:
            subprocess.run([cases.DOCKER, "rmi", *tags.values()], capture_output=True, check=False)
    results["meta"]["load_after"] = os.getloadavg()[0]  # type: ignore[index]
    return results


def table(results: dict[str, object]) -> str:
    configs: dict[str, dict] = results["configs"]  # type: ignore[assignment]
    lines = [("| config | rebuild after Model.py edit s (median) | single runs | x faster than s2i, same backend "
              "| image MB | modelpack overhead MB |"), "|---|---:|---|---:|---:|---:|"]
    for name, e in configs.items():
        backend = "buildkit" if "buildkit" in name else "engine"
        base = configs.get(f"s2i-{backend}")
        ratio = f"{base['edit_median'] / e['edit_median']:.1f}" if base and not name.startswith("s2i") else "-"
        size = e.get("size", {})
        lines.append(f"| {name} | {e['edit_median']:.2f} | {' '.join(f'{x:.2f}' for x in e['edits'])} | {ratio} "
                     f"| {size.get('image', 0) / 1e6:.0f} | {size.get('overhead', 0) / 1e6:.1f} |")
    return "\n".join(lines)


def main(configs: list[str], args: argparse.Namespace) -> None:
    results = run(configs, args)
    out = Path(args.out) / "partial"
    out.mkdir(parents=True, exist_ok=True)
    (out / "edits.json").write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    for name, e in results["configs"].items():  # type: ignore[union-attr]
        dists = e.get("size", {}).get("other_dists", {})
        if dists and name.startswith("modelpack"):
            print(f"- {name}: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in dists.items()))
