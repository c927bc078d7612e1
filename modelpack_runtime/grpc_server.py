"""The gRPC server of one worker process (issue 4), beside the HTTP server in the same process.

The worker calls `start(settings, dataplane, metrics)` after it built its DataPlane; the gRPC
server then calls that same DataPlane (the same loaded model) from its own thread pool, so the
model is loaded once per worker, never once more for gRPC (seldon-core 4031, 3597). Which workers
call start() is the server's business (docs/runtime-design.md, "gRPC"): every gRPC server binds
with SO_REUSEPORT, so several workers can share the port.

Served: seldon.protos.{Generic,Model,Router,Transformer,OutputTransformer,Combiner,Seldon},
inference.GRPCInferenceService (Open Inference V2), grpc.health.v1.Health and server reflection.

grpcio is optional: importing this module never needs it; `available()` says whether start() can
work (`unavailable_reason()` says why not), and start() raises GrpcUnavailable with a one-line reason if not.
"""
from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Optional

from .settings import Settings

log = logging.getLogger("modelpack_runtime.grpc")

# gRPC's own default receive limit is 4 MiB; we default to the REST body limit instead, so the
# same payload that works over REST works over gRPC.
_MAX_MESSAGE_OPTIONS = ("grpc.max_send_message_length", "grpc.max_receive_message_length")


class GrpcUnavailable(RuntimeError):
    """grpcio (or one of its companion packages) is not installed."""


def available() -> bool:
    """True if grpcio, its companions and our stubs import (so start() can work)."""
    return unavailable_reason() is None


def unavailable_reason() -> Optional[str]:
    """None if gRPC can be served, else the plain-words reason it cannot."""
    try:
        import grpc  # noqa: F401
        import grpc_health.v1.health  # noqa: F401
        import grpc_reflection.v1alpha.reflection  # noqa: F401

        from .grpc.gen import grpc_predict_v2_pb2_grpc, prediction_pb2_grpc  # noqa: F401
    except Exception as exc:  # ImportError, or a protobuf/grpcio version mismatch (RuntimeError)
        return (f"gRPC is off: {exc}; install grpcio, protobuf, grpcio-health-checking and "
                "grpcio-reflection (pip install modelpack-runtime), or set GRPC_WORKERS=0")
    return None


MAX_MESSAGE_ENV = "GRPC_MAX_MESSAGE_SIZE"


def max_message_size(settings: Settings, env: Optional[Mapping[str, str]] = None) -> int:
    """The send/receive limit in bytes: env GRPC_MAX_MESSAGE_SIZE, else the annotation
    seldon.io/grpc-max-message-size (settings.grpc_max_message_size), else the REST body limit."""
    raw = (os.environ if env is None else env).get(MAX_MESSAGE_ENV)
    if raw is not None and raw.strip():
        try:
            value = int(raw.strip())
        except ValueError:
            value = 0
        if value <= 0:
            raise ValueError(f"{MAX_MESSAGE_ENV}={raw!r} is not a positive number of bytes; "
                             f"set e.g. {MAX_MESSAGE_ENV}=104857600 (100 MiB) or unset it")
        return value
    return settings.grpc_max_message_size or settings.max_body_size


def bind_address(host: str, port: int) -> str:
    if ":" in host and not host.startswith("["):  # an IPv6 literal
        host = f"[{host}]"
    return f"{host}:{port}"


class GrpcHandle:
    """A running gRPC server. `stop(grace)` finishes in-flight RPCs (up to `grace` seconds)."""

    def __init__(self, server: Any, health: Any, port: int) -> None:
        self.server = server
        self.health = health
        self.port = port

    def stop(self, grace: float) -> None:
        """Stop accepting RPCs, report NOT_SERVING, wait for in-flight RPCs up to `grace` seconds."""
        self.health.shutting_down()
        done = self.server.stop(grace)
        done.wait(grace + 5)

    def refresh_health(self) -> None:
        """Tell health Watch subscribers the current readiness (Check always computes it live)."""
        self.health.refresh()


def start(settings: Settings, dataplane: Any, metrics: Any = None) -> GrpcHandle:
    """Start serving gRPC for `dataplane` on settings.host:settings.grpc_port; return the handle."""
    reason = unavailable_reason()
    if reason is not None:
        raise GrpcUnavailable(reason)
    import grpc
    from grpc_reflection.v1alpha import reflection

    from .grpc import seldon_service, v2_service
    from .grpc.calls import MetricsInterceptor
    from .grpc.health import ReadinessHealthServicer

    limit = max_message_size(settings)
    options = [("grpc.so_reuseport", 1)] + [(name, limit) for name in _MAX_MESSAGE_OPTIONS]
    interceptors = [MetricsInterceptor(metrics)] if metrics is not None else []
    server = grpc.server(ThreadPoolExecutor(max_workers=max(1, settings.grpc_threads),
                                            thread_name_prefix="grpc"),
                         options=options, interceptors=interceptors)
    seldon_service.add_to_server(seldon_service.SeldonServicer(dataplane), server)
    v2_service.add_to_server(v2_service.InferenceServicer(dataplane), server)
    served = (*seldon_service.SERVICE_NAMES, v2_service.SERVICE_NAME)
    health = ReadinessHealthServicer(dataplane, served)
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        (*served, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name, reflection.SERVICE_NAME), server)
    address = bind_address(settings.host, settings.grpc_port)
    try:
        port = server.add_insecure_port(address)
    except RuntimeError as exc:
        raise RuntimeError(f"gRPC cannot listen on {address} ({exc}); the port is taken: set --grpc-port "
                           "(PREDICTIVE_UNIT_GRPC_SERVICE_PORT) to a free port, or GRPC_WORKERS=0") from None
    if port == 0:  # older grpcio returns 0 instead of raising
        raise RuntimeError(f"gRPC cannot listen on {address}; set --grpc-port (PREDICTIVE_UNIT_GRPC_SERVICE_PORT) "
                           "to a free port, or GRPC_WORKERS=0")
    server.start()
    log.info("gRPC listening on %s (threads=%d, max message %d bytes)", address, settings.grpc_threads, limit)
    return GrpcHandle(server, health, port)
