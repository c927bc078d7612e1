"""The py-rattler solve, run in a child process by packager.conda.solve: py-rattler 0.28
intermittently crashes (SIGSEGV/SIGABRT) while the interpreter finalizes after a solve (seen about
1 run in 20 on this machine), which must not turn a finished `modelpack build` into a failure.
Reads {"channels", "specs", "subdir", "virtual"} as JSON on stdin; writes {"packages": [...]} or
{"error": kind, "message": text} on stdout, then leaves with os._exit (no finalization)."""

from __future__ import annotations

import asyncio
import json
import os
import sys


async def _solve(request: dict) -> list[dict]:
    import rattler

    virtual = [
        rattler.GenericVirtualPackage(rattler.PackageName(n), rattler.Version(v), rattler.BuildString("0"))
        for n, v in request["virtual"]
    ]
    # with RATTLER_AUTH_FILE (packager.conda.auth), a client whose middleware reads it: py-rattler's
    # default gateway sends no credentials
    gateway = rattler.Gateway(client=rattler.Client.default_client()) if os.environ.get("RATTLER_AUTH_FILE") else None
    records = await rattler.solve(request["channels"], request["specs"], gateway=gateway,
                                  platforms=[request["subdir"], "noarch"], virtual_packages=virtual)
    return [
        {"name": r.name.normalized, "version": str(r.version), "build": str(r.build), "url": str(r.url),
         "sha256": r.sha256.hex() if r.sha256 else "", "md5": r.md5.hex() if r.md5 else "",
         "depends": list(r.depends)}
        for r in records
    ]


def main() -> None:
    request = json.load(sys.stdin)
    try:
        answer: dict = {"packages": asyncio.run(_solve(request))}
    except Exception as exc:  # noqa: BLE001 - rattler's own types (SolverError, GatewayError...)
        answer = {"error": type(exc).__name__, "message": str(exc)}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
