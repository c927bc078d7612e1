"""KServe V1 and Open Inference V2 through a real DataPlane, per SERVICE_TYPE."""
from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from modelpack_runtime import v2_codec as v2
from modelpack_runtime.errors import MicroserviceError, NotFound, NotReady

from .conftest import RecordingSink


def infer(dp, doc: dict, name: str | None = None) -> dict:
    req = v2.decode_request(orjson.dumps(doc))
    resp = dp.v2_infer(name or dp.name, None, req)
    out, hlen = v2.encode_response(resp)
    assert hlen is None
    return json.loads(out)


def x_input(data: list, shape: list, datatype: str = "FP32", name: str = "x") -> dict:
    return {"name": name, "shape": shape, "datatype": datatype, "data": data}


def test_v1_predict_model(make_dp) -> None:
    dp = make_dp("full", "FullModel")
    out = dp.v1_predict("FullModel", {"instances": [[1, 2], [3, 4]]})
    assert json.loads(orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)) == {"predictions": [[2, 4], [6, 8]]}
    assert dp.v1_predict("FullModel", {"inputs": [[1.5]]})["predictions"].tolist() == [[3.0]]


def test_v1_result_kinds(make_dp, model_dir) -> None:
    d = model_dir("V1Kinds", (
        "import numpy as np\n"
        "class V1Kinds:\n"
        "    def predict(self, X, names, meta):\n"
        "        kind = meta.get('parameters', {}).get('kind')\n"
        "        return {'list': [1, 'a'], 'scalar': np.float32(0.5), 'str': 'yes', 'dict': {'k': 1},\n"
        "                'tuple': (1, 2), 'array0d': np.array(7)}[kind]\n"))
    dp = make_dp(d, "V1Kinds")
    for kind, expected in [("list", [1, "a"]), ("scalar", [0.5]), ("str", ["yes"]), ("dict", {"k": 1}),
                           ("tuple", [1, 2]), ("array0d", [7])]:
        assert dp.v1_predict("V1Kinds", {"instances": [1], "parameters": {"kind": kind}}) == {"predictions": expected}


@pytest.mark.parametrize("body, fragment", [
    ([1, 2], "must be a JSON object"),
    ({"data": [1]}, "needs 'instances' (or 'inputs'); got keys ['data']"),
    ({"instances": 5}, "'instances' must be a list"),
    ({"instances": [[1, 2], [3]]}, "instances is ragged"),
])
def test_v1_bad_requests(make_dp, body: object, fragment: str) -> None:
    with pytest.raises(MicroserviceError) as ei:
        make_dp("identity", "Identity").v1_predict("Identity", body)
    assert ei.value.status_code == 400 and fragment in ei.value.message


def test_v1_v2_unknown_name_is_404(make_dp) -> None:
    dp = make_dp("identity", "Identity")
    for call in (lambda: dp.v1_ready("other"), lambda: dp.v1_predict("other", {"instances": []}),
                 lambda: dp.v2_model_ready("other", None), lambda: dp.v2_model_metadata("other", None)):
        with pytest.raises(NotFound) as ei:
            call()
        assert ei.value.status_code == 404 and "'other' is not served here" in ei.value.message
    assert dp.v1_ready("Identity") == {"name": "Identity", "ready": True}


def test_model_name_setting(make_dp) -> None:
    dp = make_dp("identity", "Identity", model_name="my-model")
    assert dp.v1_ready("my-model")["ready"] and dp.v2_model_ready("my-model", "1")


def test_v2_single_input_identity(make_dp) -> None:
    dp = make_dp("identity", "Identity")
    out = infer(dp, {"id": "r1", "inputs": [x_input([1, 2, 3, 4], [2, 2])]})
    assert out == {"model_name": "Identity", "id": "r1",
                   "outputs": [{"name": "output-0", "datatype": "FP32", "shape": [2, 2], "data": [1.0, 2.0, 3.0, 4.0]}]}


