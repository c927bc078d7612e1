"""Every route and payload kind of the real server over loopback HTTP (one rowsum server per module)."""
from __future__ import annotations

import base64
import http.client
import json
import struct
from urllib.parse import quote

import requests

ND = {"data": {"ndarray": [[1.0, 2.0, 3.0]]}}
SUM = {"data": {"names": ["t:0"], "ndarray": [[6.0]]}}


def _meta_ok(body: dict) -> dict:
    assert "meta" in body  # Seldon: meta always present
    return {k: v for k, v in body.items() if k != "meta"}


def test_predict_json_body_on_every_predict_route(rowsum) -> None:
    for path in ("/predict", "/api/v1.0/predictions", "/api/v0.1/predictions"):
        r = requests.post(rowsum.url + path, json=ND)
        assert r.status_code == 200, (path, r.text)
        assert r.headers["content-type"] == "application/json"
        assert r.headers["access-control-allow-origin"] == "*"
        assert _meta_ok(r.json()) == SUM


def test_predict_tensor_keeps_tensor(rowsum) -> None:
    r = requests.post(rowsum.url + "/predict", json={"data": {"tensor": {"shape": [2, 2], "values": [1, 2, 3, 4]}},
                                                     "meta": {"puid": "abc"}})
    body = r.json()
    assert body["data"] == {"names": ["t:0"], "tensor": {"shape": [2, 1], "values": [3.0, 7.0]}}
    assert body["meta"]["puid"] == "abc"


def test_form_json_field_like_curl_d(rowsum) -> None:
    r = requests.post(rowsum.url + "/predict", data={"json": json.dumps(ND)})
    assert r.status_code == 200 and _meta_ok(r.json()) == SUM


def test_get_with_query_json(rowsum) -> None:
    for path in ("/predict", "/transform-input", "/transform-output", "/route"):
        r = requests.get(f"{rowsum.url}{path}?json={quote(json.dumps(ND))}")
        assert r.status_code == 200, (path, r.text)
    r = requests.get(f"{rowsum.url}/predict?json={quote(json.dumps(ND))}")
    assert _meta_ok(r.json()) == SUM


def test_get_without_json_is_400(rowsum) -> None:
    r = requests.get(rowsum.url + "/predict")
    assert r.status_code == 400
    assert "Can't find JSON" in r.json()["status"]["info"]


def test_multipart_fields_and_files(rowsum) -> None:
    # strData as a string field
    r = requests.post(rowsum.url + "/predict", files={"strData": (None, "hello")})
    assert r.status_code == 200 and r.json()["strData"] == "hello"
    # other fields are JSON
    r = requests.post(rowsum.url + "/predict", files={"data": (None, json.dumps(ND["data"]))})
    assert r.status_code == 200 and _meta_ok(r.json()) == SUM
    # the file binData is base64-encoded, so the model sees the raw bytes and returns them
    payload = bytes(range(256))
    r = requests.post(rowsum.url + "/predict", files={"binData": ("blob.bin", payload)})
    assert r.status_code == 200 and base64.b64decode(r.json()["binData"]) == payload
    # another file is read as UTF-8 text
    r = requests.post(rowsum.url + "/predict", files={"strData": ("t.txt", "héllo".encode())})
    assert r.status_code == 200 and r.json()["strData"] == "héllo"


def test_multipart_bad_json_field_is_400(rowsum) -> None:
    r = requests.post(rowsum.url + "/predict", files={"data": (None, "{nope")})
    assert r.status_code == 400
    assert "multipart field 'data'" in r.json()["status"]["info"]


def test_transform_route_aggregate_feedback(rowsum) -> None:
    u = rowsum.url
    assert _meta_ok(requests.post(u + "/transform-input", json=ND).json())["data"]["ndarray"] == [[2.0, 4.0, 6.0]]
    assert _meta_ok(requests.post(u + "/transform-output", json=ND).json())["data"]["ndarray"] == [[2.0, 3.0, 4.0]]
    assert _meta_ok(requests.post(u + "/route", json=ND).json())["data"]["ndarray"] == [[1]]
    agg = requests.post(u + "/aggregate", json={"seldonMessages": [{"data": {"ndarray": [[1, 2]]}},
                                                                  {"data": {"ndarray": [[3]]}}]})
    assert agg.status_code == 200 and agg.json()["data"]["ndarray"] == [3, 3]
    fb = {"request": ND, "response": SUM, "reward": 1.0}
    for path in ("/send-feedback", "/api/v1.0/feedback", "/api/v0.1/feedback"):
        r = requests.post(u + path, json=fb)
        assert r.status_code == 200, (path, r.text)
        assert r.json()["data"]["ndarray"] == []


