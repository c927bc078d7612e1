"""modelpack-microservice flags and env vars: same defaults and precedence as seldon-core-microservice."""
from __future__ import annotations

import os
import shlex
import subprocess
import sys

import pytest

from modelpack_runtime.cli import CliError, settings_from_args

from .conftest import REPO


def parse(argv: str, env: dict | None = None, path: str = "/nonexistent/annotations"):
    e = {"MODELPACK_PODINFO_ANNOTATIONS": path, **(env or {})}
    return settings_from_args(shlex.split(argv), e, warn=lambda m: None)


def test_defaults_match_seldon() -> None:
    s = parse("Model")
    assert (s.interface_name, s.service_type, s.persistence, s.parameters) == ("Model", "MODEL", 0, "[]")
    assert (s.http_port, s.grpc_port, s.metrics_port, s.metrics_endpoint) == (9000, 5000, 6000, "/metrics")
    assert (s.workers, s.threads, s.max_requests, s.max_requests_jitter, s.keepalive) == (1, 1, 0, 0, 2)
    assert (s.grpc_workers, s.grpc_threads, s.single_threaded, s.access_log, s.debug) == (1, 1, False, False, False)
    assert (s.log_level, s.tracing, s.payload_passthrough, s.include_metrics_in_response) == ("INFO", False, False, True)
    assert s.request_timeout == 60.0 and s.filter_metrics_access_logs is True and s.executor_enabled is True


def test_s2i_run_command_line_works() -> None:
    # `exec seldon-core-microservice $MODEL_NAME --service-type $SERVICE_TYPE --persistence $PERSISTENCE --access-log`
    s = parse("Model --service-type ROUTER --persistence 0 --access-log")
    assert (s.service_type, s.persistence, s.access_log) == ("ROUTER", 0, True)
    s = parse("Model --service-type MODEL --persistence --access-log")  # empty $PERSISTENCE
    assert (s.persistence, s.access_log) == (1, True)


def test_env_gives_flag_defaults_and_flags_win() -> None:
    env = {"GUNICORN_WORKERS": "3", "GUNICORN_THREADS": "4", "PREDICTIVE_UNIT_HTTP_SERVICE_PORT": "9100",
           "PREDICTIVE_UNIT_GRPC_SERVICE_PORT": "5100", "PREDICTIVE_UNIT_METRICS_SERVICE_PORT": "6100",
           "GRPC_WORKERS": "0", "GRPC_THREADS": "7", "GUNICORN_KEEPALIVE": "9", "GUNICORN_MAX_REQUESTS": "100",
           "GUNICORN_MAX_REQUESTS_JITTER": "10", "GUNICORN_ACCESS_LOG": "True", "SELDON_DEBUG": "t",
           "PREDICTIVE_UNIT_PARAMETERS": '[{"name":"a","value":"1","type":"INT"}]'}
    s = parse("Model", env)
    assert (s.workers, s.threads, s.http_port, s.grpc_port, s.metrics_port) == (3, 4, 9100, 5100, 6100)
    assert (s.grpc_workers, s.grpc_threads, s.keepalive, s.max_requests, s.max_requests_jitter) == (0, 7, 9, 100, 10)
    assert s.access_log and s.debug and s.parameters == env["PREDICTIVE_UNIT_PARAMETERS"]
    s = parse("Model --workers 2 --http-port 9200 --parameters []", env)
    assert (s.workers, s.http_port, s.parameters) == (2, 9200, "[]")


def test_log_level_env_overrides_flag_and_debug() -> None:
    assert parse("Model --log-level ERROR", {"SELDON_LOG_LEVEL": "WARNING"}).log_level == "WARNING"
    assert parse("Model --log-level error").log_level == "ERROR"
    assert parse("Model --debug").log_level == "DEBUG"
    assert parse("Model --debug false").debug is False  # Seldon's type=bool would say True here


def test_single_threaded_forces_one_thread() -> None:
    s = parse("Model --threads 8 --single-threaded 1")
    assert s.single_threaded and s.threads == 1
    assert parse("Model --threads 8", {"FLASK_SINGLE_THREADED": "1"}).threads == 1


@pytest.mark.parametrize("value,expected", [("1", True), ("true", True), ("T", True), ("TRUE", True),
                                            ("0", False), ("yes", False), ("false", False)])
def test_booleans_read_like_getenv_as_bool(value: str, expected: bool) -> None:
    assert parse("Model", {"PAYLOAD_PASSTHROUGH": value}).payload_passthrough is expected