def test_v2_meta_and_several_inputs(make_dp, model_dir) -> None:
    d = model_dir("Multi", (
        "class Multi:\n"
        "    def predict(self, X, names, meta):\n"
        "        self.seen = (sorted(X), names, meta)\n"
        "        return {'sum': X['a'] + X['b'], 'label': ['x', 'y']}\n"))
    dp = make_dp(d, "Multi")
    out = infer(dp, {"id": "7", "parameters": {"p": 1},
                     "inputs": [x_input([1, 2], [2], "INT32", "a"), x_input([10, 20], [2], "INT32", "b")]})
    assert out["outputs"] == [{"name": "sum", "datatype": "INT32", "shape": [2], "data": [11, 22]},
                              {"name": "label", "datatype": "BYTES", "shape": [2], "data": ["x", "y"]}]
    assert dp.model.obj.seen == (["a", "b"], ["a", "b"], {"parameters": {"p": 1}, "id": "7"})
    # requested outputs select and order dict keys
    out = infer(dp, {"inputs": [x_input([1], [1], "INT32", "a"), x_input([2], [1], "INT32", "b")],
                     "outputs": [{"name": "label"}]})
    assert [o["name"] for o in out["outputs"]] == ["label"]
    with pytest.raises(MicroserviceError, match=r"requested output\(s\) \['nope'\] not produced"):
        infer(dp, {"inputs": [x_input([1], [1], "INT32", "a"), x_input([2], [1], "INT32", "b")],
                   "outputs": [{"name": "nope"}]})


def test_v2_requested_output_names_single_array_and_binary(make_dp) -> None:
    dp = make_dp("identity", "Identity")
    req = v2.decode_request(orjson.dumps({"inputs": [x_input([1.5, 2.5], [2], "FP64")],
                                          "outputs": [{"name": "probs", "parameters": {"binary_data": True}}]}))
    resp = dp.v2_infer("Identity", "1", req)
    body, hlen = v2.encode_response(resp)
    head = json.loads(body[:hlen])
    assert head == {"model_name": "Identity", "model_version": "1", "outputs": [
        {"name": "probs", "datatype": "FP64", "shape": [2], "parameters": {"binary_data_size": 16}}]}
    assert np.frombuffer(body[hlen:], "<f8").tolist() == [1.5, 2.5]
    req2 = v2.decode_request(orjson.dumps({"inputs": [x_input([1.0], [1])], "outputs": [{"name": "a"}, {"name": "b"}]}))
    with pytest.raises(MicroserviceError, match="returns a single array"):
        dp.v2_infer("Identity", None, req2)


def test_v2_bytes_input_reaches_model_as_strings(make_dp) -> None:
    out = infer(make_dp("identity", "Identity"), {"inputs": [x_input(["hi", "there"], [2], "BYTES")]})
    assert out["outputs"][0] == {"name": "output-0", "datatype": "BYTES", "shape": [2], "data": ["hi", "there"]}


def test_service_types_pick_the_method(make_dp) -> None:
    tr = make_dp("transformer", "Transformer", service_type="TRANSFORMER")
    assert tr.v1_predict("Transformer", {"instances": [1, 2]})["predictions"].tolist() == [2, 3]
    od = make_dp("transformer", "Transformer", service_type="OUTLIER_DETECTOR")
    assert infer(od, {"inputs": [x_input([1], [1], "INT64")]})["outputs"][0]["data"] == [2]
    ident_tr = make_dp("identity", "Identity", service_type="TRANSFORMER")  # no transform_input: identity
    assert ident_tr.v1_predict("Identity", {"instances": [5]})["predictions"].tolist() == [5]
    rt = make_dp("router", "Router", service_type="ROUTER")
    assert rt.v1_predict("Router", {"instances": [[3.0]]})["predictions"].tolist() == [1]
    assert infer(rt, {"inputs": [x_input([-1.0], [1, 1])]})["outputs"][0] == \
        {"name": "output-0", "datatype": "INT64", "shape": [1], "data": [0]}
    cb = make_dp("combiner", "Combiner", service_type="COMBINER")
    for call in (lambda: cb.v1_predict("Combiner", {"instances": [1]}),
                 lambda: infer(cb, {"inputs": [x_input([1.0], [1])]})):
        with pytest.raises(MicroserviceError) as ei:
            call()
        assert ei.value.status_code == 400 and "/aggregate" in ei.value.message
    # every Seldon route stays served whatever SERVICE_TYPE says
    assert cb.seldon("predict", {"data": {"ndarray": [1]}})["data"]["ndarray"] == []
    assert rt.seldon("send-feedback", {"reward": 1})["meta"] == {}


