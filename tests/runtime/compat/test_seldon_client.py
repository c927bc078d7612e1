"""seldon-core 1.18.2's own SeldonClient (microservice REST mode) against a running modelpack server."""
from __future__ import annotations

import base64


def test_seldon_client_every_method(compat_server, seldon_python, client) -> None:
    out = client(seldon_python, "seldon_client.py", compat_server.http_port)
    for name, r in out.items():
        assert r["success"] is True and r["msg"] == "", (name, r)
        assert "meta" in r["response"], name
    assert out["predict-ndarray"]["response"]["data"] == {"names": ["t:0"], "ndarray": [[6.0]]}
    assert out["predict-tensor"]["response"]["data"] == {"names": ["t:0"], "tensor": {"shape": [1, 1], "values": [6.0]}}
    assert out["predict-str"]["response"]["strData"] == "hello"
    assert out["predict-json"]["response"]["jsonData"] == {"q": [1.0, 2.0]}
    assert base64.b64decode(out["predict-bin"]["response"]["binData"]) == b"\x00\x01binary"
    assert out["transform-input"]["response"]["data"]["ndarray"] == [[10.0, 20.0, 30.0]]
    assert out["transform-output"]["response"]["data"]["ndarray"] == [[0.0, 1.0, 2.0]]
    assert out["route"]["response"]["data"]["ndarray"] == [[2.0]]
    assert out["aggregate"]["response"]["data"]["ndarray"] == [[1.0, 2.0, 3.0]]
    assert out["send-feedback"]["response"]["data"] == {"ndarray": []}
