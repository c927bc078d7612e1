"""The standard health service and server reflection, called by clients that know no modelpack proto."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from .conftest import run_client

SERVICES = {"seldon.protos.Generic", "seldon.protos.Model", "seldon.protos.Router", "seldon.protos.Transformer",
            "seldon.protos.OutputTransformer", "seldon.protos.Combiner", "seldon.protos.Seldon",
            "inference.GRPCInferenceService", "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection"}


def check(server, service: str = ""):
    stub = health_pb2_grpc.HealthStub(server.channel())
    return stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=10)


def test_health_serving_for_server_and_each_service(echo):
    assert check(echo).status == health_pb2.HealthCheckResponse.SERVING
    for name in ("seldon.protos.Model", "inference.GRPCInferenceService"):
        assert check(echo, name).status == health_pb2.HealthCheckResponse.SERVING


def test_health_unknown_service_is_not_found(echo):
    with pytest.raises(grpc.RpcError) as info:
        check(echo, "no.such.Service")
    assert info.value.code() == grpc.StatusCode.NOT_FOUND


def test_health_not_serving_and_unavailable_when_load_failed(start):
    from modelpack_runtime.grpc.gen import prediction_pb2 as pb

    server = start("loadfail", ready=False)
    assert check(server).status == health_pb2.HealthCheckResponse.NOT_SERVING
    with pytest.raises(grpc.RpcError) as info:
        server.seldon("Model").Predict(pb.SeldonMessage(strData="x"), timeout=10)
    assert info.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "weights.bin not found" in info.value.details()


def test_reflection_lists_every_service(echo):
    listed = set(run_client(Path(sys.executable), "reflection_call.py", echo.target).split())
    assert SERVICES <= listed, SERVICES - listed


def test_reflection_generic_call_seldon_and_v2(echo):
    out = run_client(Path(sys.executable), "reflection_call.py", echo.target, "seldon.protos.Model/Predict",
                     json.dumps({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}, "meta": {"puid": "r"}}))
    assert json.loads(out) == {"data": {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}},
                               "meta": {"puid": "r"}}
    out = run_client(Path(sys.executable), "reflection_call.py", echo.target,
                     "inference.GRPCInferenceService/ModelInfer",
                     json.dumps({"model_name": "Model", "inputs": [{"name": "x", "datatype": "FP64", "shape": [2],
                                                                    "contents": {"fp64_contents": [0.5, 1.5]}}]}))
    assert json.loads(out) == {"model_name": "Model", "outputs": [
        {"name": "output-0", "datatype": "FP64", "shape": ["2"], "contents": {"fp64_contents": [0.5, 1.5]}}]}


def test_health_watch_reports_serving_once_loaded(echo):
    stub = health_pb2_grpc.HealthStub(echo.channel())
    stream = stub.Watch(health_pb2.HealthCheckRequest(service="seldon.protos.Model"), timeout=10)
    first = next(stream)
    stream.cancel()
    assert first.status == health_pb2.HealthCheckResponse.SERVING
