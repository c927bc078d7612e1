"""Pre-packaged servers on the real engine (issue 7): for each builder, train a tiny model on
generated data, build `modelpack build --builder NAME --model-dir DIR IMAGE`, run it, and compare the
served predictions with the model's own output; then run the image built WITHOUT a model with the
folder mounted at /mnt/models. Bad inputs (missing file, wrong type, unreachable URI, checksum
mismatch, HTTP download) are checked in health status and in the logs on the sklearn image."""
from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import requests
from trained_models import train

from .conftest import Images, Running, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.slow]

KINDS = {  # training kind -> builder
    "joblib": "sklearn",
    "xgboost": "xgboost",
    "lightgbm": "lightgbm",
    "onnx": "onnx",
    "mlflow": "mlflow",
}


def _build(images: Images, name: str, builder: str, model_dir: Path | None) -> str:
    tag = images.tag(name)
    args = ["build", "--builder", builder, tag, "--progress", "plain",
            "--base-image", images.infra.base_image, "--ca-cert", images.infra.ca_cert]
    if model_dir is not None:
        args += ["--model-dir", str(model_dir)]
    result = run_cli(*args)
    assert result.returncode == 0, result.explain()
    assert "layout: prepackaged (because the builder ships its own model server source)" in result.stderr
    return tag


def _predict(running: Running, X: np.ndarray) -> np.ndarray:
    r = running.post("/api/v1.0/predictions", {"data": {"ndarray": X.tolist()}})
    assert r.status_code == 200, r.text
    return np.asarray(r.json()["data"]["ndarray"])


def _model_folder(tmp_path: Path, kind: str) -> tuple[Path, np.ndarray, np.ndarray]:
    folder = tmp_path / "model"
    X, expected = train(kind, folder)
    for path in [folder, *folder.rglob("*")]:  # readable by the image's uid 8888
        path.chmod(0o755 if path.is_dir() else 0o644)
    return folder, X, expected


@pytest.fixture(scope="module")
def server_images(images: Images, tmp_path_factory) -> dict[str, tuple[str, str, Path, np.ndarray, np.ndarray]]:
    """kind -> (baked image, model-less image, model folder, X, expected); built once per module."""
    return {}


def _images_for(kind: str, images: Images, cache: dict, tmp_path_factory) -> tuple:
    if kind not in cache:
        folder, X, expected = _model_folder(tmp_path_factory.mktemp(kind), kind)
        baked = _build(images, f"pre-{kind}-baked", KINDS[kind], folder)
        bare = _build(images, f"pre-{kind}", KINDS[kind], None)
        cache[kind] = (baked, bare, folder, X, expected)
    return cache[kind]


@pytest.mark.parametrize("kind", list(KINDS))
def test_baked_and_mounted_predictions_match_the_model(kind, images, server_images, tmp_path_factory,
                                                       run_container) -> None:
    baked, bare, folder, X, expected = _images_for(kind, images, server_images, tmp_path_factory)
    got = _predict(run_container(baked), X)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)
    mounted = run_container(bare, volumes={str(folder): {"bind": "/mnt/models", "mode": "ro"}})
    got = _predict(mounted, X)
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)
    # Open Inference V2 on the same image, as a second protocol over the same model
    body = {"inputs": [{"name": "x", "shape": list(X.shape), "datatype": "FP64", "data": X.ravel().tolist()}]}
    r = requests.post(mounted.url + "/v2/models/Model/infer", json=body, timeout=30)
    assert r.status_code == 200, r.text
    out = np.asarray(r.json()["outputs"][0]["data"])
    np.testing.assert_allclose(out.reshape(expected.shape), expected, rtol=1e-5, atol=1e-6)


def test_sklearn_predict_proba_parameter(images, server_images, tmp_path_factory, run_container) -> None:
    baked, _, _, X, _ = _images_for("joblib", images, server_images, tmp_path_factory)
    params = '[{"name": "method", "value": "predict_proba", "type": "STRING"}]'
    got = _predict(run_container(baked, environment={"PREDICTIVE_UNIT_PARAMETERS": params}), X)
    assert got.shape == (len(X), 2) and np.allclose(got.sum(axis=1), 1.0)


def test_sklearn_pickle_file_mounted(images, server_images, tmp_path_factory, run_container, tmp_path) -> None:
    _, bare, _, _, _ = _images_for("joblib", images, server_images, tmp_path_factory)
    folder, X, expected = _model_folder(tmp_path, "pickle")  # model.pkl, read with pickle
    got = _predict(run_container(bare, volumes={str(folder): {"bind": "/mnt/models", "mode": "ro"}}), X)
    np.testing.assert_allclose(got, expected)


