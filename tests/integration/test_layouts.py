"""Custom layouts on the real engine (issue 7): each example under examples/ is built with
`modelpack build` and called the way that layout's own documentation calls it."""
from __future__ import annotations

import json
import time

import docker.errors
import pytest
import requests

from .conftest import EXAMPLES, Images

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _start(docker_client, image: str, port: int, **kwargs):
    container = docker_client.containers.run(image, detach=True, ports={f"{port}/tcp": ("127.0.0.1", None)},
                                             **kwargs)
    container.reload()
    host_port = container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"]
    return container, f"http://127.0.0.1:{host_port}"


def _wait(container, url: str, path: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            raise AssertionError(container.logs().decode(errors="replace")[-3000:])
        try:
            if requests.get(url + path, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise AssertionError(f"{url}{path} not ready:\n{container.logs().decode(errors='replace')[-3000:]}")


@pytest.fixture
def containers(docker_client):
    started: list = []
    yield started
    for c in started:
        try:
            c.remove(force=True)
        except docker.errors.NotFound:
            pass


def _build(images: Images, example: str) -> str:
    tag, result = images.build(EXAMPLES / example, f"layout-{example}")
    assert result.returncode == 0, result.explain()
    return tag, result


def test_procfile_app_runs_its_web_command_on_port(images, docker_client, containers) -> None:
    tag, result = _build(images, "procfile")
    assert "layout: procfile (because Procfile runs `python -m model_remote`)" in result.stderr
    container, url = _start(docker_client, tag, 8080)
    containers.append(container)
    _wait(container, url, "/healthz")
    r = requests.post(url + "/predict", data=json.dumps({"instances": [[1, 2], [3, 4]]}), timeout=10)
    assert r.status_code == 200 and r.json()["predictions"] == [3.0, 7.0]
    assert r.json()["pid"] == 1  # exec'd: the app is PID 1 and gets docker stop's SIGTERM
    other, url2 = _start(docker_client, tag, 9090, environment={"PORT": "9090"})
    containers.append(other)
    _wait(other, url2, "/healthz")
    assert "model_remote listening on 9090" in other.logs().decode()
    started = time.monotonic()
    other.stop(timeout=20)
    assert time.monotonic() - started < 10  # SIGTERM reached the app (no 20 s kill)


def test_kserve_custom_model_answers_as_kserve_documents(images, docker_client, containers) -> None:
    tag, result = _build(images, "kserve-custom")
    assert "layout: kserve (because model.py imports kserve and starts a ModelServer" in result.stderr
    # the seed: docker run -ePORT=8080 -p8080:8080 IMAGE; curl .../v1/models/custom-model:predict -d @./input.json
    container, url = _start(docker_client, tag, 8080, environment={"PORT": "8080"})
    containers.append(container)
    _wait(container, url, "/v1/models/custom-model")
    body = (EXAMPLES / "kserve-custom" / "input.json").read_bytes()
    r = requests.post(url + "/v1/models/custom-model:predict", data=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"}, timeout=10)  # as curl -d sends
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": [[10.0, 11.0, 12.0, 13.0, 14.0]]}
    # KServe's documented arguments after the image name, and Open Inference V2 on the same model
    other, url2 = _start(docker_client, tag, 8085, command=["--http_port", "8085", "--workers", "2",
                                                            "--max_buffer_size", "1000"])
    containers.append(other)
    _wait(other, url2, "/v1/models/custom-model")
    v2 = {"inputs": [{"name": "x", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
    r = requests.post(url2 + "/v2/models/custom-model/infer", json=v2, timeout=10)
    assert r.status_code == 200 and r.json()["outputs"][0]["data"] == [10.0, 11.0, 12.0, 13.0, 14.0], r.text
    big = requests.post(url2 + "/v1/models/custom-model:predict", data=b"x" * 2000, timeout=10)
    assert big.status_code == 413  # --max_buffer_size became the body limit
    logs = other.logs().decode()
    assert "worker 1" in logs, logs[-2000:]  # --workers 2


def test_mlserver_custom_runtime_serves_v2_rest_and_grpc(images, docker_client, containers) -> None:
    import grpc

    from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as pb
    from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2_grpc as pb_grpc

    tag, result = _build(images, "mlserver-custom")
    assert "layout: mlserver (because model-settings.json exists)" in result.stderr
    # the ServingRuntime's variables: ports moved, debug on, inference in the main process
    env = {"MLSERVER_HTTP_PORT": "8002", "MLSERVER_GRPC_PORT": "8001", "MLSERVER_DEBUG": "true",
           "MLSERVER_MODEL_PARALLEL_WORKERS": "0"}
    container = docker_client.containers.run(
        tag, detach=True, environment=env, ports={"8002/tcp": ("127.0.0.1", None), "8001/tcp": ("127.0.0.1", None)})
    containers.append(container)
    container.reload()
    ports = container.attrs["NetworkSettings"]["Ports"]
    url = f"http://127.0.0.1:{ports['8002/tcp'][0]['HostPort']}"
    _wait(container, url, "/v2/models/linear-scores/ready", timeout=120)
    body = {"inputs": [{"name": "x", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4, 0, 0, 0, 0]}]}
    r = requests.post(url + "/v2/models/linear-scores/infer", json=body, timeout=10)
    assert r.status_code == 200, r.text
    out = r.json()["outputs"][0]
    assert out["name"] == "scores" and out["data"] == [6.5, 1.0]  # [1,2,3,4]@[.5,-1,2,.25]+1, and the bias
    channel = grpc.insecure_channel(f"127.0.0.1:{ports['8001/tcp'][0]['HostPort']}")
    stub = pb_grpc.GRPCInferenceServiceStub(channel)
    request = pb.ModelInferRequest(model_name="linear-scores", inputs=[pb.ModelInferRequest.InferInputTensor(
        name="x", datatype="FP64", shape=[1, 4], contents=pb.InferTensorContents(fp64_contents=[1, 2, 3, 4]))])
    reply = stub.ModelInfer(request, timeout=10)
    assert list(reply.outputs[0].contents.fp64_contents) == [6.5]
    channel.close()
    # MLSERVER_LOAD_MODELS_AT_STARTUP=false (ModelMesh loads through the repository API): not loaded yet
    lazy = docker_client.containers.run(tag, detach=True, environment={"MLSERVER_LOAD_MODELS_AT_STARTUP": "false"},
                                        ports={"8080/tcp": ("127.0.0.1", None)})
    containers.append(lazy)
    lazy.reload()
    lazy_url = f"http://127.0.0.1:{lazy.attrs['NetworkSettings']['Ports']['8080/tcp'][0]['HostPort']}"
    _wait(lazy, lazy_url, "/v2/health/live", timeout=120)
    assert requests.get(lazy_url + "/v2/models/linear-scores/ready", timeout=5).status_code != 200
    assert requests.post(lazy_url + "/v2/repository/models/linear-scores/load", timeout=30).status_code == 200
    assert requests.get(lazy_url + "/v2/models/linear-scores/ready", timeout=5).status_code == 200