def test_other_env_vars() -> None:
    s = parse("Model", {"PREDICTIVE_UNIT_METRICS_ENDPOINT": "/prometheus", "FILTER_METRICS_ACCESS_LOGS": "false",
                        "INCLUDE_METRICS_IN_CLIENT_RESPONSE": "false", "MODEL_METADATA": "{}",
                        "PREDICTIVE_UNIT_ID": "clf", "PREDICTIVE_UNIT_IMAGE": "me/img:1.2",
                        "SELDON_DEPLOYMENT_ID": "dep", "PREDICTOR_ID": "pred",
                        "PREDICTOR_LABELS": '{"version":"v7"}', "SELDON_EXECUTOR_ENABLED": "false",
                        "MODEL_URI": "/mnt/models", "JAEGER_AGENT_HOST": "x", "FLASK_DEBUG": "1",
                        "USE_MULTIPROCESS_PACKAGE": "1"})
    assert (s.metrics_endpoint, s.filter_metrics_access_logs, s.include_metrics_in_response) == ("/prometheus", False, False)
    assert (s.model_metadata, s.predictive_unit_id, s.predictive_unit_image) == ("{}", "clf", "me/img:1.2")
    assert (s.deployment_name, s.predictor_name, s.predictor_version) == ("dep", "pred", "v7")
    assert (s.executor_enabled, s.model_uri) == (False, "/mnt/models")


def test_annotations_set_timeout_and_grpc_size(tmp_path) -> None:
    f = tmp_path / "annotations"
    f.write_text('seldon.io/rest-timeout="2500"\nseldon.io/grpc-max-message-size="1048576"\nother="x"\n')
    s = parse("Model", path=str(f))
    assert (s.request_timeout, s.grpc_max_message_size) == (2.5, 1048576)
    assert parse("Model --request-timeout 7", path=str(f)).request_timeout == 7.0  # our flag wins


def test_own_flags() -> None:
    s = parse("Model --max-body-size 1000 --graceful-timeout 3 --host 127.0.0.1 --model-name clf --reload")
    assert (s.max_body_size, s.graceful_timeout, s.host, s.model_name, s.reload) == (1000, 3.0, "127.0.0.1", "clf", True)
    assert s.served_model_name == "clf" and parse("pkg.mod.Cls").served_model_name == "Cls"


@pytest.mark.parametrize("argv,env,needle", [
    ("Model --workers abc", {}, "--workers: 'abc' is not an integer"),
    ("Model", {"GUNICORN_WORKERS": "x"}, "--workers: 'x' is not an integer"),
    ("Model --workers 0", {}, "--workers: 0 is below the minimum 1"),
    ("Model --persistence yes", {}, "--persistence: 'yes' is not an integer"),
    ("Model --http-port 70000", {}, "--http-port: 70000 is not a TCP port"),
    ("Model", {"PREDICTIVE_UNIT_PARAMETERS": "[{"}, "PREDICTIVE_UNIT_PARAMETERS: '[{' is not valid JSON"),
    ("Model --parameters {}", {}, "--parameters: '{}' must be a JSON list"),
    ("Model", {"PREDICTIVE_UNIT_PARAMETERS": '[{"name":"n","value":"x","type":"INT"}]'},
     "PREDICTIVE_UNIT_PARAMETERS[0]: parameter 'n' has value 'x' which is not an integer"),
    ("""Model --parameters '[{"name":"b","value":"maybe","type":"BOOL"}]'""", {},
     "--parameters[0]: parameter 'b' has value 'maybe' which is not a boolean"),
    ("Model", {"SELDON_LOG_LEVEL": "LOUD"}, "SELDON_LOG_LEVEL: 'LOUD' is not a log level"),
    ("Model", {"MODELPACK_INLINE_PREDICT": "sometimes"}, "MODELPACK_INLINE_PREDICT: 'sometimes'"),
    ("Model --request-timeout -1", {}, "--request-timeout: '-1' must be greater than 0"),
    ("Model", {"PREDICTOR_LABELS": "{"}, "PREDICTOR_LABELS: '{' is not valid JSON"),
])
def test_bad_values_name_the_flag_value_and_fix(argv: str, env: dict, needle: str) -> None:
    with pytest.raises(CliError) as info:
        parse(argv, env)
    assert needle in str(info.value)


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "modelpack_runtime", *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(REPO), **(env or {})), timeout=30)


def test_unknown_argument_is_one_line_exit_2() -> None:
    r = _cli("Model", "REST")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown argument 'REST'" in lines[0] and "--help" in lines[0]
    r = _cli("Model", "--no-such-flag")
    assert r.returncode == 2 and "unknown argument '--no-such-flag'" in r.stderr


def test_bad_value_from_the_console_is_one_line_exit_2() -> None:
    r = _cli("Model", "--workers", "abc")
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["modelpack-microservice: error: --workers: 'abc' is not an integer; "
                                             "pass a whole number, e.g. --workers 2"]


def test_help_lists_every_seldon_flag() -> None:
    r = _cli("--help")
    assert r.returncode == 0
    for flag in ("--service-type", "--persistence", "--parameters", "--log-level", "--debug", "--tracing",
                 "--workers", "--threads", "--max-requests", "--max-requests-jitter", "--keepalive",
                 "--single-threaded", "--http-port", "--grpc-port", "--metrics-port", "--pidfile",
                 "--access-log", "--grpc-threads", "--grpc-workers", "--request-timeout", "--max-body-size",
                 "--graceful-timeout", "--host", "--model-name", "--reload"):
        assert flag in r.stdout, flag
