"""Readiness, failed load, timeouts, body limits, passthrough, graceful shutdown, restarts."""
from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import requests

ND = {"data": {"ndarray": [[1.0, 2.0]]}}


def test_not_ready_while_loading_then_ready(start, tmp_path) -> None:
    hold = tmp_path / "hold"
    hold.write_text("x")
    s = start("slowload", env={"HOLD_LOAD_FILE": str(hold)}, ready=False)
    for path in ("/health/ping", "/v2/health/ready", "/v2/models/Model/ready"):
        r = requests.get(s.url + path)
        assert r.status_code == 503, (path, r.text)
    assert requests.get(s.url + "/v2/health/live").status_code == 200  # alive while loading
    r = requests.post(s.url + "/predict", json=ND)
    assert r.status_code == 503 and "not ready" in r.json()["status"]["info"]
    hold.unlink()
    s.wait_up("/health/ping")
    assert requests.get(s.url + "/v2/models/Model/ready").status_code == 200
    assert requests.post(s.url + "/predict", json=ND).status_code == 200


def test_failed_load_is_visible_and_does_not_crash_loop(start) -> None:
    s = start("badload", ready=False)
    time.sleep(1.0)
    for path in ("/health/ping", "/v2/health/ready", "/v2/models/Model/ready", "/health/status"):
        r = requests.get(s.url + path)
        assert r.status_code == 503, (path, r.text)
        assert "weights file /models/missing.bin not found" in r.text, (path, r.text)
    r = requests.post(s.url + "/v1/models/Model:predict", json={"instances": [[1]]})
    assert r.status_code == 503 and "missing.bin" in r.json()["error"]
    assert s.proc.poll() is None
    log = s.output()
    assert log.count("model NOT ready") == 1, log  # logged once, no restart loop
    assert "restarting" not in log


def test_request_timeout_is_504_and_server_keeps_serving(start) -> None:
    s = start("slow", "--request-timeout", "1", "--threads", "2")
    t0 = time.monotonic()
    r = requests.post(s.url + "/predict", json={"data": {"ndarray": [[3.0]]}})
    assert r.status_code == 504 and time.monotonic() - t0 < 2.5
    st = r.json()["status"]
    assert "request timeout of 1 s" in st["info"] and st["reason"] == "MICROSERVICE_TIMEOUT"
    r = requests.post(s.url + "/predict", json={"data": {"ndarray": [[0.0]]}})
    assert r.status_code == 200


def test_chunked_body_over_limit_is_413(start) -> None:
    s = start("rowsum", "--max-body-size", "1000")
    assert requests.post(s.url + "/predict", json=ND).status_code == 200

    def chunks():
        for _ in range(10):
            yield b" " * 300

    r = requests.post(s.url + "/predict", data=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "larger than the limit of 1000 bytes" in r.json()["status"]["info"]
    assert requests.post(s.url + "/predict", json=ND).status_code == 200


def test_payload_passthrough_on_predict_routes_only(start) -> None:
    s = start("passthrough", env={"PAYLOAD_PASSTHROUGH": "true"})
    raw = b"not json at all"
    r = requests.post(s.url + "/predict", data=raw)
    assert r.status_code == 200 and r.json() == {"echo": len(raw), "kind": "raw"}
    assert r.headers["content-type"] == "application/json"
    r = requests.post(s.url + "/api/v1.0/predictions", data={"json": "abc"})  # the json= string, undecoded
    assert r.json() == {"echo": 3, "kind": "raw"}
    r = requests.post(s.url + "/predict", files={"strData": (None, "x"), "binData": ("b", b"\x00")})
    assert r.json() == {"fields": ["binData", "strData"], "kind": "multipart"}
    r = requests.post(s.url + "/transform-input", data=raw)  # not a predict route: JSON is required
    assert r.status_code == 400 and "Invalid JSON" in r.json()["status"]["info"]


def test_sigterm_finishes_in_flight_request_then_exits_0(start) -> None:
    s = start("slow", "--graceful-timeout", "10", "--threads", "2")
    result: dict = {}

    def slow_call() -> None:
        result["r"] = requests.post(s.url + "/predict", json={"data": {"ndarray": [[2.0]]}}, timeout=20)

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.5)  # the request is in flight
    s.proc.send_signal(signal.SIGTERM)
    t.join(20)
    assert result["r"].status_code == 200 and result["r"].json()["data"]["ndarray"] == [[2.0]]
    assert s.proc.wait(20) == 0
    # after shutdown nobody listens any more
    try:
        requests.get(s.url + "/health/ping", timeout=1)
        raise AssertionError("server still answers after SIGTERM")
    except requests.ConnectionError:
        pass


