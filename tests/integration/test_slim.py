"""The slimmed image on the real engine (packager/slim): it still serves HTTP and gRPC from the
stripped uvloop and grpcio (the running server has them mapped), the virtualenv holds no pip,
setuptools, debug sections or C sources of the runtime, RECORD files match what is on disk, and
MODELPACK_KEEP_PIP=1 keeps pip."""
from __future__ import annotations

import io
import shutil
import tarfile
from pathlib import Path

import docker
import grpc
import pytest
import requests

from modelpack_runtime.grpc.gen import prediction_pb2 as pb
from modelpack_runtime.grpc.gen import prediction_pb2_grpc as pb_grpc
from packager.slim.elfstrip import _parse

from .conftest import EXAMPLES, Images

pytestmark = pytest.mark.docker

# run inside the image by its python: RECORD rows with a hash must match the files on disk
RECORD_CHECK = r"""
import base64, hashlib, importlib.metadata as md, json, os
bad, checked = [], 0
for dist in md.distributions():
    for f in dist.files or []:
        if f.hash is None:
            continue
        path = dist.locate_file(f)
        data = open(path, "rb").read()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        checked += 1
        if digest != f.hash.value or (f.size is not None and f.size != len(data)):
            bad.append(str(f))
names = sorted(d.metadata["Name"].lower() for d in md.distributions())
print(json.dumps({"bad": bad, "checked": checked, "names": names}))
"""


@pytest.fixture
def served(images: Images, run_container) -> tuple[docker.models.containers.Container, str, str]:
    """examples/minimal running with HTTP and gRPC published -> (container, http url, grpc target)."""
    app = run_container(images.example("minimal"), ports={"5000/tcp": ("127.0.0.1", None)})
    return app.container, app.url, app.published(5000)


def read_file(container, path: str) -> bytes:
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        return tar.extractfile(member).read()


def run_python(container, code: str) -> str:
    exit_code, out = container.exec_run(["/opt/venv/bin/python", "-c", code])
    assert exit_code == 0, out.decode(errors="replace")
    return out.decode()


def test_slimmed_image_serves_http_and_grpc_from_the_stripped_libraries(served) -> None:
    container, url, target = served
    r = requests.post(url + "/api/v1.0/predictions", json={"data": {"ndarray": [[1, 2, 3]]}}, timeout=10)
    assert r.status_code == 200 and r.json()["data"]["ndarray"] == [[2.0, 4.0, 6.0]], r.text
    with grpc.insecure_channel(target) as channel:
        grpc.channel_ready_future(channel).result(timeout=30)
        req = pb.SeldonMessage()
        req.data.ndarray.extend([[1, 2, 3]])
        resp = pb_grpc.ModelStub(channel).Predict(req, timeout=10)
    assert [[v.number_value for v in row.list_value.values] for row in resp.data.ndarray.values] == [[2.0, 4.0, 6.0]]
    # the serving processes have the stripped uvloop and grpcio mapped: they are what answered
    _, maps = container.exec_run(["sh", "-c", "cat /proc/[0-9]*/maps"])
    mapped = {line.split()[-1] for line in maps.decode(errors="replace").splitlines() if line.endswith(".so")}
    uvloop = next(p for p in mapped if "/uvloop/loop." in p)
    assert any("/grpc/_cython/cygrpc." in p for p in mapped) and any("/httptools/parser/" in p for p in mapped)
    stripped = read_file(container, uvloop)
    names = [s.name for s in _parse(stripped).sections]
    assert not [n for n in names if n.startswith(".debug")] and ".symtab" in names
    assert len(stripped) < 4 * 1024 * 1024  # 13.6 MB as the wheel ships it


def test_virtualenv_has_no_installers_or_sources_and_records_match(served) -> None:
    container, _, _ = served
    report = __import__("json").loads(run_python(container, RECORD_CHECK))
    assert report["bad"] == [] and report["checked"] > 500, report["bad"][:10]
    assert "pip" not in report["names"] and "setuptools" not in report["names"], report["names"]
    assert "modelpack-runtime" in report["names"] and "uvloop" in report["names"]
    code, out = container.exec_run(["/opt/venv/bin/python", "-m", "pip", "--version"])
    assert code != 0 and b"No module named pip" in out
    find = "ls /opt/venv/bin; find /opt/venv/lib -name '*.pyx' -o -name '*.c' -o -name pip -o -name setuptools"
    _, found = container.exec_run(["sh", "-c", find])
    listing = found.decode().split()
    assert "pip" not in listing and "pip3" not in listing and "modelpack-microservice" in listing, listing
    assert not [p for p in listing if p.endswith((".pyx", ".c", "/pip", "/setuptools"))], listing


def test_keep_pip(images: Images, run_container, tmp_path: Path) -> None:
    src = tmp_path / "minimal"
    shutil.copytree(EXAMPLES / "minimal", src)
    tag, result = images.build(src, "slim-keep-pip", "-e", "MODELPACK_KEEP_PIP=1")
    assert result.returncode == 0, result.explain()
    app = run_container(tag)
    code, out = app.container.exec_run(["/opt/venv/bin/python", "-m", "pip", "--version"])
    assert code == 0 and out.startswith(b"pip "), out
    code, out = app.container.exec_run(["/opt/venv/bin/python", "-c", "import setuptools, pkg_resources"])
    assert code == 0, out
    assert app.post("/predict", {"data": {"ndarray": [[1]]}}).json()["data"]["ndarray"] == [[2.0]]
    assert "MODELPACK_KEEP_PIP=1" not in str(app.container.attrs["Config"]["Env"])  # a build setting only
