"""bench/results/build.md from the benchmark's results (medians, sizes, targets)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from cases import NOT_A_REINSTALL

MB = 1e6


def _mb(value: Any) -> str:
    return f"{value / MB:.0f}" if isinstance(value, (int, float)) else "-"


def _ran(run: dict[str, Any], phase: str) -> str:
    steps = run.get(f"{phase}_executed") or []
    return ", ".join(steps) if steps else "none"


def intro(meta: dict[str, Any], configs: dict[str, Any]) -> str:
    runs = ", ".join(sorted({str(len(e["runs"])) for e in configs.values()}))
    return (f"{meta['date']}, {meta['machine']}, base image `{meta['base_image']}`, medians of {runs} run(s) "
            f"per config. Model: scikit-learn ({' '.join(meta['requirements'])}); the requirement change adds "
            f"`{meta['added']}`. Times are wall-clock seconds of the whole command (`modelpack build ...` or "
            "`docker build ...`); a cold build starts with no image and an empty build cache (`docker builder "
            "prune -af`, and a fresh base image id: the base plus a unique label, so no earlier layer can match).")


def write_markdown(results: dict[str, Any], path: Path) -> None:
    meta = results["meta"]
    configs: dict[str, Any] = results["configs"]
    lines = [
        "# Build benchmark",
        "",
        intro(meta, configs),
        "",
        ("| config | cold build s | rebuild after Model.py edit s | rebuild after +1 requirement s "
         "| RUN steps the requirement rebuild executed | image MB | base MB | user packages MB "
         "| modelpack overhead MB |"),
        "|---|---:|---:|---:|---|---:|---:|---:|---:|",
    ]
    for name, entry in configs.items():
        first = entry["runs"][0]
        size = first.get("size", {})
        lines.append(
            f"| {name} | {entry['cold_median']:.1f} | {entry['edit_median']:.2f} | {entry['requirement_median']:.1f} "
            f"| {_ran(entry['runs'][-1], 'requirement')} | {_mb(size.get('image'))} | {_mb(size.get('base'))} "
            f"| {_mb(size.get('user_packages'))} | {_mb(size.get('overhead'))} |"
        )
    lines += ["", "## Targets", ""]
    for backend in ("engine", "buildkit"):
        base = configs.get(f"s2i-{backend}")
        for installer in ("pip", "uv"):
            mine = configs.get(f"modelpack-{backend}-{installer}")
            if not mine:
                continue
            edit = mine["edit_median"]
            speedup = f"{base['edit_median'] / edit:.0f}x faster than s2i-{backend}" if base else "no baseline run"
            ran = mine["runs"][-1].get("requirement_executed") or []
            # the slim step reruns after any install (it follows what is installed) and reinstalls nothing
            only = [r for r in ran if r not in NOT_A_REINSTALL] == ["requirements install"]
            overhead = mine["runs"][0].get("size", {}).get("overhead")
            lines.append(
                f"- modelpack-{backend}-{installer}: Model.py rebuild {edit:.2f} s ({speedup}; target >= 10x and "
                f"< 3 s: {'met' if edit < 3 and base and base['edit_median'] / edit >= 10 else 'NOT met'}); "
                f"requirement rebuild executed {ran or 'nothing'} (target: only the requirements install: "
                f"{'met' if only else 'NOT met'}); overhead {_mb(overhead)} MB (target < 40 MB: "
                f"{'met' if isinstance(overhead, int) and overhead < 40 * MB else 'NOT met'})"
            )
    others = {name: e["runs"][0].get("size", {}).get("other_dists") for name, e in configs.items()}
    lines += ["", "## What the overhead is (largest non-user distributions in the image's virtualenv, bytes)", ""]
    for name, dists in others.items():
        if dists:
            lines.append(f"- {name}: " + ", ".join(f"{k} {v / MB:.1f} MB" for k, v in dists.items()))
    path.write_text("\n".join(lines) + "\n")