def test_model_without_predict_explains(make_dp) -> None:
    dp = make_dp("transformer", "Transformer")  # SERVICE_TYPE MODEL but only transform hooks
    with pytest.raises(MicroserviceError, match=r"no predict\(X, names, meta\) method, which SERVICE_TYPE=MODEL"):
        dp.v1_predict("Transformer", {"instances": [1]})


def test_v1_v2_user_errors_and_custom_metrics(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("raising", "Raising")
    with pytest.raises(MicroserviceError) as ei:
        dp.v1_predict("Raising", {"instances": [1]})
    assert ei.value.status_code == 500 and ei.value.message == "the model cannot handle this input"
    full = make_dp("full", "FullModel", metrics=sink)
    infer(full, {"inputs": [x_input([1.0, 2.0], [1, 2])]})
    assert [m["key"] for m in sink.custom[0][0]] == ["full_predictions", "full_gauge"]
    assert sink.custom[0][1] == "predict"
    shim = make_dp("seldon_shim", "ShimModel", metrics=sink)
    out = infer(shim, {"inputs": [x_input([1.0], [1])]})  # SeldonResponse unwrapped
    assert out["outputs"][0]["data"] == [1.0] and sink.custom[-1][0][0]["key"] == "shim_ms"


def test_not_ready_v1_v2(make_dp) -> None:
    dp = make_dp("load_fails", "LoadFails")
    assert dp.v1_ready("LoadFails") == {"name": "LoadFails", "ready": False}
    assert dp.v2_model_ready("LoadFails", None) is False
    with pytest.raises(NotReady):
        dp.v1_predict("LoadFails", {"instances": [1]})
    with pytest.raises(NotReady):
        infer(dp, {"inputs": [x_input([1.0], [1])]})


def test_v2_metadata(make_dp) -> None:
    dp = make_dp("full", "FullModel")
    assert dp.v2_model_metadata("FullModel", None) == {
        "name": "FullModel", "versions": ["v1"], "platform": "numpy",
        "inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 2]}],
        "outputs": [{"name": "y", "datatype": "FP64", "shape": [1, 2]}]}
    sm = dp.v2_server_metadata()
    assert sm["name"] == "modelpack" and sm["extensions"] == ["binary_tensor_data"] and sm["version"]


def test_per_request_overhead_is_small(make_dp) -> None:
    """Data-plane cost of a 1x10 float predict (decode + identity + encode + orjson), best of 5.
    The target is well under 30 µs (measured ~6-13 µs on a 2-core machine)."""
    import time

    dp = make_dp("identity", "Identity")
    row = [0.1 * i for i in range(10)]
    seldon_body = orjson.dumps({"data": {"ndarray": [row]}})
    v2_body = orjson.dumps({"inputs": [x_input(row, [1, 10], "FP64")]})
    opt = orjson.OPT_SERIALIZE_NUMPY

    def seldon() -> None:
        orjson.dumps(dp.seldon("predict", orjson.loads(seldon_body)), option=opt)

    def v2_call() -> None:
        v2.encode_response(dp.v2_infer("Identity", None, v2.decode_request(v2_body)))

    for fn in (seldon, v2_call):
        best = float("inf")
        for _ in range(20):  # best of 20 rounds: other processes on a shared machine only add time
            start = time.perf_counter()
            for _ in range(200):
                fn()
            best = min(best, (time.perf_counter() - start) / 200)
        assert best < 30e-6, f"{fn.__name__}: {best * 1e6:.1f} µs per call"
