"""Nothing a client sends takes a worker down: random bodies, content types and paths."""
from __future__ import annotations

import random

import requests

PATHS = ["/predict", "/api/v1.0/predictions", "/send-feedback", "/transform-input", "/route", "/aggregate",
         "/v1/models/Model:predict", "/v2/models/Model/infer", "/v2/models/Model/versions/x/infer"]
CTYPES = ["application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xx",
          "multipart/form-data", "text/plain", "application/octet-stream"]
SNIPPETS = [b'{"data":', b'{"data":{"ndarray":[[1,"a",null]]}}', b"json=%7B%7D", b"--xx\r\n", b"\xff\xfe\x00",
            b'{"inputs":[{"name":"x","shape":[-1],"datatype":"FP32","data":[1]}]}', b"[[[[[[[[[[",
            b'{"seldonMessages":[1,2]}', b'{"request":{"data":{"tensor":{"shape":[1e9],"values":[]}}}}',
            b'Content-Disposition: form-data; name="binData"; filename="a"\r\n\r\nabc\r\n--xx--\r\n']


def test_random_requests_get_error_answers_and_the_worker_survives(start) -> None:
    s = start("rowsum")
    pid = requests.post(s.url + "/predict", json={"data": {"ndarray": [[1]]}}).json()["meta"]["tags"]["worker"]
    rnd = random.Random(1234)
    statuses = set()
    for _ in range(300):
        body = b"".join(rnd.choice(SNIPPETS) for _ in range(rnd.randint(0, 3)))
        if rnd.random() < 0.3:
            body += bytes(rnd.getrandbits(8) for _ in range(rnd.randint(0, 64)))
        headers = {"Content-Type": rnd.choice(CTYPES)}
        if rnd.random() < 0.2:
            headers["Inference-Header-Content-Length"] = str(rnd.randint(-5, 200))
        r = requests.post(s.url + rnd.choice(PATHS), data=body, headers=headers, timeout=10)
        statuses.add(r.status_code)
        assert r.status_code < 500 or r.status_code in (500, 503), r.text
        assert r.headers["content-type"] in ("application/json", "application/octet-stream")
        if r.status_code >= 400:
            body_obj = r.json()
            assert "error" in body_obj or body_obj["status"]["status"] == 1
    assert statuses & {400}
    assert requests.post(s.url + "/predict", json={"data": {"ndarray": [[1]]}}).json()["meta"]["tags"]["worker"] == pid
    assert "restarting" not in s.output()
