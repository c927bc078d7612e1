"""Triton's tritonclient[http] 2.73.0 (Open Inference V2, binary tensor extension) against modelpack."""
from __future__ import annotations


def test_tritonclient_health_metadata_infer(compat_server, triton_python, client) -> None:
    out = client(triton_python, "triton_client.py", compat_server.http_port)
    assert (out["live"], out["ready"], out["model_ready"], out["unknown_ready"]) == (True, True, True, False)
    assert "binary_tensor_data" in out["server_metadata"]["extensions"]
    assert out["model_metadata"]["name"] == "Model"
    for binary in (False, True):
        fp = out[f"fp32-binary-{binary}"]
        assert (fp["dtype"], fp["shape"], fp["values"]) == ("float32", [2, 1], [[6.0], [15.5]])
        o = fp["response"]["outputs"][0]
        if binary:  # the output came back in the binary part, not as JSON data
            assert "data" not in o and o["parameters"]["binary_data_size"] == 8
        else:
            assert o["data"] == [6.0, 15.5]
        bs = out[f"bytes-binary-{binary}"]
        assert (bs["shape"], bs["values"]) == ([1, 2], ["AB", "CD"])
    err = out["unknown_infer"]
    assert err["status"] == "404" and "NoSuchModel" in err["message"]
