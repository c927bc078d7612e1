"""One seam for every RPC: run the handler and map a failure once to a gRPC status; and the\ninterceptor that counts and times RPCs.

The data plane raises errors.MicroserviceError (status_code is the HTTP status). The mapping
below turns that HTTP status into the gRPC code with the same meaning (the table in
docs/runtime-design.md); anything else raised is a bug or user code and becomes INTERNAL with the
exception's message. The server keeps serving either way: the error ends only that RPC.
"""
from __future__ import annotations

import logging
from time import perf_counter
from typing import Any, Callable

import grpc

from ..errors import MicroserviceError, UserCodeError, to_microservice_error

log = logging.getLogger("modelpack_runtime.grpc")

_BY_HTTP_STATUS = {
    400: grpc.StatusCode.INVALID_ARGUMENT,
    401: grpc.StatusCode.UNAUTHENTICATED,
    403: grpc.StatusCode.PERMISSION_DENIED,
    404: grpc.StatusCode.NOT_FOUND,
    409: grpc.StatusCode.ALREADY_EXISTS,
    412: grpc.StatusCode.FAILED_PRECONDITION,
    413: grpc.StatusCode.RESOURCE_EXHAUSTED,
    422: grpc.StatusCode.INVALID_ARGUMENT,
    429: grpc.StatusCode.RESOURCE_EXHAUSTED,
    499: grpc.StatusCode.CANCELLED,
    500: grpc.StatusCode.INTERNAL,
    501: grpc.StatusCode.UNIMPLEMENTED,
    503: grpc.StatusCode.UNAVAILABLE,
    504: grpc.StatusCode.DEADLINE_EXCEEDED,
}


def status_for(err: MicroserviceError) -> grpc.StatusCode:
    """The gRPC status code for a MicroserviceError (by its HTTP status)."""
    code = _BY_HTTP_STATUS.get(err.status_code)
    if code is not None:
        return code
    return grpc.StatusCode.INVALID_ARGUMENT if 400 <= err.status_code < 500 else grpc.StatusCode.INTERNAL


class Caller:
    """Runs RPC handlers, mapping any failure once to a gRPC status (metrics: MetricsInterceptor)."""

    def call(self, route: str, context: grpc.ServicerContext, empty: Callable[[], Any],
             fn: Callable[[], Any]) -> Any:
        """Return fn()'s message, or set the error status on `context` and return empty()."""
        try:
            return fn()
        except Exception as exc:  # the one place an RPC failure becomes a status
            err = to_microservice_error(exc, where=route)
            code = status_for(err)
            if isinstance(err, UserCodeError) or code is grpc.StatusCode.INTERNAL:
                log.error("%s failed: %s", route, err.message, exc_info=exc)
            else:
                log.info("%s: %s %s", route, code.name, err.message)
            context.set_code(code)
            context.set_details(err.message or type(exc).__name__)
            # The Seldon reason (MICROSERVICE_BAD_DATA, ...) travels as trailing metadata.
            context.set_trailing_metadata((("seldon-reason", err.reason),))
            return empty()


class MetricsInterceptor(grpc.ServerInterceptor):
    """Counts and times every unary RPC of our protocols in the same Prometheus series as REST:
    modelpack_requests_total{protocol="grpc-seldon"|"grpc-v2", route="/pkg.Service/Method",
    status="OK"|"INVALID_ARGUMENT"|...}. Health and reflection calls are not counted (probes)."""

    PROTOCOLS = (("/seldon.protos.", "grpc-seldon"), ("/inference.", "grpc-v2"))

    def __init__(self, metrics: Any) -> None:
        self.metrics = metrics

    def intercept_service(self, continuation: Callable, details: grpc.HandlerCallDetails) -> Any:
        handler = continuation(details)
        method = details.method
        protocol = next((p for prefix, p in self.PROTOCOLS if method.startswith(prefix)), None)
        if handler is None or protocol is None or handler.unary_unary is None:
            return handler
        inner = handler.unary_unary
        metrics = self.metrics

        def timed(request: Any, context: grpc.ServicerContext) -> Any:
            start = perf_counter()
            try:
                return inner(request, context)
            finally:
                code = context.code() or grpc.StatusCode.OK
                try:
                    metrics.observe_request(protocol, method, code.name, perf_counter() - start)
                except Exception:  # metrics must never fail a request
                    log.exception("recording gRPC metrics failed")

        return grpc.unary_unary_rpc_method_handler(
            timed, request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer)
