"""The standard gRPC health service (grpc.health.v1.Health), tied to the model's readiness.

Check("") and Check(<any service we serve>) answer SERVING once the model was constructed and
loaded, NOT_SERVING while it is not (e.g. load() raised) and once shutdown began; an unknown
service name gets NOT_FOUND, as the health protocol says. Watch streams the statuses of the base
servicer, which we update when the model becomes ready and when shutdown begins.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Iterable

import grpc
from grpc_health.v1 import health, health_pb2

SERVING = health_pb2.HealthCheckResponse.SERVING
NOT_SERVING = health_pb2.HealthCheckResponse.NOT_SERVING
READY_POLL_SECONDS = 0.1


class ReadinessHealthServicer(health.HealthServicer):
    def __init__(self, dataplane: Any, services: Iterable[str]) -> None:
        super().__init__()
        self.dataplane = dataplane
        self.services = frozenset(("", *services))
        self.stopping = False
        self.refresh()
        # The model loads in the background after the server started: tell Watch subscribers
        # when it becomes ready (Check computes the status on every call anyway).
        threading.Thread(target=self._watch_ready, name="grpc-health", daemon=True).start()

    def _watch_ready(self) -> None:
        while not self.stopping and not getattr(self.dataplane, "ready", False):
            if getattr(self.dataplane, "failure", None):  # load failed: stays NOT_SERVING
                return
            time.sleep(READY_POLL_SECONDS)
        if not self.stopping:
            self.refresh()

    def _status(self) -> int:
        return SERVING if (not self.stopping and getattr(self.dataplane, "ready", False)) else NOT_SERVING

    def refresh(self) -> None:
        """Push the current status to Watch subscribers."""
        status = self._status()
        for name in self.services:
            self.set(name, status)

    def Check(self, request: health_pb2.HealthCheckRequest,
              context: grpc.ServicerContext) -> health_pb2.HealthCheckResponse:
        if request.service not in self.services:
            context.set_code(grpc.StatusCode.NOT_FOUND)
            context.set_details(f"unknown service {request.service!r}; this server serves "
                                f"{', '.join(sorted(s for s in self.services if s))} (or '' for the server)")
            return health_pb2.HealthCheckResponse()
        return health_pb2.HealthCheckResponse(status=self._status())

    def shutting_down(self) -> None:
        self.stopping = True
        self.enter_graceful_shutdown()
