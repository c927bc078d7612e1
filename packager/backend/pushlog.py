"""Pushing a tag: credentials, the push stream's in-band errors, the digest, and retries.

The Engine API answers a push with HTTP 200 and reports a refusal inside the stream
(``{"error": "unauthorized: authentication required", "errorDetail": ...}``), so every
chunk is checked. The final chunk carries ``{"aux": {"Tag", "Digest", "Size"}}``.
"""
from __future__ import annotations

import re
import time

import docker
import docker.auth
import docker.errors
import requests.exceptions

from packager.backend.client import mapped_errors
from packager.backend.progress import Progress
from packager.errors import PushFailed

ATTEMPTS = 3
BACKOFF_S = (2.0, 5.0)  # waits before the 2nd and 3rd attempt
_AUTH = re.compile(r"(unauthorized|denied|authentication required|no basic auth credentials|\b401\b|"
                   r"incorrect username or password)", re.IGNORECASE)
_TRANSIENT = re.compile(r"(timeout|timed out|connection reset|broken pipe|\bEOF\b|\b50[0234]\b|"
                        r"service unavailable|bad gateway|too many requests|\b429\b|connection refused)",
                        re.IGNORECASE)
_DIGEST = re.compile(r"digest: (?P<digest>sha256:[0-9a-f]{64})")
_HTTPS_TO_HTTP = re.compile(r"server gave HTTP response to HTTPS client", re.IGNORECASE)


class _Transient(Exception):
    """A failure worth retrying; carries the one-line reason."""


def registry_of(repository: str) -> str:
    registry, _name = docker.auth.resolve_repository_name(repository)
    return str(registry)


def _login_hint(registry: str) -> str:
    return f"run `docker login {registry}`, or pass --username and --password-stdin"


def _in_band(message: str, registry: str, ref: str) -> Exception:
    message = " ".join(message.split())
    if "does not exist locally" in message or "No such image" in message:
        return PushFailed(f"no local image {ref} to push",
                          hint=f"build it first (`modelpack build SRC {ref}`) or check the name with `docker images`")
    if _AUTH.search(message):
        return PushFailed(f"registry {registry} refused the push of {ref}: {message[:200]}",
                          hint=_login_hint(registry))
    if _HTTPS_TO_HTTP.search(message):
        return PushFailed(f"registry {registry} speaks plain HTTP but the daemon used HTTPS: {message[:200]}",
                          hint=f"add {registry} to the daemon's insecure-registries, or serve it over TLS")
    if _TRANSIENT.search(message):
        return _Transient(message)
    return PushFailed(f"push of {ref} to {registry} failed: {message[:300]}",
                      hint="check the registry's address and that it accepts pushes")


def _push_once(api: docker.APIClient, repository: str, tag: str, auth_config: dict[str, str] | None,
               progress: Progress) -> str:
    registry = registry_of(repository)
    ref = f"{repository}:{tag}"
    digest = ""
    try:
        stream = api.push(repository, tag=tag, stream=True, decode=True, auth_config=auth_config)
        for chunk in stream:
            if not isinstance(chunk, dict):
                continue
            if "error" in chunk or "errorDetail" in chunk:
                detail = chunk.get("errorDetail") or {}
                raise _in_band(str(chunk.get("error") or detail.get("message") or "unknown error"),
                               registry, ref)
            aux = chunk.get("aux")
            if isinstance(aux, dict) and isinstance(aux.get("Digest"), str):
                digest = aux["Digest"]
            status = chunk.get("status")
            if isinstance(status, str):
                found = _DIGEST.search(status)
                if found and not digest:
                    digest = found["digest"]
                if chunk.get("id"):
                    progress.status(str(chunk["id"]), status, str(chunk.get("progress") or ""))
                else:
                    progress.line(status)
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        if exc.status_code == 404:
            raise _in_band(f"No such image: {text}", registry, ref) from exc
        if exc.status_code and exc.status_code >= 500 and not _AUTH.search(text):
            raise _Transient(f"HTTP {exc.status_code}: {text}") from exc
        raise _in_band(text, registry, ref) from exc
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError,
            requests.exceptions.Timeout) as exc:
        raise _Transient(f"connection to the daemon failed: {exc}") from exc
    if not digest:
        raise PushFailed(f"push of {ref} to {registry} ended without a digest",
                         hint="check the registry's log; the image may be incomplete there")
    return digest


def push_with_retries(api: docker.APIClient, repository: str, tag: str, *, username: str | None,
                      password: str | None, progress: Progress) -> str:
    """Push with up to ATTEMPTS tries for transient failures; returns the manifest digest."""
    registry = registry_of(repository)
    auth_config = None
    if username is not None and password is not None:
        # given explicitly: sent only in the X-Registry-Auth header to the daemon, never printed
        auth_config = {"username": username, "password": password, "serveraddress": registry}
    progress.phase("push", f"pushing {repository}:{tag} to {registry}")
    last = ""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with mapped_errors("push"):
                return _push_once(api, repository, tag, auth_config, progress)
        except _Transient as exc:
            last = progress.redact(" ".join(str(exc).split()))
            if attempt < ATTEMPTS:
                wait = BACKOFF_S[attempt - 1]
                progress.warn(f"push attempt {attempt}/{ATTEMPTS} failed ({last[:160]}); retrying in {wait:.0f}s")
                time.sleep(wait)
    raise PushFailed(f"push of {repository}:{tag} to {registry} failed {ATTEMPTS} times: {last[:300]}",
                     hint="check the network and the registry's health, then retry")
