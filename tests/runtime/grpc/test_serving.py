"""How gRPC is served: one loaded model shared with REST per worker, GRPC_WORKERS=0, message
size limits, metrics in the same Prometheus output, graceful shutdown."""
from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import grpc
import pytest
import requests
from google.protobuf import struct_pb2

from modelpack_runtime.grpc.gen import prediction_pb2 as pb
from modelpack_runtime.grpc.gen import prediction_pb2_grpc as pb_grpc


def pid_over_grpc(server) -> int:
    # a fresh, unshared connection each time, so SO_REUSEPORT can pick any gRPC process
    ch = grpc.insecure_channel(server.target, options=[("grpc.use_local_subchannel_pool", 1)])
    try:
        j = struct_pb2.Value()
        j.struct_value.update({"pid": True})
        resp = pb_grpc.ModelStub(ch).Predict(pb.SeldonMessage(jsonData=j), timeout=10)
        return int(resp.jsonData.struct_value["pid"])
    finally:
        ch.close()


def pid_over_rest(server) -> int:
    r = requests.post(server.url + "/predict", json={"jsonData": {"pid": True}},
                      headers={"Connection": "close"}, timeout=10)
    assert r.status_code == 200, r.text
    return int(r.json()["jsonData"]["pid"])


@pytest.mark.slow
def test_rest_and_grpc_share_one_loaded_model_per_worker(start, tmp_path: Path):
    loads = tmp_path / "loads.txt"
    server = start("echo", "--workers", "2", "--grpc-workers", "2", env={"LOAD_LOG": str(loads)})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(loads.read_text().split()) < 2:
        time.sleep(0.1)
    load_pids = loads.read_text().split()
    # Seldon would load 4 times (2 gunicorn workers + 2 gRPC processes); we load once per worker
    assert len(load_pids) == 2, load_pids
    loaded = {int(p) for p in load_pids}
    # The kernel spreads new connections over the two listening workers at random, and may give
    # a long run of them to one worker: call until both have answered on both protocols (bounded).
    grpc_pids: set[int] = set()
    rest_pids: set[int] = set()
    deadline = time.monotonic() + 30
    while (grpc_pids != loaded or rest_pids != loaded) and time.monotonic() < deadline:
        grpc_pids.add(pid_over_grpc(server))
        rest_pids.add(pid_over_rest(server))
        # every process that answers, on either protocol, is one that loaded the model
        assert grpc_pids | rest_pids <= loaded, (grpc_pids, rest_pids, loaded)
    assert grpc_pids == loaded, (grpc_pids, load_pids)
    assert rest_pids == loaded, (rest_pids, load_pids)
    assert len(loads.read_text().split()) == 2  # serving never triggered another load()


def test_grpc_workers_zero_turns_grpc_off(start):
    server = start("echo", "--grpc-workers", "0", grpc_too=False)
    assert requests.post(server.url + "/predict", json={"strData": "rest"}, timeout=10).json()["strData"] == "rest"
    ch = server.channel()
    with pytest.raises(grpc.FutureTimeoutError):
        grpc.channel_ready_future(ch).result(timeout=2)
    assert "gRPC listening" not in server.output()


def test_oversized_message_is_resource_exhausted(start, tmp_path: Path):
    annotations = tmp_path / "annotations"
    annotations.write_text('seldon.io/grpc-max-message-size="4096"\n')
    server = start("echo", env={"MODELPACK_PODINFO_ANNOTATIONS": str(annotations)})
    stub = server.seldon("Model")
    assert stub.Predict(pb.SeldonMessage(strData="x" * 1000), timeout=10).strData == "x" * 1000
    with pytest.raises(grpc.RpcError) as info:
        stub.Predict(pb.SeldonMessage(strData="x" * 8000), timeout=10)
    assert info.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "4096" in info.value.details()
    # the env var wins over the annotation
    server2 = start("echo", env={"MODELPACK_PODINFO_ANNOTATIONS": str(annotations), "GRPC_MAX_MESSAGE_SIZE": "20000"})
    assert server2.seldon("Model").Predict(pb.SeldonMessage(strData="x" * 8000), timeout=10).strData == "x" * 8000