def _failing(running: Running, expected: str, timeout: float = 60) -> None:
    """The model must stay not-ready with `expected` in /health/status, readiness and the log."""
    deadline = time.monotonic() + timeout
    status = None
    while time.monotonic() < deadline:
        try:
            status = requests.get(running.url + "/health/status", timeout=2)
            if status.status_code == 503 and expected in status.text:
                break
        except requests.RequestException:
            pass
        time.sleep(0.3)
    assert status is not None and status.status_code == 503 and expected in status.text, (
        status.text if status is not None else "no answer", running.logs())
    ready = requests.get(running.url + "/v2/health/ready", timeout=5)
    assert ready.status_code != 200
    assert expected in running.logs()


class _Files(http.server.BaseHTTPRequestHandler):
    root: Path

    def do_GET(self) -> None:
        path = self.root / self.path.lstrip("/")
        if not path.is_file():
            self.send_error(404, "Not Found")
            return
        data = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bridge_server(tmp_path: Path, docker_client) -> Iterator[tuple[str, Path]]:
    """An HTTP file server the containers reach through the default bridge's gateway."""
    import ipaddress

    config = docker_client.networks.get("bridge").attrs["IPAM"]["Config"][0]
    # some engines leave Gateway out: it is then the subnet's first address
    gateway = config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))
    root = tmp_path / "www"
    root.mkdir()
    handler = type("Handler", (_Files,), {"root": root})
    httpd = http.server.ThreadingHTTPServer((gateway, 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://{gateway}:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def test_model_uri_download_with_checksum(images, server_images, tmp_path_factory, run_container,
                                          bridge_server) -> None:
    _, bare, folder, X, expected = _images_for("joblib", images, server_images, tmp_path_factory)
    url, root = bridge_server
    import tarfile

    with tarfile.open(root / "model.tar.gz", "w:gz") as tf:
        tf.add(folder / "model.joblib", arcname="model.joblib")
    digest = hashlib.sha256((root / "model.tar.gz").read_bytes()).hexdigest()
    running = run_container(bare, environment={"MODEL_URI": f"{url}/model.tar.gz", "MODEL_URI_SHA256": digest})
    np.testing.assert_allclose(_predict(running, X), expected)
    wrong = "f" * 64
    bad = run_container(bare, ready=False, environment={"MODEL_URI": f"{url}/model.tar.gz#sha256={wrong}"})
    _failing(bad, f"model_uri {url}/model.tar.gz: sha256 mismatch: expected {wrong}, downloaded file has {digest}")
    missing = run_container(bare, ready=False, environment={"MODEL_URI": f"{url}/nope.joblib"})
    _failing(missing, f"model_uri {url}/nope.joblib: download failed with HTTP 404")


def test_bad_model_inputs_are_clear(images, server_images, tmp_path_factory, run_container, tmp_path) -> None:
    _, bare, _, _, _ = _images_for("joblib", images, server_images, tmp_path_factory)
    # nothing mounted at /mnt/models
    _failing(run_container(bare, ready=False), "model_uri /mnt/models: no such folder; mount the model there")
    # a folder without a model file
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    (empty / "notes.txt").write_text("no model here")
    (empty / "notes.txt").chmod(0o644)
    running = run_container(bare, ready=False, volumes={str(empty): {"bind": "/mnt/models", "mode": "ro"}})
    _failing(running, "no scikit-learn model file (looked for model.joblib, model.pkl, model.pickle; found notes.txt)")
    # a model of the wrong type: an XGBoost model given to the sklearn server
    wrong = tmp_path / "wrong"
    train("xgboost", wrong)
    os.rename(wrong / "model.json", wrong / "model.joblib")
    wrong.chmod(0o755)
    (wrong / "model.joblib").chmod(0o644)
    running = run_container(bare, ready=False, volumes={str(wrong): {"bind": "/mnt/models", "mode": "ro"}})
    _failing(running, "model.joblib is not a scikit-learn model")
    # an unreachable model_uri (nothing listens on port 9 of the loopback inside the container)
    running = run_container(bare, ready=False, environment={"MODEL_URI": "http://127.0.0.1:9/model.joblib"})
    _failing(running, "model_uri http://127.0.0.1:9/model.joblib: cannot download (")


def test_missing_model_dir_is_a_source_error(tmp_path: Path) -> None:
    result = run_cli("build", "--builder", "sklearn", "--model-dir", str(tmp_path / "absent"), "x:1", "--dry-run")
    assert result.returncode == 3, result.explain()
    assert result.error_lines() == [
        f"error: --model-dir {tmp_path / 'absent'}: no such folder; pass the folder holding the model files"
    ]
