"""Clients nobody here wrote, each in its own virtualenv: seldon-core 1.18.2's SeldonClient in
gRPC microservice mode, and Triton's tritonclient[grpc]. Their answers must match ours over REST."""
from __future__ import annotations

import json

import pytest
import requests

from .conftest import client_venv, run_client

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session")
def seldon_python():
    return client_venv("seldon-core-1.18.2", ["seldon-core==1.18.2"], "import seldon_core.seldon_client")


@pytest.fixture(scope="session")
def triton_python():
    return client_venv("tritonclient-2.x", ["tritonclient[grpc]>=2.40,<3"], "import tritonclient.grpc")


def rest(server, path: str, body: dict) -> dict:
    r = requests.post(server.url + path, json=body, timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def test_seldon_client_grpc_microservice(echo, seldon_python):
    out = json.loads(run_client(seldon_python, "seldon_client_calls.py", echo.target))
    failed = {k: v["msg"] for k, v in out.items() if not v["success"]}
    assert not failed, failed
    r = {k: v["response"] for k, v in out.items()}
    tensor = {"names": ["t:0", "t:1"], "tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}
    assert r["predict-tensor"]["data"] == tensor
    assert r["predict-ndarray"]["data"] == {"names": ["t:0", "t:1"], "ndarray": [[1.0, 2.0]]}
    assert r["predict-str"]["strData"] == "hello"
    assert r["predict-bin"]["binData"] == "AP9yYXc="  # base64 of b"\x00\xffraw"
    assert r["predict-json"]["jsonData"] == {"q": "hi"}
    assert r["transform-input"]["data"]["tensor"]["values"] == [2.0, 4.0]
    assert r["transform-output"]["data"]["tensor"]["values"] == [2.0, 3.0]
    assert r["route"]["data"]["tensor"] == {"shape": [1, 1], "values": [1.0]}
    assert r["aggregate"]["data"]["tensor"]["values"] == [11.0, 22.0]
    # feedback.request used a tensor, so the answer is a tensor (C.8); names [] is not sent in proto3
    assert r["send-feedback"]["data"] == {"tensor": {"shape": [1], "values": [0.75]}}
    # the same inputs over REST give the same answers
    assert rest(echo, "/predict", {"data": {"tensor": {"shape": [1, 2], "values": [1.0, 2.0]}}})["data"] == tensor
    assert rest(echo, "/transform-input", {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}})["data"][
        "tensor"]["values"] == [2.0, 4.0]
    assert rest(echo, "/aggregate", {"seldonMessages": [{"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}},
                                                         {"data": {"tensor": {"shape": [1, 2], "values": [10, 20]}}}]})[
        "data"]["tensor"]["values"] == [11.0, 22.0]


def test_tritonclient_grpc(echo, triton_python):
    out = json.loads(run_client(triton_python, "triton_client_calls.py", echo.target, "Model"))
    assert (out["live"], out["ready"], out["model_ready"]) == (True, True, True)
    assert out["metadata_name"] == "Model"
    assert out["server_metadata"]["name"] == "modelpack"
    assert out["fp32"] == {"dtype": "float32", "shape": [1, 3], "values": [1.5, -2.0, 3.25], "id": "t-1"}
    assert out["bytes"] == {"shape": [3], "values": ["hello", "", "wörld"]}
    assert out["unknown_model"]["status"] == "StatusCode.NOT_FOUND"
    assert "nope" in out["unknown_model"]["message"]
    # REST V2 gives the same FP32 answer
    body = rest(echo, "/v2/models/Model/infer",
                {"inputs": [{"name": "x", "datatype": "FP32", "shape": [1, 3], "data": [1.5, -2.0, 3.25]}]})
    assert body["outputs"][0]["data"] == out["fp32"]["values"]
