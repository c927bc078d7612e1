"""Runtime settings: one frozen object built once by the CLI (modelpack_runtime.cli) from
flags and environment variables, then handed to the data plane and the servers.

Field names follow seldon-core-microservice's flags (contract C.2) and env vars (C.3).
Nothing here imports anything outside the standard library.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

SERVICE_TYPES = ("MODEL", "ROUTER", "TRANSFORMER", "COMBINER", "OUTLIER_DETECTOR")


@dataclass(frozen=True)
class Settings:
    # what to serve
    interface_name: str                      # MODEL_NAME: "Model" or "pkg.mod.Class"
    service_type: str = "MODEL"              # one of SERVICE_TYPES
    persistence: int = 0                     # accepted, ignored (deprecated in Seldon too)
    parameters: str = "[]"                   # PREDICTIVE_UNIT_PARAMETERS, JSON list
    model_uri: Optional[str] = None          # MODEL_URI env (a `model_uri` parameter wins)
    workdir: str = "."                       # put on sys.path; user code is imported from here

    # protocol behaviour
    payload_passthrough: bool = False        # PAYLOAD_PASSTHROUGH
    include_metrics_in_response: bool = True # INCLUDE_METRICS_IN_CLIENT_RESPONSE
    model_metadata: Optional[str] = None     # MODEL_METADATA (YAML/JSON)
    predictive_unit_id: Optional[str] = None # PREDICTIVE_UNIT_ID
    predictive_unit_image: Optional[str] = None  # PREDICTIVE_UNIT_IMAGE ("image:tag")
    model_name: Optional[str] = None         # name used by V1/V2 routes; default derived from interface_name
    executor_enabled: bool = True            # SELDON_EXECUTOR_ENABLED

    # serving
    http_port: int = 9000                    # PREDICTIVE_UNIT_HTTP_SERVICE_PORT
    grpc_port: int = 5000                    # PREDICTIVE_UNIT_GRPC_SERVICE_PORT
    metrics_port: int = 6000                 # PREDICTIVE_UNIT_METRICS_SERVICE_PORT
    metrics_endpoint: str = "/metrics"       # PREDICTIVE_UNIT_METRICS_ENDPOINT
    host: str = "0.0.0.0"
    workers: int = 1                         # GUNICORN_WORKERS
    threads: int = 1                         # GUNICORN_THREADS (predict threads per worker)
    grpc_workers: int = 1                    # GRPC_WORKERS (0 turns gRPC off)
    grpc_threads: int = 1                    # GRPC_THREADS
    grpc_max_message_size: Optional[int] = None  # bytes; also seldon.io/grpc-max-message-size
    max_requests: int = 0                    # GUNICORN_MAX_REQUESTS
    max_requests_jitter: int = 0             # GUNICORN_MAX_REQUESTS_JITTER
    keepalive: int = 2                       # GUNICORN_KEEPALIVE (seconds)
    single_threaded: bool = False            # FLASK_SINGLE_THREADED
    request_timeout: float = 60.0            # seconds; seldon.io/rest-timeout (ms) overrides
    max_body_size: int = 100 * 1024 * 1024   # bytes; larger bodies get 413
    graceful_timeout: float = 20.0           # seconds to finish in-flight requests on SIGTERM
    access_log: bool = False                 # GUNICORN_ACCESS_LOG / --access-log
    filter_metrics_access_logs: bool = True  # FILTER_METRICS_ACCESS_LOGS
    log_level: str = "INFO"                  # --log-level / SELDON_LOG_LEVEL
    debug: bool = False                      # --debug / SELDON_DEBUG
    tracing: bool = False                    # --tracing / TRACING (accepted; logged as unsupported)
    pidfile: Optional[str] = None
    inline_predict: str = "auto"             # MODELPACK_INLINE_PREDICT: auto | always | never
    reload: bool = False                     # --reload (development): restart workers on *.py change

    # labels for metrics (contract C.10)
    deployment_name: str = ""                # SELDON_DEPLOYMENT_ID
    predictor_name: str = ""                 # PREDICTOR_ID
    predictor_version: str = ""              # PREDICTOR_LABELS["version"]

    extra: dict = field(default_factory=dict)  # anything else a later feature needs

    @property
    def served_model_name(self) -> str:
        """The name V1/V2 routes answer to: MODEL_NAME's class part unless set explicitly."""
        if self.model_name:
            return self.model_name
        return self.interface_name.rsplit(".", 1)[-1]
