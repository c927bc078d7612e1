"""`modelpack-microservice`: a drop-in for `seldon-core-microservice` (contract C.1-C.3).

Every flag and environment variable of seldon-core-microservice is accepted with the same default
and precedence (a flag's default is read from its env var; SELDON_LOG_LEVEL overrides --log-level).
modelpack adds a few flags of its own (each also readable from a MODELPACK_* env var).
Only the standard library is used here: the runtime must not need the packager's dependencies.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Callable, Mapping, NoReturn, Optional, Sequence

from .settings import SERVICE_TYPES, Settings

log = logging.getLogger("modelpack_runtime")

ANNOTATIONS_FILE = "/etc/podinfo/annotations"
# Tests (and unusual mounts) may point at another file; Seldon hard-codes the path above.
ANNOTATIONS_ENV = "MODELPACK_PODINFO_ANNOTATIONS"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
INLINE_MODES = ("auto", "always", "never")
# Seldon reads these for tracing / Flask / macOS; we accept them and say once that they do nothing.
IGNORED_ENV_PREFIXES = ("JAEGER_",)
ACCEPTED_ENV = ("USE_MULTIPROCESS_PACKAGE",)


class CliError(Exception):
    """A bad flag or env value. The message names the flag/env, the value and the fix."""


def env_bool(value: Optional[str]) -> bool:
    """Seldon's getenv_as_bool: true for 1, true or t (any case); everything else is false."""
    return value is not None and value.strip().lower() in ("1", "true", "t")


