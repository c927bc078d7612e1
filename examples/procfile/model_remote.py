"""A buildpack-style model app: its own HTTP server on $PORT, started by the Procfile's web line.
POST /predict {"instances": [[...], ...]} -> {"predictions": [row sums]}; GET /healthz -> ok."""
from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        self._reply(200, {"status": "ok"} if self.path == "/healthz" else {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        if self.path != "/predict":
            self._reply(404, {"error": f"no route {self.path}"})
            return
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))) or b"{}")
        X = np.asarray(body.get("instances", []), dtype=float)
        self._reply(200, {"predictions": X.sum(axis=-1).tolist(), "pid": os.getpid()})

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8080"))
    # PID 1 in a container: the kernel applies no default action to SIGTERM, so handle it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"model_remote listening on {port}", flush=True)
    ThreadingHTTPServer(("0.0.0.0", port), Handler).serve_forever()
