"""A built image answers gRPC on port 5000 (Seldon, V2 and health), with the same answers as REST.

Reuses the integration suite's fixtures (real CLI, real engine, the local base image)."""
from __future__ import annotations

import grpc
import pytest
import requests
from grpc_health.v1 import health_pb2, health_pb2_grpc
from integration.conftest import docker_client, images, infra, run_container  # noqa: F401 - pytest fixtures

from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2 as v2
from modelpack_runtime.grpc.gen import grpc_predict_v2_pb2_grpc as v2_grpc
from modelpack_runtime.grpc.gen import prediction_pb2 as pb
from modelpack_runtime.grpc.gen import prediction_pb2_grpc as pb_grpc

pytestmark = [pytest.mark.docker, pytest.mark.slow]


@pytest.fixture
def minimal_container(images, run_container) -> tuple[str, str]:  # noqa: F811
    """examples/minimal running with 9000 and 5000 published on loopback -> (http url, grpc target)."""
    app = run_container(images.example("minimal"), ports={"5000/tcp": ("127.0.0.1", None)})
    return app.url, app.published(5000)


def test_built_image_answers_grpc_on_5000(minimal_container):
    url, target = minimal_container
    with grpc.insecure_channel(target) as ch:
        grpc.channel_ready_future(ch).result(timeout=30)
        health = health_pb2_grpc.HealthStub(ch).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING

        req = pb.SeldonMessage()
        req.data.ndarray.extend([[1, 2, 3]])
        resp = pb_grpc.ModelStub(ch).Predict(req, timeout=10)
        rows = [[v.number_value for v in r.list_value.values] for r in resp.data.ndarray.values]
        assert rows == [[2.0, 4.0, 6.0]]
        assert list(resp.data.names) == ["t:0", "t:1", "t:2"]

        infer = v2.ModelInferRequest(model_name="Model")
        infer.inputs.add(name="x", datatype="FP64", shape=[1, 3]).contents.fp64_contents.extend([1, 2, 3])
        out = v2_grpc.GRPCInferenceServiceStub(ch).ModelInfer(infer, timeout=10).outputs[0]
        assert list(out.shape) == [1, 3] and list(out.contents.fp64_contents) == [2.0, 4.0, 6.0]

    rest = requests.post(url + "/predict", json={"data": {"ndarray": [[1, 2, 3]]}}, timeout=10).json()
    assert rest["data"] == {"names": ["t:0", "t:1", "t:2"], "ndarray": rows}