def test_grpc_requests_are_counted_by_protocol_in_the_same_metrics(start):
    server = start("echo")
    stub = server.seldon("Model")
    stub.Predict(pb.SeldonMessage(strData="ok"), timeout=10)
    with pytest.raises(grpc.RpcError):
        stub.Predict(pb.SeldonMessage(), timeout=10)
    requests.post(server.url + "/predict", json={"strData": "rest"}, timeout=10)
    # the HTTP server records its sample after the response is sent: wait for it to land
    deadline = time.monotonic() + 10
    text = requests.get(server.metrics_url, timeout=10).text
    while 'protocol="seldon"' not in text and time.monotonic() < deadline:
        time.sleep(0.1)
        text = requests.get(server.metrics_url, timeout=10).text
    assert ('modelpack_requests_total{protocol="grpc-seldon",route="/seldon.protos.Model/Predict",status="OK"} 1.0'
            in text)
    assert ('modelpack_requests_total{protocol="grpc-seldon",route="/seldon.protos.Model/Predict",'
            'status="INVALID_ARGUMENT"} 1.0' in text)
    assert 'modelpack_request_duration_seconds_count{protocol="grpc-seldon",route="/seldon.protos.Model/Predict"} 2.0' \
        in text
    assert 'protocol="seldon"' in text  # REST in the same exposition


def test_graceful_shutdown_finishes_in_flight_grpc_call(start):
    server = start("echo", "--grpc-threads", "2")
    stub = server.seldon("Model")
    result: dict = {}

    def call() -> None:
        try:
            result["answer"] = stub.Predict(pb.SeldonMessage(strData="sleep 1.5"), timeout=20).strData
        except grpc.RpcError as e:  # recorded, asserted below
            result["error"] = e

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)
    server.proc.send_signal(signal.SIGTERM)
    t.join(20)
    assert result.get("answer") == "slept", result.get("error")
    assert server.proc.wait(30) == 0, server.output()


@pytest.mark.slow
def test_grpc_workers_1_of_2_serves_grpc_from_one_worker_without_extra_loads(start, tmp_path: Path):
    loads = tmp_path / "loads.txt"
    server = start("echo", "--workers", "2", "--grpc-workers", "1", env={"LOAD_LOG": str(loads)})
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(loads.read_text().split()) < 2:
        time.sleep(0.1)
    grpc_pids = {pid_over_grpc(server) for _ in range(20)}
    load_pids = {int(p) for p in loads.read_text().split()}
    assert len(load_pids) == 2, load_pids
    assert len(grpc_pids) == 1 and grpc_pids <= load_pids, (grpc_pids, load_pids)


def test_without_grpcio_rest_still_serves(start):
    from .conftest import HERE, REPO

    server = start("echo", env={"PYTHONPATH": f"{HERE / 'no_grpc'}:{REPO}"}, grpc_too=False)
    assert requests.post(server.url + "/predict", json={"strData": "rest"}, timeout=10).json()["strData"] == "rest"
    out = server.output()
    assert "gRPC is off" in out and "grpc" in out and "GRPC_WORKERS=0" in out
    assert "gRPC listening" not in out


def test_grpc_threads_run_calls_in_parallel(start):
    server = start("echo", "--grpc-threads", "2")
    stub = server.seldon("Model")
    t0 = time.monotonic()
    futures = [stub.Predict.future(pb.SeldonMessage(strData="sleep 1"), timeout=20) for _ in range(2)]
    assert [f.result().strData for f in futures] == ["slept", "slept"]
    assert time.monotonic() - t0 < 1.8  # two 1 s calls overlapped on 2 threads