def _flag_bool(value: str) -> bool:
    # Seldon declares `type=bool`, so `--debug false` is True there; we read the word instead.
    v = value.strip().lower()
    if v in ("1", "true", "t", "yes", "y", "on"):
        return True
    if v in ("0", "false", "f", "no", "n", "off", ""):
        return False
    raise argparse.ArgumentTypeError(f"{value!r} is not a boolean; use true or false")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, then exit 2 (Seldon exits -1)
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    """The argparse parser; defaults come from `env` exactly as seldon-core-microservice does."""
    e = env.get
    p = _Parser(prog="modelpack-microservice",
                description="Serve a Python model class over Seldon REST, KServe V1, Open Inference V2 "
                            "and gRPC. Flags and env vars match seldon-core-microservice.")
    p.add_argument("interface_name", help="MODEL_NAME: `Model` (Model.py, class Model) or `pkg.mod.Class`")
    p.add_argument("--service-type", choices=SERVICE_TYPES, default="MODEL",
                   help="accepted for compatibility; every route is served for every type")
    p.add_argument("--persistence", nargs="?", default=0, const=1, type=str,
                   help="deprecated and ignored (as in Seldon)")
    p.add_argument("--parameters", default=e("PREDICTIVE_UNIT_PARAMETERS", "[]"),
                   help="JSON list of {name, value, type}; env PREDICTIVE_UNIT_PARAMETERS")
    p.add_argument("--log-level", choices=LOG_LEVELS, type=str.upper, default="INFO",
                   help="env SELDON_LOG_LEVEL overrides this flag")
    p.add_argument("--debug", nargs="?", type=_flag_bool, const=True, default=env_bool(e("SELDON_DEBUG")))
    p.add_argument("--tracing", nargs="?", const="1", default=e("TRACING", "0"),
                   help="accepted; tracing is not built in (logged once)")
    for flag, var, default in (("--workers", "GUNICORN_WORKERS", 1), ("--threads", "GUNICORN_THREADS", 1),
                               ("--max-requests", "GUNICORN_MAX_REQUESTS", 0),
                               ("--max-requests-jitter", "GUNICORN_MAX_REQUESTS_JITTER", 0),
                               ("--keepalive", "GUNICORN_KEEPALIVE", 2),
                               ("--single-threaded", "FLASK_SINGLE_THREADED", 0),
                               ("--http-port", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT", 9000),
                               ("--grpc-port", "PREDICTIVE_UNIT_GRPC_SERVICE_PORT", 5000),
                               ("--metrics-port", "PREDICTIVE_UNIT_METRICS_SERVICE_PORT", 6000),
                               ("--grpc-threads", "GRPC_THREADS", 1), ("--grpc-workers", "GRPC_WORKERS", 1)):
        # kept as strings here and validated once in _int() so the error names flag *or* env var
        p.add_argument(flag, default=e(var, str(default)), help=f"env {var}, default {default}")
    p.add_argument("--pidfile", default=None)
    p.add_argument("--access-log", nargs="?", type=_flag_bool, const=True,
                   default=env_bool(e("GUNICORN_ACCESS_LOG")))
    # modelpack's own flags
    p.add_argument("--request-timeout", default=e("MODELPACK_REQUEST_TIMEOUT"),
                   help="seconds a predict may run before 504 (default: annotation seldon.io/rest-timeout, "
                        "else 60)")
    p.add_argument("--max-body-size", default=e("MODELPACK_MAX_BODY_SIZE", str(100 * 1024 * 1024)),
                   help="bytes; larger request bodies get 413 (default 100 MiB)")
    p.add_argument("--graceful-timeout", default=e("MODELPACK_GRACEFUL_TIMEOUT", "20"),
                   help="seconds to finish in-flight requests on SIGTERM (default 20)")
    p.add_argument("--host", default=e("MODELPACK_HOST", "0.0.0.0"), help="bind address (default 0.0.0.0)")
    p.add_argument("--model-name", default=e("MODELPACK_MODEL_NAME"),
                   help="name for the V1/V2 routes (default: the class part of interface_name)")
    p.add_argument("--reload", action="store_true", help="development only: restart workers when *.py change")
    return p


def _int(name: str, value: object, minimum: int = 0) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise CliError(f"{name}: {value!r} is not an integer; pass a whole number, e.g. {name} 2") from None
    if n < minimum:
        raise CliError(f"{name}: {n} is below the minimum {minimum}; pass a number >= {minimum}")
    return n


def _float(name: str, value: object) -> float:
    try:
        f = float(str(value).strip())
    except ValueError:
        raise CliError(f"{name}: {value!r} is not a number; pass seconds, e.g. {name} 30") from None
    if not f > 0:
        raise CliError(f"{name}: {value!r} must be greater than 0")
    return f


def read_annotations(path: str) -> dict[str, str]:
    """Kubernetes downward-API file: `key="value"` lines. A missing file is normal outside Kubernetes."""
    out: dict[str, str] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                key, sep, value = line.strip().partition("=")
                if sep:
                    out[key.strip()] = value.strip().strip('"')
    except OSError:
        pass
    return out


def _check_parameters(raw: str, source: str) -> str:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise CliError(f"{source}: {raw!r} is not valid JSON ({exc}); pass a JSON list such as "
                       '[{"name":"alpha","value":"0.5","type":"FLOAT"}]') from None
    if not isinstance(value, list) or not all(isinstance(x, dict) for x in value):
        raise CliError(f"{source}: {raw!r} must be a JSON list of objects with name, value and type")
    # Seldon fails at start on a bad typed value too; say so now rather than as a not-ready worker.
    from .errors import BadParameter
    from .usermodel import parse_parameters

    try:
        parse_parameters(raw)
    except BadParameter as exc:
        # the message names PREDICTIVE_UNIT_PARAMETERS; name the flag instead when it came from there
        raise CliError(exc.message.replace("PREDICTIVE_UNIT_PARAMETERS", source)) from None
    return raw


def _predictor_version(raw: Optional[str]) -> str:
    if not raw:
        return ""
    try:
        labels = json.loads(raw)
    except ValueError:
        raise CliError(f"PREDICTOR_LABELS: {raw!r} is not valid JSON; set a JSON object such as "
                       '{"version":"v1"}') from None
    return str(labels.get("version", "")) if isinstance(labels, dict) else ""


def settings_from_args(argv: Sequence[str], env: Mapping[str, str],
                       warn: Callable[[str], None] = log.info) -> Settings:
    """Parse argv + env into a frozen Settings. Raises CliError for a bad value; argparse exits 2
    for an unknown flag."""
    parser = build_parser(env)
    args, unknown = parser.parse_known_args(list(argv))
    if unknown:
        parser.error(f"unknown argument {unknown[0]!r} (since Seldon 1.5 the API type REST/GRPC is "
                     "not an argument)")
    ints = {name: _int("--" + name.replace("_", "-"), getattr(args, name),
                       1 if name in ("workers", "threads") else 0)
            for name in ("workers", "threads", "max_requests", "max_requests_jitter", "keepalive",
                         "single_threaded", "http_port", "grpc_port", "metrics_port", "grpc_threads",
                         "grpc_workers")}
    for port in ("http_port", "grpc_port", "metrics_port"):
        if ints[port] > 65535:
            raise CliError(f"--{port.replace('_', '-')}: {ints[port]} is not a TCP port; use 0-65535")
    single = ints.pop("single_threaded") != 0
    if single:
        ints["threads"] = 1
    source = "--parameters" if "--parameters" in argv or any(a.startswith("--parameters=") for a in argv) \
        else "PREDICTIVE_UNIT_PARAMETERS"
    parameters = _check_parameters(args.parameters, source)

    annotations = read_annotations(env.get(ANNOTATIONS_ENV, ANNOTATIONS_FILE))
    if args.request_timeout is not None:
        request_timeout = _float("--request-timeout", args.request_timeout)
    elif "seldon.io/rest-timeout" in annotations:
        ms = _float("annotation seldon.io/rest-timeout", annotations["seldon.io/rest-timeout"])
        request_timeout = max(ms / 1000.0, 1.0)  # Seldon's minimum is 1 s
    else:
        request_timeout = 60.0
    grpc_max = None
    if "seldon.io/grpc-max-message-size" in annotations:
        grpc_max = _int("annotation seldon.io/grpc-max-message-size",
                        annotations["seldon.io/grpc-max-message-size"], 1)

    log_level = env.get("SELDON_LOG_LEVEL", args.log_level).upper()
    if log_level not in LOG_LEVELS:
        raise CliError(f"SELDON_LOG_LEVEL: {log_level!r} is not a log level; use one of {', '.join(LOG_LEVELS)}")
    inline = env.get("MODELPACK_INLINE_PREDICT", "auto").strip().lower()
    if inline not in INLINE_MODES:
        raise CliError(f"MODELPACK_INLINE_PREDICT: {inline!r} is not valid; use auto, always or never")
    tracing = _int("--tracing", args.tracing) != 0
    if tracing:
        warn("--tracing/TRACING: tracing is not built into modelpack; requests are served untraced")
    jaeger = sorted(k for k in env if k.startswith(IGNORED_ENV_PREFIXES))
    if jaeger:
        warn(f"{', '.join(jaeger)}: accepted and ignored (no Jaeger tracing in modelpack)")
    persistence = _int("--persistence", args.persistence) if args.persistence not in (None, "") else 1
    if persistence:
        warn("--persistence: ignored (deprecated in Seldon too)")
    filter_env = env.get("FILTER_METRICS_ACCESS_LOGS")
    return Settings(
        interface_name=args.interface_name,
        service_type=args.service_type,
        persistence=persistence,
        parameters=parameters,
        model_uri=env.get("MODEL_URI") or None,
        workdir=os.getcwd(),
        payload_passthrough=env_bool(env.get("PAYLOAD_PASSTHROUGH")),
        include_metrics_in_response=env_bool(env.get("INCLUDE_METRICS_IN_CLIENT_RESPONSE", "true")),
        model_metadata=env.get("MODEL_METADATA") or None,
        predictive_unit_id=env.get("PREDICTIVE_UNIT_ID") or None,
        predictive_unit_image=env.get("PREDICTIVE_UNIT_IMAGE") or None,
        model_name=args.model_name or None,
        executor_enabled=env_bool(env.get("SELDON_EXECUTOR_ENABLED", "true")),
        host=args.host,
        single_threaded=single,
        request_timeout=request_timeout,
        max_body_size=_int("--max-body-size", args.max_body_size, 1),
        graceful_timeout=_float("--graceful-timeout", args.graceful_timeout),
        access_log=bool(args.access_log),
        # Seldon: on unless debug
        filter_metrics_access_logs=env_bool(filter_env) if filter_env is not None else not args.debug,
        log_level="DEBUG" if args.debug and "SELDON_LOG_LEVEL" not in env else log_level,
        debug=bool(args.debug),
        tracing=tracing,
        pidfile=args.pidfile,
        grpc_max_message_size=grpc_max,
        metrics_endpoint=env.get("PREDICTIVE_UNIT_METRICS_ENDPOINT", "/metrics"),
        deployment_name=env.get("SELDON_DEPLOYMENT_ID", ""),
        predictor_name=env.get("PREDICTOR_ID", ""),
        predictor_version=_predictor_version(env.get("PREDICTOR_LABELS")),
        inline_predict=inline,
        reload=bool(args.reload),
        **ints,
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(process)d %(name)s: %(message)s")


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Console script entry point."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ
    configure_logging(env.get("SELDON_LOG_LEVEL", "INFO").upper() if env.get("SELDON_LOG_LEVEL", "INFO").upper()
                      in LOG_LEVELS else "INFO")
    try:
        settings = settings_from_args(argv, env)
    except CliError as exc:
        sys.stderr.write(f"modelpack-microservice: error: {exc}\n")
        raise SystemExit(2) from None
    logging.getLogger().setLevel(settings.log_level)
    from . import server  # imported late so `--help` and flag errors stay fast

    if settings.reload:
        raise SystemExit(server.serve_source(settings.workdir, settings, reload=True))
    else:
        raise SystemExit(server.run(settings))
