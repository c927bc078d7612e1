"""Where a lock is resolved and what a build assumes about a custom base image's Python, without
Docker: the default python:X.Y-slim needs no probe; the lock-tool Dockerfile keeps every index
setting out of its final stage; the build reads a custom base image's Python from the probe
cache, else from the lock made for that image."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from packager.flavour import Flavour
from packager.lock import LOCK_FILE
from packager.lock.digest import lock_inputs, read_header
from packager.lock.imagecache import ImagePython, cached_for_name, store
from packager.lock.incontainer import TOOL_HOME, tool_dockerfile, tool_tag
from packager.lock.piplock import _index_env
from packager.lock.state import host_platform, lock_state
from packager.lock.target import resolve_target
from packager.spec import BuildOptions, load_spec

HOST = f"{sys.version_info[0]}.{sys.version_info[1]}"
BODY = "six==1.16.0 \\\n    --hash=sha256:" + "a" * 64 + "\n"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # never the user's probe cache
    return tmp_path / "cache"


def _source(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / ".s2i").mkdir(parents=True)
    (src / ".s2i/environment").write_text("MODEL_NAME=Model\n")
    (src / "Model.py").write_text("class Model:\n    def predict(self, X, n=None, m=None):\n        return X\n")
    (src / "requirements.txt").write_text("six\n")
    return src


def test_default_base_image_needs_no_docker() -> None:
    here = resolve_target(f"python:{HOST}-slim", False, HOST, False, host_platform() or "linux/amd64")
    assert here.on_host and here.image is None
    other = "3.9" if HOST != "3.9" else "3.10"
    away = resolve_target(f"python:{other}-slim", False, other, True, host_platform() or "linux/amd64")
    assert not away.on_host and away.python == other
    assert "pip-compile runs in a container of the base image" in away.describe()


def test_header_records_the_base_image_outside_the_digest(tmp_path: Path) -> None:
    src = _source(tmp_path)
    deps = load_spec(BuildOptions(src=src)).deps
    with_base = lock_inputs(src, deps, "3.13", "linux/amd64", base_image="debian:trixie")
    assert read_header(with_base.header() + BODY) == with_base
    assert "# modelpack-lock base-image debian:trixie" in with_base.header()
    assert with_base.digest == lock_inputs(src, deps, "3.13", "linux/amd64").digest


def _lock_for(src: Path, python: str, base: str | None) -> None:
    deps = load_spec(BuildOptions(src=src)).deps
    (src / LOCK_FILE).write_text(lock_inputs(src, deps, python, "linux/amd64", base_image=base).header() + BODY)


def test_build_takes_a_custom_base_images_python_from_the_lock_made_for_it(tmp_path: Path) -> None:
    src = _source(tmp_path)
    deps = load_spec(BuildOptions(src=src)).deps
    _lock_for(src, "3.13", "debian:trixie")
    # the builder's default (3.11) is not the image's: the lock made for this image says 3.13
    assert lock_state(src, deps, "3.11", "linux/amd64", base_image="debian:trixie", python_given=False).status == "current"
    other = lock_state(src, deps, "3.11", "linux/amd64", base_image="debian:bookworm", python_given=False)
    assert other.status == "stale" and other.reason.startswith(
        "the base image (debian:trixie with Python 3.13 -> debian:bookworm with Python 3.11)")
    # --python is the user's word for it
    assert lock_state(src, deps, "3.11", "linux/amd64", base_image="debian:trixie", python_given=True).status == "stale"


def test_build_prefers_what_running_the_image_said(tmp_path: Path) -> None:
    src = _source(tmp_path)
    deps = load_spec(BuildOptions(src=src)).deps
    _lock_for(src, "3.11", None)  # locked for the default python:3.11-slim
    assert lock_state(src, deps, "3.11", "linux/amd64", base_image="debian:trixie", python_given=False).status == "current"
    store("debian:trixie", ImagePython("sha256:" + "b" * 64, "3.13", "3.13.5", "cpython", "x86_64", "linux/amd64"))
    assert cached_for_name("debian:trixie").full == "3.13.5"
    state = lock_state(src, deps, "3.11", "linux/amd64", base_image="debian:trixie", python_given=False)
    assert state.status == "stale" and "the image's Python (3.11 -> 3.13)" in state.reason


@pytest.mark.parametrize("backend", ["engine", "buildkit"])
def test_tool_dockerfile_keeps_index_settings_in_the_first_stage(backend: str) -> None:
    flavour = Flavour(backend, "pip", secrets_file=True, ca_file="/tmp/modelpack/ca.crt")
    env = (("PIP_CERT", "/tmp/modelpack/ca.crt"), ("PIP_EXTRA_INDEX_URL", '"$EXTRA_INDEX_URL"'))
    text = tool_dockerfile("debian:trixie", flavour, env, ("EXTRA_INDEX_URL",), {"pip-tools": "7.7.0", "pip": "26.3"},
                           {"io.modelpack.lock-tool.pip": "26.3"})
    tool, final = text.split("FROM debian:trixie\n")
    # no ARG, no CA, no RUN in the image's stage
    assert final == f'COPY --from=tool {TOOL_HOME} {TOOL_HOME}\nLABEL io.modelpack.lock-tool.pip="26.3"\n'

    assert "pip==26.3 pip-tools==7.7.0" in tool and 'PIP_EXTRA_INDEX_URL="$EXTRA_INDEX_URL"' in tool
    if backend == "engine":
        assert "ARG EXTRA_INDEX_URL" in tool and "COPY modelpack/ca.crt /tmp/modelpack/ca.crt" in tool
    else:
        assert "ARG EXTRA_INDEX_URL" not in tool and "--mount=type=secret,id=pip_env,required=true" in tool
        assert "--mount=type=secret,id=ca,target=/tmp/modelpack/ca.crt" in tool


def test_tool_tag_follows_base_image_and_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    info = ImagePython("sha256:" + "c" * 64, "3.13", "3.13.5", "cpython", "x86_64", "linux/amd64")
    versions = {"pip-tools": "7.7.0", "pip": "26.3"}
    tag = tool_tag(info, versions)
    assert tag.startswith("modelpack-lock-tool:") and tag == tool_tag(info, dict(versions))
    assert tool_tag(info, {**versions, "pip": "26.2"}) != tag
    assert tool_tag(ImagePython("sha256:" + "d" * 64, *list(vars(info).values())[1:]), versions) != tag
    monkeypatch.setenv("MODELPACK_LOCK_TOOL_IMAGE", "ci/lock-tool")
    assert tool_tag(info, versions).startswith("ci/lock-tool:")


def test_index_env_maps_like_the_build(tmp_path: Path) -> None:
    src = _source(tmp_path)
    spec = load_spec(BuildOptions(src=src, env=(("EXTRA_INDEX_URL", "https://a/simple"),
                                                ("PIP_EXTRA_INDEX_URL", "https://b/simple"),
                                                ("IDX_TOKEN", "t0ken"))))
    env = _index_env(spec)
    assert env["PIP_EXTRA_INDEX_URL"] == "https://b/simple https://a/simple"  # both, as the deps stage passes them
    assert env["EXTRA_INDEX_URL"] == "https://a/simple" and env["IDX_TOKEN"] == "t0ken"  # ${NAME} in requirement files
