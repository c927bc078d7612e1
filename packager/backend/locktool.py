"""The Docker side of `modelpack lock` for an image whose Python differs from the host's: learn a
base image's Python by running it (cached by image id), keep a lock-tool image (the base image
plus a virtualenv with pip-tools, built through modelpack's own backends), and run pip-compile in
a throw-away container of it.

What reaches the container: a copy of the manifests (put into the container's file system with
the Engine API's archive upload, so a remote daemon works too), the CA bundle, and the index
settings in a 0600 shell file that the command sources and deletes before pip-compile starts.
Nothing is passed as container environment (`docker inspect` would show it), nothing is
committed, and the container is removed, whatever happened.
"""
from __future__ import annotations

import io
import json
import shlex
import tarfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import docker.errors

from packager.backend.client import connect, describe_host, mapped_errors
from packager.errors import DockerUnavailable, LockError
from packager.lock.imagecache import ImagePython, cached, store
from packager.redact import redact

LABEL = "io.modelpack.lock"  # on every container `modelpack lock` starts
WORKDIR = "/modelpack-lock"  # in the container: the manifests, the CA bundle, the output
ENV_FILE = ".modelpack-env"  # in WORKDIR, 0600, sourced and deleted by the container's command
_PROBE = ("import json, platform, sys; print(json.dumps({'version': '%d.%d' % sys.version_info[:2], "
          "'full': platform.python_version(), 'implementation': sys.implementation.name, "
          "'machine': platform.machine()}))")


def _image_platform(attrs: dict) -> str:
    arch = str(attrs.get("Architecture") or "?")
    variant = attrs.get("Variant")
    text = f"{attrs.get('Os') or 'linux'}/{arch}"
    return f"{text}/{variant}" if variant and arch != "arm64" else text


def _inspect_or_pull(api: docker.APIClient, name: str, platform: str) -> dict:
    try:
        return api.inspect_image(name)
    except docker.errors.ImageNotFound:
        pass
    try:
        api.pull(name, platform=platform)  # as `docker build` would for a FROM it does not have
        return api.inspect_image(name)
    except docker.errors.APIError as exc:
        detail = " ".join(str(exc.explanation or exc).split())[:240]
        raise LockError(f"base image {name}: not on the Docker host ({describe_host()}) and it cannot be "
                        f"pulled: {redact(detail)}",
                        f"`docker pull {name}` (or build it) first, or pass --base-image with an image "
                        "the host has") from None


def image_python(name: str, platform: str) -> ImagePython:
    """The Python of image `name` for a lock targeting `platform`: run `python3` in it once per
    image id (cached), check that the image is built for `platform`."""
    api = connect()
    try:
        with mapped_errors("lock"):
            attrs = _inspect_or_pull(api, name, platform)
            image_id = str(attrs["Id"])
            found = _image_platform(attrs)
            if found.split("/")[:2] != platform.split("/")[:2]:
                raise LockError(f"base image {name} is built for {found}, the lock is for {platform}",
                                f"pass --platform {found}, or pull the {platform} variant "
                                f"(docker pull --platform {platform} {name})")
            info = cached(image_id)
            if info is None:
                out = _run_probe(api, name, image_id)
                info = ImagePython(image_id, out["version"], out["full"], out["implementation"],
                                   out["machine"], platform)
            store(name, info)
            return info
    finally:
        api.close()


def _run_probe(api: docker.APIClient, name: str, image_id: str) -> dict:
    container = api.create_container(image_id, entrypoint=["python3", "-c", _PROBE], network_disabled=True,
                                     labels={LABEL: "probe"})
    try:
        try:
            api.start(container)
        except docker.errors.APIError as exc:
            raise LockError(f"base image {name}: cannot run python3 in it: "
                            f"{' '.join(str(exc.explanation or exc).split())[:200]}",
                            "modelpack images need python3 on PATH (python3 -m venv); use a Python base image") from None
        code = int(api.wait(container, timeout=120).get("StatusCode", 1))
        out = api.logs(container, stdout=True, stderr=False).decode(errors="replace").strip()
        err = api.logs(container, stdout=False, stderr=True).decode(errors="replace").strip()
    finally:
        api.remove_container(container, force=True)
    try:
        answer = json.loads(out.splitlines()[-1]) if code == 0 and out else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        raise LockError(f"base image {name}: python3 did not say its version (exit {code}): "
                        f"{' '.join((err or out).split())[-200:] or 'no output'}",
                        "use a base image whose python3 runs (python3 -c 'import sys')")
    return answer


