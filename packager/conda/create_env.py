"""Run inside the image's conda build stage (stdlib + py-rattler only; no modelpack import):
create the environment from the packages the build host solved (conda-env.json), re-solving only
those exact name/version/build pins and refusing any package whose sha256 differs."""

from __future__ import annotations

import asyncio
import json
import os
import sys

import rattler


async def main(spec_file: str, cache_dir: str) -> int:
    with open(spec_file, encoding="utf-8") as fh:  # noqa: ASYNC230 - a small file, read before any await
        spec = json.load(fh)
    wanted = {p["name"]: p for p in spec["packages"]}
    exact = [f'{p["name"]} =={p["version"]} {p["build"]}' for p in spec["packages"]]
    virtual = [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString("0"))
        for n, v in spec["virtual_packages"]
    ]
    # a private channel: RATTLER_AUTH_FILE names the auth file (a secret mount on BuildKit), which
    # only a client with rattler's middleware reads
    client = rattler.Client.default_client() if os.environ.get("RATTLER_AUTH_FILE") else None
    gateway = rattler.Gateway(client=client) if client else None
    records = await rattler.solve(spec["channels"], exact, platforms=[spec["platform"], "noarch"],
                                  virtual_packages=virtual, gateway=gateway)
    for record in records:
        want = wanted.get(record.name.normalized)
        got = record.sha256.hex() if record.sha256 else ""
        if want is None or (want["sha256"] and got != want["sha256"]):
            print(f"error: conda package {record.name.normalized} {record.version}: sha256 {got} is not the "
                  f"solved {want and want['sha256']}; the channel changed since the solve", file=sys.stderr)
            return 1
    # py-rattler keeps each extracted package as <name>-<version>-<build>/ in its cache: those
    # already there are not downloaded again (a BuildKit cache mount keeps them between builds)
    cached = sum(os.path.isfile(os.path.join(cache_dir, f"{r.name.normalized}-{r.version}-{r.build}", "info",
                                             "index.json")) for r in records)
    await rattler.install(records, spec["prefix"], cache_dir=cache_dir, show_progress=False, client=client)
    print(f"conda environment {spec['prefix']}: {len(records)} packages ({cached} already in the package cache)")
    return 0


if __name__ == "__main__":
    # argv: conda-env.json [package cache: a BuildKit cache mount, or a folder in the stage]
    code = asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else "/tmp/modelpack/conda-pkgs"))
    sys.stdout.flush()
    sys.stderr.flush()
    # py-rattler 0.28 intermittently segfaults during interpreter finalization after an install
    # (seen in this stage: the environment complete, then exit 139). Everything is written by now,
    # so skip finalization.
    os._exit(code)
