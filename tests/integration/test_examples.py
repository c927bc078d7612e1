"""Every example folder, built through the real CLI on the real engine, run, and called over HTTP."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from .conftest import EXAMPLES, Images
from .wheels import wheel_from_folder

pytestmark = pytest.mark.docker


def seldon_data(response) -> object:
    assert response.status_code == 200, response.text
    body = response.json()
    assert "meta" in body, body
    data = body["data"]
    return data.get("ndarray", data.get("tensor"))


def test_minimal_serves_seldon_v1_and_v2(images: Images, run_container) -> None:
    app = run_container(images.example("minimal"))
    r = app.post("/predict", {"data": {"ndarray": [[1, 2, 3]]}})
    assert r.json() == {"data": {"names": ["t:0", "t:1", "t:2"], "ndarray": [[2.0, 4.0, 6.0]]}, "meta": {}}
    r = app.post("/v1/models/Model:predict", {"instances": [[1, 2, 3]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [[2.0, 4.0, 6.0]]}
    r = app.post("/v2/models/Model/infer",
                 {"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]})
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["shape"] == [1, 3] and out["data"] == [2.0, 4.0, 6.0]


def test_requirements_and_typed_parameters(images: Images, run_container) -> None:
    app = run_container(images.example("requirements-params"))
    r = app.post("/predict", {"data": {"ndarray": [[1, 2, 5]]}})
    assert seldon_data(r) == [[4.0, 7.0, 10.0]]  # x*3.0+1, clipped at 10 (clip=True)
    assert r.json()["meta"]["tags"]["label"] == "tripled"
    assert r.json()["meta"]["tags"]["six"] == "1.16.0"  # installed from requirements.txt


def test_transformer(images: Images, run_container) -> None:
    app = run_container(images.example("transformer"))
    assert seldon_data(app.post("/transform-input", {"data": {"ndarray": [[1, 2, 3]]}})) == [[-1.0, 0.0, 1.0]]
    assert seldon_data(app.post("/transform-output", {"data": {"ndarray": [[1.26, 2.04]]}})) == [[1.3, 2.0]]


def test_router(images: Images, run_container) -> None:
    app = run_container(images.example("router"))
    assert seldon_data(app.post("/route", {"data": {"ndarray": [[-5, 1]]}})) == [[1]]
    assert seldon_data(app.post("/route", {"data": {"ndarray": [[5, 1]]}})) == [[0]]
    feedback = app.post("/send-feedback", {"request": {"data": {"ndarray": [[-5, 1]]}}, "reward": 1.0})
    assert feedback.status_code == 200, feedback.text


def test_combiner(images: Images, run_container) -> None:
    app = run_container(images.example("combiner"))
    body = {"seldonMessages": [{"data": {"ndarray": [[1, 2]]}}, {"data": {"ndarray": [[3, 6]]}}]}
    assert seldon_data(app.post("/aggregate", body)) == [[2.0, 4.0]]


def test_setup_py_dependencies(images: Images, run_container) -> None:
    app = run_container(images.example("setup-py"))
    r = app.post("/predict", {"data": {"ndarray": [[1, 2.5]]}})
    assert seldon_data(r) == [[10.0, 25.0]]
    assert r.json()["meta"]["tags"]["toolz"] == "0.12.1"


def test_local_wheel(images: Images, run_container, tmp_path: Path) -> None:
    src = tmp_path / "local-wheel"
    shutil.copytree(EXAMPLES / "local-wheel", src)
    wheel = wheel_from_folder(src / "wheel-src", src / "wheels", "mp-localwheel-demo", "0.1.0",
                              "mp_localwheel_demo")
    assert wheel.name == "mp_localwheel_demo-0.1.0-py3-none-any.whl"
    tag, result = images.build(src, "local-wheel")
    assert result.returncode == 0, result.explain()
    app = run_container(tag)
    r = app.post("/predict", {"data": {"ndarray": [["bob"]]}})
    assert seldon_data(r) == [["hello bob from a local wheel"]]
    assert r.json()["meta"]["tags"]["lib_version"] == "0.1.0"