def has_image(tag: str) -> bool:
    api = connect()
    try:
        with mapped_errors("lock"):
            try:
                api.inspect_image(tag)
                return True
            except docker.errors.ImageNotFound:
                return False
    finally:
        api.close()


@dataclass(frozen=True)
class Compiled:
    returncode: int
    stdout: str
    stderr: str
    lock_text: str | None  # the output file, when pip-compile succeeded


def _tar_folder(folder: Path, env_text: str) -> bytes:
    """`folder` as WORKDIR (files root-owned, readable by root only where secret), plus the env file."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        top = tarfile.TarInfo(WORKDIR.strip("/"))
        top.type, top.mode = tarfile.DIRTYPE, 0o700
        tar.addfile(top)
        for path in sorted(folder.rglob("*")):
            arcname = f"{WORKDIR.strip('/')}/{path.relative_to(folder).as_posix()}"
            info = tar.gettarinfo(str(path), arcname)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if info.isfile():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            else:
                tar.addfile(info)
        data = env_text.encode()
        info = tarfile.TarInfo(f"{WORKDIR.strip('/')}/{ENV_FILE}")
        info.size, info.mode = len(data), 0o600
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _read_file(api: docker.APIClient, container: str, path: str) -> str | None:
    try:
        stream, _stat = api.get_archive(container, path)
    except docker.errors.NotFound:
        return None
    raw = b"".join(stream)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        member = tar.next()
        handle = tar.extractfile(member) if member is not None else None
        return handle.read().decode("utf-8") if handle is not None else None


def run_pip_compile(tool_image: str, folder: Path, argv: list[str], env: dict[str, str], output: str, *,
                    network: str | None = None, platform: str | None = None) -> Compiled:
    """Run `argv` (pip-compile) in WORKDIR of a new container of `tool_image`, with a copy of
    `folder` there and `env` exported from a file that is deleted before `argv` starts; return
    its exit code, its output and the file `output` it wrote. The container is always removed."""
    env_text = "".join(f"{name}={shlex.quote(value)}\n" for name, value in sorted(env.items()))
    script = (f"set -a && . ./{ENV_FILE} && set +a && rm -f ./{ENV_FILE} && exec "
              + " ".join(shlex.quote(a) for a in argv))
    api = connect()
    container = None
    try:
        with mapped_errors("lock"):
            container = api.create_container(
                tool_image, entrypoint=["/bin/sh", "-c", script], working_dir=WORKDIR, user="0:0",
                name=f"modelpack-lock-{uuid.uuid4().hex[:12]}", labels={LABEL: "pip-compile"},
                host_config=api.create_host_config(network_mode=network) if network else None,
                platform=platform)
            if not api.put_archive(container, "/", _tar_folder(folder, env_text)):
                raise DockerUnavailable("could not copy the manifests into the lock container",
                                        "check the daemon's log and retry")
            api.start(container)
            code = int(api.wait(container).get("StatusCode", 1))
            stdout = api.logs(container, stdout=True, stderr=False).decode(errors="replace")
            stderr = api.logs(container, stdout=False, stderr=True).decode(errors="replace")
            text = _read_file(api, container, f"{WORKDIR}/{output}") if code == 0 else None
            return Compiled(code, stdout, stderr, text)
    finally:
        if container is not None:
            try:
                api.remove_container(container, force=True)
            except docker.errors.APIError:
                pass  # already gone
        api.close()