def test_health_metadata_openapi(rowsum) -> None:
    u = rowsum.url
    r = requests.get(u + "/health/ping")
    assert (r.status_code, r.text, r.headers["content-type"].split(";")[0]) == (200, "pong", "text/html")
    for path in ("/health/status", "/api/v1.0/health/status"):
        assert requests.get(u + path).json() == {"strData": "healthy", "meta": {}}
    for path in ("/metadata", "/api/v1.0/metadata"):
        md = requests.get(u + path).json()
        assert set(md) >= {"name", "versions", "platform", "inputs", "outputs"}
    doc = requests.get(u + "/seldon.json").json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/predict", "/send-feedback", "/transform-input", "/transform-output", "/route",
                                 "/aggregate"}


def test_kserve_v1(rowsum) -> None:
    u = rowsum.url
    assert requests.get(u + "/v1/models").json() == {"models": ["Model"]}
    assert requests.get(u + "/v1/models/Model").json() == {"name": "Model", "ready": True}
    r = requests.post(u + "/v1/models/Model:predict", json={"instances": [[1, 2], [3, 4]]})
    assert r.status_code == 200 and r.json() == {"predictions": [[3.0], [7.0]]}
    r = requests.post(u + "/v1/models/Other:predict", json={"instances": [[1]]})
    assert r.status_code == 404 and "Other" in r.json()["error"]
    r = requests.post(u + "/v1/models/Model:predict", data=b"")
    assert r.status_code == 400 and "Empty request body" in r.json()["error"]
    r = requests.post(u + "/v1/models/Model:predict", data=b"[1,2]")
    assert r.status_code == 400 and "must be a JSON object" in r.json()["error"]


def test_v2_health_metadata_ready(rowsum) -> None:
    u = rowsum.url
    assert requests.get(u + "/v2/health/live").status_code == 200
    assert requests.get(u + "/v2/health/ready").status_code == 200
    assert "name" in requests.get(u + "/v2").json()
    assert requests.get(u + "/v2/models/Model").json()["name"] == "Model"
    assert requests.get(u + "/v2/models/Model/ready").status_code == 200
    r = requests.get(u + "/v2/models/Nope")
    assert r.status_code == 404 and "Nope" in r.json()["error"]


