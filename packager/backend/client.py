"""Connecting to the Docker Engine, and the one seam where SDK exceptions become modelpack errors.

Connection settings follow ``docker.from_env()``: DOCKER_HOST (unix://, tcp://, ssh://),
DOCKER_TLS_VERIFY and DOCKER_CERT_PATH, then the current Docker CLI context.
"""
from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import docker
import docker.errors
import docker.utils
import requests.exceptions
from docker.context import ContextAPI

from packager.errors import DockerUnavailable, ModelpackError

DEFAULT_SOCKET = "unix:///var/run/docker.sock"
API_TIMEOUT_S = 300  # pushes of big layers can be quiet for a while between progress chunks


def describe_host() -> str:
    """Where we try to reach the daemon, for error messages."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return f"DOCKER_HOST={host}"
    return f"{DEFAULT_SOCKET} (DOCKER_HOST is not set)"


_CAUSES = (
    re.compile(r"\[Errno (?:-?\d+|None)\] (?P<cause>[^'\")\]]+)"),
    re.compile(r"(?P<cause>No such file or directory|Connection refused|Permission denied|"
               r"Name or service not known|timed out|Connection reset by peer)"),
)


def root_cause(detail: str) -> str:
    """The OS-level reason buried in urllib3's nested messages ("Connection refused")."""
    for pattern in _CAUSES:
        match = pattern.search(detail)
        if match:
            return match["cause"].strip()
    return _short(detail)


def _unreachable(detail: str) -> DockerUnavailable:
    return DockerUnavailable(
        f"cannot reach the Docker daemon at {describe_host()}: {root_cause(detail)}",
        hint="start dockerd (e.g. `sudo systemctl start docker`) or set DOCKER_HOST to a reachable daemon",
    )


def _short(detail: str, limit: int = 200) -> str:
    detail = " ".join(str(detail).split())
    return detail if len(detail) <= limit else detail[: limit - 3] + "..."


def _ssh_kwargs() -> dict[str, bool]:
    # docker-py's ssh transport uses paramiko (the docker[ssh] extra, a dependency of ours);
    # MODELPACK_DOCKER_SSH_CLIENT=1 shells out to the ssh binary instead, like the docker CLI.
    if os.environ.get("MODELPACK_DOCKER_SSH_CLIENT", "") in ("1", "true", "yes"):
        return {"use_ssh_client": True}
    return {}


class _APIClient(docker.APIClient):  # type: ignore[misc]  # the SDK ships no type hints
    """The SDK's client, with one fix: a CA file from DOCKER_CERT_PATH wins over REQUESTS_CA_BUNDLE /
    CURL_CA_BUNDLE. requests lets those environment variables override a session's CA file, so
    with them set (common behind TLS-inspecting proxies) a TLS daemon fails verification
    (docker/docker-py#2433, still open)."""

    def merge_environment_settings(self, url: Any, proxies: Any, stream: Any, verify: Any,
                                   cert: Any) -> dict[str, Any]:
        settings: dict[str, Any] = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if verify is None and isinstance(self.verify, str):
            settings["verify"] = self.verify
        return settings


def _client_kwargs() -> dict[str, Any]:
    """What ``docker.from_env()`` passes to the client: DOCKER_HOST / DOCKER_TLS_VERIFY /
    DOCKER_CERT_PATH, else the current Docker CLI context."""
    params: dict[str, Any] = docker.utils.kwargs_from_env()
    from_context = getattr(ContextAPI, "kwargs_from_context", None)  # docker >= 7.2
    if "base_url" not in params and from_context is not None:
        for key, value in from_context(environment=os.environ).items():
            params.setdefault(key, value)
    return params


def connect() -> docker.APIClient:
    """The low-level API client, already checked to answer (``/version`` and ``/_ping``)."""
    try:
        api = _APIClient(timeout=API_TIMEOUT_S, version=None, **_ssh_kwargs(), **_client_kwargs())
        api.ping()
    except docker.errors.TLSParameterError as exc:
        cert_path = os.environ.get("DOCKER_CERT_PATH") or os.path.join(os.path.expanduser("~"), ".docker")
        missing = [n for n in ("ca.pem", "cert.pem", "key.pem") if not os.path.isfile(os.path.join(cert_path, n))]
        detail = f"{cert_path} lacks {', '.join(missing)}" if missing else str(exc)
        raise _tls_error(detail) from exc
    except requests.exceptions.SSLError as exc:
        raise _tls_error(str(exc)) from exc
    except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
        if "SSLError" in str(exc) or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            raise _tls_error(str(exc)) from exc
        raise _unreachable(str(exc)) from exc
    return api


_SSL_REASON = re.compile(r"\[SSL: [A-Z_]+\] (?P<reason>[^(']+)|(?P<alert>tlsv1 alert [a-z ]+|"
                         r"certificate required|unknown ca|bad certificate)")


def _tls_error(detail: str) -> DockerUnavailable:
    match = _SSL_REASON.search(detail)
    reason = (match["reason"] or match["alert"]).strip() if match else _short(detail)
    return DockerUnavailable(
        f"TLS to the Docker daemon at {describe_host()} failed: {reason} "
        f"(DOCKER_TLS_VERIFY={os.environ.get('DOCKER_TLS_VERIFY', '')!r}, "
        f"DOCKER_CERT_PATH={os.environ.get('DOCKER_CERT_PATH', '')!r})",
        hint="point DOCKER_CERT_PATH at a folder with the daemon's ca.pem and your cert.pem and key.pem",
    )


@contextlib.contextmanager
def mapped_errors(action: str) -> Iterator[None]:
    """Map SDK and transport exceptions raised inside the block onto DockerUnavailable (exit 4).

    Errors that already are ModelpackErrors (raised by stream parsing) pass through unchanged.
    """
    try:
        yield
    except ModelpackError:
        raise
    except docker.errors.APIError as exc:
        explanation = exc.explanation or str(exc)
        raise DockerUnavailable(
            f"Docker Engine API error during {action} at {describe_host()}: "
            f"HTTP {exc.status_code}: {_short(str(explanation))}",
            hint="check the daemon's log (journalctl -u docker) and retry",
        ) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError) as exc:
        raise _unreachable(f"connection lost during {action}: {exc}") from exc
    except requests.exceptions.Timeout as exc:
        raise DockerUnavailable(
            f"the Docker daemon at {describe_host()} did not answer within {API_TIMEOUT_S}s during {action}",
            hint="check that the daemon is not overloaded, then retry",
        ) from exc
    except docker.errors.DockerException as exc:
        raise DockerUnavailable(f"Docker error during {action}: {_short(str(exc))}") from exc
