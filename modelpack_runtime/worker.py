"""One worker process: the DataPlane, the ASGI app on uvicorn (uvloop + httptools) and the gRPC hook.

Forked by server.Master. The model is constructed and loaded in a background thread while uvicorn
already serves, so health and readiness answer 503 with the reason until load() has succeeded
(and keep answering it if load() failed: no crash loop).
gRPC hook: worker `index` < settings.grpc_workers calls
`modelpack_runtime.grpc_server.start(settings, dataplane, metrics)`, which returns a handle with
`stop(grace: float)`; the REST and gRPC servers of one worker share the one loaded model.
"""
from __future__ import annotations

import gc
import logging
import os
import random
import signal
import socket
import threading
from typing import Any, Optional

from .settings import Settings

log = logging.getLogger("modelpack_runtime.server")

def _start_grpc(settings: Settings, dataplane: Any, metrics: Any, index: int) -> Optional[Any]:
    """Start the worker's gRPC server (docs/runtime-design.md, "gRPC"): workers 0..grpc_workers-1 only."""
    if index >= settings.grpc_workers:
        return None
    try:
        from . import grpc_server  # type: ignore[attr-defined]
    except ImportError as exc:
        if index == 0:
            log.info("gRPC is not available in this build (%s); serving REST only", exc)
        return None
    try:
        return grpc_server.start(settings, dataplane, metrics)
    except getattr(grpc_server, "GrpcUnavailable", ImportError) as exc:
        if index == 0:
            log.info("gRPC is not available in this build (%s); serving REST only", exc)
        return None


def worker_main(settings: Settings, sock: socket.socket, index: int) -> None:
    """Body of one forked worker; never returns (os._exit) so the master's cleanup never runs here."""
    code = 0
    try:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        _serve_worker(settings, sock, index)
    except BaseException:  # noqa: BLE001 - report and let the master restart us
        log.exception("worker %d crashed", index)
        code = 1
    finally:
        logging.shutdown()
        os._exit(code)


def _serve_worker(settings: Settings, sock: socket.socket, index: int) -> None:
    import uvicorn

    from .dataplane import DataPlane
    from .http_app import App
    from .metrics import Metrics

    metrics = Metrics(settings)
    dataplane = DataPlane(settings, metrics)
    app = App(settings, dataplane, metrics)

    def load() -> None:
        dataplane.construct()
        dataplane.load()
        if dataplane.ready:
            # The loaded model is long-lived: keep the cyclic GC from rescanning it on every gen-2 run
            # (those pauses would otherwise show up as latency spikes).
            gc.freeze()
            log.info("worker %d (pid %d): model ready", index, os.getpid())
        else:  # logged once; health and readiness report it from now on
            log.error("worker %d (pid %d): model NOT ready: %s", index, os.getpid(), dataplane.failure)

    loader = threading.Thread(target=load, name="model-load", daemon=True)
    loader.start()
    grpc = None
    config = uvicorn.Config(
        app, loop="uvloop", http="httptools", lifespan="off", access_log=settings.access_log,
        timeout_keep_alive=settings.keepalive, log_config=None, server_header=False,
        # jitter applied here (uvicorn only grew limit_max_requests_jitter recently)
        limit_max_requests=(settings.max_requests + random.randint(0, settings.max_requests_jitter)
                            if settings.max_requests else None),
        timeout_graceful_shutdown=max(int(settings.graceful_timeout), 1))
    grpc_stopper: list[threading.Thread] = []

    def stop_grpc() -> None:
        # gRPC drains at the same time as uvicorn, so both fit in one graceful_timeout
        if grpc is not None and not grpc_stopper:
            t = threading.Thread(target=grpc.stop, args=(settings.graceful_timeout,), name="grpc-stop")
            t.start()
            grpc_stopper.append(t)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            super().handle_exit(sig, frame)
            stop_grpc()

    server = Server(config)
    # uvicorn re-raises the signal it caught once it has shut down; exit 0 instead of dying by it.
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGINT, lambda *_: None)
    try:
        # gRPC serves the same DataPlane; like REST it answers "not ready" until load() is done.
        grpc = _start_grpc(settings, dataplane, metrics, index)
        server.run(sockets=[sock])
    finally:
        stop_grpc()  # no-op if a signal already started it; needed after max-requests recycling
        for t in grpc_stopper:
            t.join(settings.graceful_timeout + 1)
        app.close()
