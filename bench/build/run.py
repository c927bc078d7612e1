"""bench/run-build: build-time benchmark of modelpack against an s2i-style baseline.

For each config (modelpack on engine|buildkit x pip|uv, the baseline on engine|buildkit) and each
of N runs: clear the images and the build cache, cold build on a fresh base image id, rebuild after a Model.py
edit, rebuild after adding one requirement. The image of the first run is measured (size,
modelpack's overhead) and called once. Medians go to bench/results/build.{json,md}.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import cases
from report import write_markdown

MODELPACK = str(Path(sys.executable).with_name("modelpack"))
CONFIGS = ("modelpack-engine-pip", "modelpack-engine-uv", "modelpack-buildkit-pip", "modelpack-buildkit-uv",
           "s2i-engine", "s2i-buildkit")
TAG = "modelpack-bench/{config}:latest"
FRESH_BASE = "modelpack-bench/base:cold"


def _say(text: str) -> None:
    print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


def _reset(base: str) -> None:
    tags = subprocess.run([cases.DOCKER, "images", "-q", "modelpack-bench/*"], capture_output=True, text=True,
                          check=False).stdout.split()
    if tags:
        subprocess.run([cases.DOCKER, "rmi", "-f", *sorted(set(tags))], capture_output=True, check=False)
    subprocess.run([cases.DOCKER, "builder", "prune", "-af"], capture_output=True, check=False)
    # A fresh base image id (the base plus a unique label, no new layer): every cache key of the
    # legacy builder hangs off the parent image id, so nothing built before (by this bench or any
    # other build on the machine) can be a cache hit. `--no-cache` would not do: the legacy builder
    # would later pick the older sibling chain as the cache and miss the cold build's layers.
    dockerfile = f"FROM {base}\nLABEL io.modelpack.bench-run={uuid.uuid4().hex}\n"
    for attempt in range(5):  # a shared machine: the daemon may be restarting under us
        done = subprocess.run([cases.DOCKER, "build", "-q", "-t", FRESH_BASE, "-"], input=dockerfile, text=True,
                              capture_output=True, check=False, env={**os.environ, "DOCKER_BUILDKIT": "0"})
        if done.returncode == 0:
            return
        _say(f"building the fresh base failed ({done.stderr.strip()[:200]}); retrying in 10 s")
        time.sleep(10)
    raise SystemExit("cannot build the fresh base image: is the Docker daemon up?")


def _build(config: str, src: Path, ctx: Path, args: argparse.Namespace, cold: bool) -> cases.BuildRun:
    tag = TAG.format(config=config)
    if config.startswith("modelpack-"):
        _, backend, installer = config.split("-")
        argv = [MODELPACK, "build", str(src), tag, "--base-image", FRESH_BASE, "--ca-cert", args.ca_cert,
                "--backend", backend, "--installer", installer, "--progress", "plain"]
        return cases.run_build(argv)
    cases.sync_source(src, ctx / "src")
    buildkit = config.endswith("buildkit")
    argv = [cases.DOCKER, "build", "-t", tag] + (["--progress=plain"] if buildkit else []) + [str(ctx)]
    return cases.run_build(argv, {"DOCKER_BUILDKIT": "1" if buildkit else "0"})


def _smoke(image: str) -> str:
    """Start the image and call /api/v1.0/predictions once; returns the answer (or the failure)."""
    cid = subprocess.run([cases.DOCKER, "run", "-d", "-p", "127.0.0.1::9000", image], capture_output=True,
                         text=True, check=True).stdout.strip()
    try:
        port = subprocess.run([cases.DOCKER, "port", cid, "9000/tcp"], capture_output=True, text=True,
                              check=True).stdout.split(":")[-1].strip()
        import requests

        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                r = requests.post(f"http://127.0.0.1:{port}/api/v1.0/predictions",
                                  json={"data": {"ndarray": [[1.0, 1.0, 0.0, 0.0]]}}, timeout=5)
                if r.status_code == 200:
                    return json.dumps(r.json()["data"]["ndarray"])
            except requests.RequestException:
                pass
            time.sleep(0.5)
        return "FAILED: no answer in 60 s"
    finally:
        subprocess.run([cases.DOCKER, "rm", "-f", cid], capture_output=True, check=False)


def _one_run(config: str, work: Path, args: argparse.Namespace, first: bool) -> dict[str, object]:
    src = work / "src"
    ctx = work / "baseline"
    if src.exists():
        import shutil

        shutil.rmtree(src)
    cases.write_source(src)
    if not ctx.exists():
        cases.write_baseline_context(ctx, src, FRESH_BASE, args.ca_cert)
    _reset(args.base)
    out: dict[str, object] = {}
    for phase in ("cold", "edit", "requirement"):
        if phase == "edit":
            with open(src / "Model.py", "a") as fh:
                fh.write(f"# edited at {time.time()}\n")
        elif phase == "requirement":
            with open(src / "requirements.txt", "a") as fh:
                fh.write(cases.EXTRA_REQUIREMENT)
        result = _build(config, src, ctx, args, cold=phase == "cold")
        if not result.ok:
            raise SystemExit(f"{config} {phase} build failed:\n" + "\n".join(result.output.splitlines()[-30:]))
        out[phase] = round(result.seconds, 2)
        out[f"{phase}_executed"] = result.executed_runs()
        _say(f"{config} {phase}: {result.seconds:.1f}s, executed {result.executed_runs()}")
        if phase == "cold" and first:
            out["size"] = cases.size_breakdown(TAG.format(config=config), args.base)
            out["smoke"] = _smoke(TAG.format(config=config))
            _say(f"{config} size {out['size']}; predict -> {out['smoke']}")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per config (median reported); default 3")
    parser.add_argument("--only", default="", help=f"comma-separated configs out of {', '.join(CONFIGS)}")
    parser.add_argument("--base", default=os.environ.get("MODELPACK_BENCH_BASE", "modelpack-test-base:bookworm"))
    parser.add_argument("--ca-cert", default=os.environ.get("PIP_CERT", "/etc/ssl/certs/ca-certificates.crt"))
    parser.add_argument("--out", default=str(cases.REPO / "bench" / "results"))
    parser.add_argument("--report-only", action="store_true", help="rewrite build.md from build.json")
    parser.add_argument("--edits", type=int, default=0, metavar="N",
                        help="only the Model.py edit loop (N edits per config) and the image overhead, on the "
                             "warm cache: nothing is pruned (bench/build/edits.py); writes <out>/partial/edits.json")
    args = parser.parse_args()
    if args.report_only:
        report_only(Path(args.out))
        return
    configs = [c for c in args.only.split(",") if c] or list(CONFIGS)
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        parser.error(f"--only: unknown config {', '.join(unknown)}; pick from {', '.join(CONFIGS)}")
    if args.edits:
        import edits

        edits.main(configs, args)
        return
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results: dict[str, object] = {
        "meta": {"date": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"), "runs": args.runs,
                 "machine": f"{platform.machine()}, {os.cpu_count()} cores", "base_image": args.base,
                 "requirements": cases.USER_REQUIREMENTS.split(), "added": cases.EXTRA_REQUIREMENT.strip()},
        "configs": {},
    }
    with tempfile.TemporaryDirectory(prefix="modelpack-bench-") as tmp:
        for run in range(args.runs):  # the configs alternate inside a run: drift hits all of them alike
            for config in configs:
                _say(f"run {run + 1}/{args.runs}: {config}")
                entry = results["configs"].setdefault(config, {"runs": []})  # type: ignore[union-attr]
                entry["runs"].append(_one_run(config, Path(tmp), args, first=run == 0))
                for phase in ("cold", "edit", "requirement"):
                    entry[f"{phase}_median"] = statistics.median(r[phase] for r in entry["runs"])
                (out_dir / "build.json").write_text(json.dumps(results, indent=2) + "\n")
                write_markdown(results, out_dir / "build.md")
    _reset(args.base)
    print((out_dir / "build.md").read_text())


def report_only(out_dir: Path) -> None:
    """Rewrite build.md from build.json (e.g. after an interrupted run)."""
    write_markdown(json.loads((out_dir / "build.json").read_text()), out_dir / "build.md")


if __name__ == "__main__":
    main()