def test_dead_worker_is_restarted(start) -> None:
    s = start("rowsum")
    pid = requests.post(s.url + "/predict", json=ND).json()["meta"]["tags"]["worker"]
    os.kill(int(pid), signal.SIGKILL)
    deadline = time.monotonic() + 15
    new = None
    while time.monotonic() < deadline:
        try:
            r = requests.post(s.url + "/predict", json=ND, timeout=2)
            if r.status_code == 200:
                new = r.json()["meta"]["tags"]["worker"]
                break
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    assert new is not None and new != pid, s.output()
    assert "restarting in" in s.output()


def test_pidfile_written_and_removed(start, tmp_path) -> None:
    pidfile = tmp_path / "mp.pid"
    s = start("rowsum", "--pidfile", str(pidfile))
    assert int(pidfile.read_text()) == s.proc.pid
    assert s.stop() == 0
    assert not pidfile.exists()


def test_max_requests_recycles_worker(start) -> None:
    s = start("rowsum", "--max-requests", "5")
    pids = set()
    for _ in range(12):
        conn = http.client.HTTPConnection("127.0.0.1", s.http_port, timeout=5)
        for _ in range(30):  # a recycling worker may refuse briefly; retry
            try:
                conn.request("POST", "/predict", body=json.dumps(ND), headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                pids.add(json.loads(resp.read())["meta"]["tags"]["worker"])
                break
            except (ConnectionError, http.client.HTTPException):
                conn.close()
                time.sleep(0.1)
        conn.close()
        time.sleep(0.15)  # uvicorn checks the request limit every 0.1 s
    assert len(pids) >= 2, s.output()


def test_access_log_lines_and_metrics_filter(start) -> None:
    s = start("rowsum", "--access-log")
    requests.post(s.url + "/predict", json=ND)
    requests.get(s.metrics_url)
    time.sleep(0.3)
    out = s.output()
    assert '"POST /predict HTTP/1.1" 200' in out, out
    assert '"GET /metrics"' not in out  # FILTER_METRICS_ACCESS_LOGS is on by default
    s2 = start("rowsum", "--access-log", env={"FILTER_METRICS_ACCESS_LOGS": "false"})
    requests.get(s2.metrics_url)
    time.sleep(0.3)
    assert '"GET /metrics" 200' in s2.output()


def test_no_access_log_by_default(start) -> None:
    s = start("rowsum")
    requests.post(s.url + "/predict", json=ND)
    time.sleep(0.3)
    assert "POST /predict" not in s.output()


def test_port_in_use_is_one_clear_line(tmp_path) -> None:
    import socket
    import subprocess
    import sys

    from .conftest import MODELS, REPO, free_port

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        for flag, extra in (("--http-port", ()), ("--grpc-port", ("--http-port", str(free_port())))):
            r = subprocess.run([sys.executable, "-m", "modelpack_runtime", "Model", "--host", "127.0.0.1", flag,
                                str(port), "--metrics-port", str(free_port()), *extra],
                               cwd=MODELS / "rowsum", capture_output=True, text=True, timeout=30,
                               env={**os.environ, "PYTHONPATH": str(REPO)})
            assert r.returncode == 1, (flag, r.stderr)
            last = r.stderr.strip().splitlines()[-1]
            assert last.startswith("modelpack-microservice: error: cannot") and str(port) in last, (flag, last)