def test_v2_infer_json_and_binary(rowsum) -> None:
    u = rowsum.url
    req = {"inputs": [{"name": "x", "shape": [2, 2], "datatype": "FP32", "data": [1, 2, 3, 4]}]}
    for path in ("/v2/models/Model/infer", "/v2/models/Model/versions/1/infer"):
        r = requests.post(u + path, json=req)
        assert r.status_code == 200, (path, r.text)
        out = r.json()["outputs"][0]
        assert (out["shape"], out["data"]) == ([2, 1], [3.0, 7.0])
    # binary request and binary response (the binary tensor extension)
    head = json.dumps({"inputs": [{"name": "x", "shape": [1, 3], "datatype": "FP32",
                                   "parameters": {"binary_data_size": 12}}],
                       "outputs": [{"name": "output-0", "parameters": {"binary_data": True}}]}).encode()
    r = requests.post(u + "/v2/models/Model/infer", data=head + struct.pack("<3f", 1, 2, 3),
                      headers={"Inference-Header-Content-Length": str(len(head)),
                               "Content-Type": "application/octet-stream"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/octet-stream"
    n = int(r.headers["inference-header-content-length"])
    meta = json.loads(r.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 4
    assert struct.unpack("<f", r.content[n:]) == (6.0,)


def test_v2_bad_requests(rowsum) -> None:
    u = rowsum.url + "/v2/models/Model/infer"
    r = requests.post(u, data=b"")
    assert r.status_code == 400 and "Empty request body" in r.json()["error"]
    r = requests.post(u, data=b'{"inputs": [')
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    r = requests.post(u, data=b"{}", headers={"Inference-Header-Content-Length": "abc"})
    assert r.status_code == 400 and "Inference-Header-Content-Length" in r.json()["error"]
    r = requests.post(u, json={"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [1, 2, 3]}]})
    assert r.status_code == 400


def test_malformed_json_says_where(rowsum) -> None:
    r = requests.post(rowsum.url + "/predict", data=b'{"data": {"ndarray": [[1, 2]}',
                      headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    st = r.json()["status"]
    assert (st["status"], st["code"], st["reason"]) == (1, -1, "MICROSERVICE_BAD_DATA")
    assert "Invalid JSON in the request body" in st["info"] and "column" in st["info"]


def test_bad_payloads_are_400(rowsum) -> None:
    u = rowsum.url + "/predict"
    r = requests.post(u, json={"data": {"ndarray": [[1, 2], [3]]}})  # ragged
    assert r.status_code == 400 and "ragged" in r.json()["status"]["info"]
    r = requests.post(u, json={"nothing": 1})
    assert r.status_code == 400
    r = requests.post(u, json=[1, 2])
    assert r.status_code == 400
    r = requests.post(u, json={"data": {"tensor": {"shape": [3], "values": [1, 2]}}})  # shape/values mismatch
    assert r.status_code == 400 and r.json()["status"]["reason"] == "MICROSERVICE_BAD_DATA"
    r = requests.post(u, json={"data": {"tensor": {"shape": "x", "values": [1]}}})  # wrong type
    assert r.status_code == 400
    r = requests.post(u, json={"data": "not an object"})
    assert r.status_code == 400
    r = requests.post(u, data=b"", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "empty" in r.json()["status"]["info"]


def test_user_exception_is_500_and_worker_keeps_serving(rowsum) -> None:
    r = requests.post(rowsum.url + "/predict", json={"data": {"ndarray": [["boom"]]}})
    assert r.status_code == 500
    st = r.json()["status"]
    assert (st["reason"], st["info"]) == ("MICROSERVICE_INTERNAL_ERROR", "user code raised on purpose")
    assert requests.post(rowsum.url + "/predict", json=ND).status_code == 200


def test_unknown_route_and_wrong_method(rowsum) -> None:
    r = requests.get(rowsum.url + "/nope")
    assert r.status_code == 404 and r.json()["status"]["code"] == -1
    r = requests.get(rowsum.url + "/v2/nope/deeper")
    assert r.status_code == 404 and "error" in r.json()
    r = requests.delete(rowsum.url + "/predict")
    assert r.status_code == 405 and r.headers["allow"] == "GET,POST"
    r = requests.get(rowsum.url + "/api/v1.0/predictions")
    assert r.status_code == 405
    r = requests.post(rowsum.url + "/v1/models/Model")
    assert r.status_code == 405 and "error" in r.json()


def test_cors_preflight(rowsum) -> None:
    r = requests.options(rowsum.url + "/predict", headers={"Origin": "http://x", "Access-Control-Request-Method":
                                                           "POST", "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == "*"
    assert "POST" in r.headers["access-control-allow-methods"]
    assert r.headers["access-control-allow-headers"] == "content-type"


def test_keep_alive_many_requests_on_one_connection(rowsum) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", rowsum.http_port, timeout=5)
    conn.connect()
    sock = conn.sock
    for i in range(20):
        conn.request("POST", "/predict", body=json.dumps({"data": {"ndarray": [[i, 1]]}}),
                     headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read())["data"]["ndarray"] == [[i + 1.0]]
        assert conn.sock is sock  # the same socket: the connection was kept alive
    conn.close()


def test_oversized_content_length_is_413_without_reading(rowsum) -> None:
    # Claim 1 GiB, send a few bytes: the server must answer at once (it never waits for the body).
    conn = http.client.HTTPConnection("127.0.0.1", rowsum.http_port, timeout=5)
    conn.putrequest("POST", "/predict")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(1 << 30))
    conn.endheaders(b'{"data":')
    resp = conn.getresponse()
    assert resp.status == 413
    body = json.loads(resp.read())
    assert "larger than the limit" in body["status"]["info"] and "--max-body-size" in body["status"]["info"]
    assert resp.getheader("connection") == "close"
    conn.close()


def test_large_json_bodies_answer_as_small_ones_do(rowsum) -> None:
    # 400x50 bodies (over fastjson.LARGE): the simdjson path when pysimdjson is installed
    x = [[(i * 50 + j) % 97 / 8 - 3.0 for j in range(50)] for i in range(400)]
    sums = [sum(row) for row in x]
    r = requests.post(rowsum.url + "/api/v1.0/predictions", json={"data": {"names": [], "ndarray": x}})
    assert r.status_code == 200, r.text
    assert [v[0] for v in r.json()["data"]["ndarray"]] == sums
    ints = [[i * 50 + j for j in range(50)] for i in range(400)]  # all integers: int64, as np.array gives
    r = requests.post(rowsum.url + "/transform-input", json={"data": {"ndarray": ints}})  # X * 2
    assert r.json()["data"]["ndarray"] == [[2 * v for v in row] for row in ints]
    assert all(type(v) is int for row in r.json()["data"]["ndarray"] for v in row)
    r = requests.post(rowsum.url + "/v1/models/Model:predict", json={"instances": x})
    assert [v[0] for v in r.json()["predictions"]] == sums
    flat = [v for row in x for v in row]
    r = requests.post(rowsum.url + "/v2/models/Model/infer", json={
        "inputs": [{"name": "x", "shape": [400, 50], "datatype": "FP64", "data": flat}]})
    assert r.json()["outputs"][0]["data"] == sums
    # ragged and nested large bodies: the same 400 as a small one
    ragged = x[:-1] + [x[-1][:-1]]
    r = requests.post(rowsum.url + "/api/v1.0/predictions", json={"data": {"ndarray": ragged}})
    assert r.status_code == 400 and "ragged" in r.json()["status"]["info"]
    r = requests.post(rowsum.url + "/v2/models/Model/infer", json={
        "inputs": [{"name": "x", "shape": [400, 50], "datatype": "FP32", "data": flat[:-1] + [[1.0]]}]})
    assert r.status_code == 400 and "ragged" in r.json()["error"]
