"""The Seldon protocol through a real DataPlane over the fixture models."""
from __future__ import annotations

import json

import numpy as np
import orjson
import pytest

from modelpack_runtime import seldon_codec
from modelpack_runtime.errors import MicroserviceError, NotFound, NotReady, seldon_error_body

from .conftest import RecordingSink


def wire(obj: object) -> object:
    return json.loads(orjson.dumps(obj, option=orjson.OPT_SERIALIZE_NUMPY, default=seldon_codec.json_default))


# C.8 examples, exactly as the contract writes them
C8_EXAMPLES = [
    ('{"data":{"names":["a","b"],"ndarray":[[1.0,2.0]]}}',
     '{"data":{"names":["t:0","t:1"],"ndarray":[[1.0,2.0]]},"meta":{}}'),
    ('{"data":{"tensor":{"shape":[1,2],"values":[1,2]}},"meta":{"puid":"x"}}',
     '{"data":{"names":["t:0","t:1"],"tensor":{"shape":[1,2],"values":[1,2]}},"meta":{"puid":"x"}}'),
    ('{"jsonData":{"q":"hi"}}', '{"jsonData":{"q":"hi"},"meta":{}}'),
    ('{"strData":"hello"}', '{"strData":"hello","meta":{}}'),
]


@pytest.mark.parametrize("request_body, response_body", C8_EXAMPLES)
def test_c8_identity_examples(make_dp, request_body: str, response_body: str) -> None:
    dp = make_dp("identity", "Identity")
    out = dp.seldon("predict", json.loads(request_body))
    assert wire(out) == json.loads(response_body)


def test_c8_dict_and_str_results(make_dp, model_dir) -> None:
    d = model_dir("C8Results", (
        "class C8Results:\n"
        "    def predict(self, X, names):\n"
        "        return {'a': 1} if isinstance(X, dict) else X.upper()\n"))
    dp = make_dp(d, "C8Results")
    assert wire(dp.seldon("predict", {"jsonData": {"q": "hi"}})) == {"jsonData": {"a": 1}, "meta": {}}
    assert wire(dp.seldon("predict", {"strData": "hello"})) == {"strData": "HELLO", "meta": {}}


def test_c8_route_example(make_dp) -> None:
    dp = make_dp("router", "Router", service_type="ROUTER")
    assert wire(dp.seldon("route", {"data": {"ndarray": [[5.0]]}})) == \
        {"data": {"names": ["t:0"], "ndarray": [[1]]}, "meta": {}}
    assert wire(dp.seldon("route", {"data": {"tensor": {"shape": [1, 1], "values": [-5.0]}}})) == \
        {"data": {"names": ["t:0"], "tensor": {"shape": [1, 1], "values": [0]}}, "meta": {}}


def test_full_model_meta_tags_metrics_requestpath_and_class_names(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("full", "FullModel", metrics=sink, predictive_unit_id="clf", predictive_unit_image="repo/clf:2")
    assert dp.model.obj.loaded == 1
    req = {"data": {"ndarray": [[1, 2]]},
           "meta": {"puid": "abc", "tags": {"req": "t"}, "requestPath": {"up": "u:1"},
                    "metrics": [{"type": "COUNTER", "key": "upstream", "value": 3}]}}
    out = wire(dp.seldon("predict", req))
    assert out == {
        "data": {"names": ["a", "b"], "ndarray": [[2, 4]]},
        "meta": {
            "puid": "abc",
            "tags": {"req": "t", "model": "full"},
            "metrics": [{"type": "COUNTER", "key": "upstream", "value": 3},
                        {"type": "COUNTER", "key": "full_predictions", "value": 1},
                        {"type": "GAUGE", "key": "full_gauge", "value": 2.5, "tags": {"kind": "test"}}],
            "requestPath": {"up": "u:1", "clf": "repo/clf:2"},
        },
    }
    assert sink.custom == [([{"type": "COUNTER", "key": "full_predictions", "value": 1},
                             {"type": "GAUGE", "key": "full_gauge", "value": 2.5, "tags": {"kind": "test"}}],
                            "predict")]


def test_include_metrics_false_records_but_does_not_echo(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("full", "FullModel", metrics=sink, include_metrics_in_response=False)
    out = dp.seldon("predict", {"data": {"ndarray": [[1, 2]]}})
    assert "metrics" not in out["meta"] and len(sink.custom) == 1


def test_health_checks_do_not_call_metrics_or_tags(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("full", "FullModel", metrics=sink)
    calls = []
    dp.model.metrics = lambda: calls.append("metrics") or []
    dp.model.tags = lambda: calls.append("tags") or {}
    out = wire(dp.seldon_health_status())
    assert out == {"data": {"names": [], "tensor": {"shape": [1], "values": [0.123]}}, "meta": {}}
    assert calls == [] and sink.custom == []


def test_health_defaults(make_dp, model_dir) -> None:
    assert make_dp("identity", "Identity").seldon_health_status() == {"strData": "healthy", "meta": {}}
    # a SeldonComponent that does not override health_status: Seldon's "not implemented" answer
    assert make_dp("seldon_shim", "ShimModel").seldon_health_status() == \
        {"strData": "not implemented - assuming healthy", "meta": {}}
    d = model_dir("HealthRaw", "class HealthRaw:\n    def health_status_raw(self):\n        return {'ok': 1}\n")
    assert make_dp(d, "HealthRaw").seldon_health_status() == {"ok": 1}


def test_transformer_hooks_and_identity_defaults(make_dp) -> None:
    dp = make_dp("transformer", "Transformer", service_type="TRANSFORMER")
    assert wire(dp.seldon("transform-input", {"data": {"ndarray": [1, 2]}}))["data"]["ndarray"] == [2, 3]
    assert wire(dp.seldon("transform-output", {"data": {"ndarray": [1, 2]}}))["data"]["ndarray"] == [10, 20]
    ident = make_dp("identity", "Identity")
    assert wire(ident.seldon("transform-input", {"strData": "s"})) == {"strData": "s", "meta": {}}


def test_transform_output_of_json_list_is_ndarray_not_jsondata(make_dp) -> None:
    # a list result is encoded as data even when the request was jsonData (C.8: list -> data)
    ident = make_dp("identity", "Identity")
    assert wire(ident.seldon("transform-output", {"jsonData": [1, 2]})) == \
        {"data": {"names": [], "tensor": {"shape": [2], "values": [1, 2]}}, "meta": {}}


def test_route_errors(make_dp, model_dir) -> None:
    with pytest.raises(MicroserviceError) as ei:
        make_dp("identity", "Identity").seldon("route", {"data": {"ndarray": [1]}})
    assert ei.value.status_code == 400 and "Route not defined" in ei.value.message
    d = model_dir("BadRoute", "class BadRoute:\n    def route(self, X, names):\n        return 'left'\n")
    with pytest.raises(MicroserviceError) as ei:
        make_dp(d, "BadRoute").seldon("route", {"data": {"ndarray": [1]}})
    assert ei.value.status_code == 400 and "Routing response must be int but got 'left'" in ei.value.message


def test_aggregate_list_and_message_list(make_dp) -> None:
    dp = make_dp("combiner", "Combiner", service_type="COMBINER")
    msgs = [{"data": {"ndarray": [[1.0, 3.0]]}, "meta": {"puid": "p", "tags": {"a": 1}, "requestPath": {"m1": "i1"},
                                                         "metrics": [{"type": "COUNTER", "key": "k1", "value": 1}]}},
            {"data": {"ndarray": [[3.0, 5.0]]}, "meta": {"tags": {"b": 2}, "requestPath": {"m2": "i2"},
                                                         "metrics": [{"type": "COUNTER", "key": "k2", "value": 2}]}}]
    expected = {"data": {"names": ["t:0", "t:1"], "ndarray": [[2.0, 4.0]]},
                "meta": {"puid": "p", "tags": {"a": 1, "b": 2}, "requestPath": {"m1": "i1", "m2": "i2"},
                         "metrics": [{"type": "COUNTER", "key": "k1", "value": 1},
                                     {"type": "COUNTER", "key": "k2", "value": 2}]}}
    assert wire(dp.seldon("aggregate", {"seldonMessages": msgs})) == expected
    assert wire(dp.seldon("aggregate", msgs)) == expected
    with pytest.raises(MicroserviceError, match="Aggregate not defined"):
        make_dp("identity", "Identity").seldon("aggregate", msgs)
    with pytest.raises(MicroserviceError, match="SeldonMessageList"):
        dp.seldon("aggregate", {"seldonMessages": []})


def test_feedback(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("feedback", "FeedbackModel", metrics=sink, predictive_unit_id="fb")
    fb = {"request": {"data": {"names": ["x"], "ndarray": [[1, 2]]}, "meta": {"puid": "q"}},
          "response": {"meta": {"routing": {"fb": 1, "other": 0}}},
          "reward": 1.0, "truth": {"data": {"ndarray": [[1]]}}}
    out = wire(dp.seldon("send-feedback", fb))
    assert out == {"data": {"ndarray": []}, "meta": {"puid": "q", "requestPath": {"fb": ""}}}
    call = dp.model.obj.calls[0]
    assert call["features"].dtype == np.float64 and call["features"].tolist() == [[1.0, 2.0]]
    assert call["names"] == ["x"] and call["reward"] == 1.0 and call["routing"] == 1
    assert call["truth"].tolist() == [[1.0]]
    assert sink.rewards == [1.0]


def test_feedback_default_routing_key_and_errors(make_dp) -> None:
    dp = make_dp("router", "Router", service_type="ROUTER")
    dp.seldon("send-feedback", {"request": {"data": {"ndarray": [3]}}, "response": {"meta": {"routing": {"0": 2}}},
                                "reward": 0.5})
    assert dp.model.obj.feedback == [([3.0], 0.5, 2)]
    with pytest.raises(MicroserviceError, match=r"Invalid JSON: Feedback has no field\(s\) \['bogus'\]"):
        dp.seldon("send-feedback", {"bogus": 1})
    with pytest.raises(MicroserviceError, match="meta.tags must be an object"):
        dp.seldon("send-feedback", {"request": {"meta": {"tags": "x"}}})
    with pytest.raises(MicroserviceError, match="reward must be a number"):
        dp.seldon("send-feedback", {"reward": "high"})


def test_feedback_without_hook_returns_empty(make_dp) -> None:
    out = wire(make_dp("identity", "Identity").seldon("send-feedback", {"request": {"data": {"tensor": {
        "shape": [1], "values": [1]}}}, "reward": 0}))
    assert out == {"data": {"tensor": {"shape": [0]}}, "meta": {}}  # protobuf JSON drops empty fields


def test_predict_raw_and_metrics_in_raw_response(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("passthrough", "Passthrough", metrics=sink, include_metrics_in_response=False)
    out = dp.seldon("predict", {"strData": "x", "meta": {}})
    assert out == {"jsonData": {"keys": ["meta", "strData"]}, "meta": {}}
    assert sink.custom == [([{"type": "COUNTER", "key": "raw_calls", "value": 1}], "predict")]


def test_passthrough(make_dp) -> None:
    dp = make_dp("passthrough", "Passthrough", payload_passthrough=True)
    assert dp.seldon_passthrough(b'{"a":1}') == b'{"A":1}'
    assert dp.seldon_passthrough("json=text") == "JSON=TEXT"
    with pytest.raises(MicroserviceError, match="no predict_raw"):
        make_dp("identity", "Identity").seldon_passthrough(b"x")


def test_legacy_predict_rest_and_grpc(make_dp, model_dir) -> None:
    d = model_dir("Legacy", (
        "class Legacy:\n"
        "    def predict_rest(self, msg):\n        return {'via': 'rest'}\n"
        "    def predict_grpc(self, msg):\n        return {'via': 'grpc'}\n"))
    dp = make_dp(d, "Legacy")
    assert dp.seldon("predict", {}) == {"via": "rest"}
    assert dp.seldon("predict", {}, transport="grpc") == {"via": "grpc"}


def test_user_exceptions_map_to_500_and_run_once(make_dp) -> None:
    dp = make_dp("raising", "Raising")
    with pytest.raises(MicroserviceError) as ei:
        dp.seldon("predict", {"strData": "type"})
    err = ei.value
    assert (err.status_code, err.reason, err.message) == (500, "MICROSERVICE_INTERNAL_ERROR",
                                                          "unsupported operand inside the model")
    assert dp.model.obj.calls == 1  # C.13: no second call on TypeError
    assert seldon_error_body(err) == {"status": {"status": 1, "info": "unsupported operand inside the model",
                                                 "code": -1, "reason": "MICROSERVICE_INTERNAL_ERROR"}}


def test_seldon_exceptions_keep_their_status(make_dp) -> None:
    dp = make_dp("seldon_shim", "ShimModel")
    with pytest.raises(MicroserviceError) as ei:
        dp.seldon("predict", {"strData": "teapot"})
    assert (ei.value.status_code, ei.value.reason, ei.value.message) == (418, "TEAPOT", "I'm a teapot")


def test_seldon_response_tags_and_metrics(make_dp, sink: RecordingSink) -> None:
    dp = make_dp("seldon_shim", "ShimModel", metrics=sink)
    out = wire(dp.seldon("predict", {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"req": 1}}}))
    assert out == {"data": {"names": ["t:0"], "ndarray": [[1.0]]},
                   "meta": {"tags": {"req": 1, "runtime": "yes"},
                            "metrics": [{"type": "TIMER", "key": "shim_ms", "value": 1.5}]}}
    assert sink.custom == [([{"type": "TIMER", "key": "shim_ms", "value": 1.5}], "predict")]


@pytest.mark.parametrize("metrics, fragment", [
    ("nope", "must return a list"),
    ([{"type": "HISTOGRAM", "key": "k", "value": 1}], "type 'HISTOGRAM'"),
    ([{"type": "COUNTER", "value": 1}], "non-empty string 'key'"),
    ([{"type": "COUNTER", "key": "k", "value": "1"}], "value '1'"),
    ([{"type": "COUNTER", "key": "k", "value": True}], "value True"),
    ([{"type": "GAUGE", "key": "k", "value": 1, "tags": {"a": 1}}], "tags must map strings to strings"),
])
def test_bad_custom_metrics_are_500_bad_metric(make_dp, model_dir, metrics, fragment) -> None:
    d = model_dir("BadMetrics", (
        "class BadMetrics:\n"
        "    def predict(self, X, names):\n        return X\n"
        f"    def metrics(self):\n        return {metrics!r}\n"))
    with pytest.raises(MicroserviceError) as ei:
        make_dp(d, "BadMetrics").seldon("predict", {"data": {"ndarray": [1]}})
    assert ei.value.status_code == 500 and ei.value.reason == "MICROSERVICE_BAD_METRIC"
    assert fragment in ei.value.message


def test_metadata_layers(make_dp, model_dir) -> None:
    dp = make_dp("identity", "Identity", predictive_unit_image="repo/ident:0.3")
    assert dp.seldon_metadata() == {"name": "repo/ident", "versions": ["0.3"], "platform": "", "inputs": [],
                                    "outputs": [], "custom": {}}
    assert make_dp("identity", "Identity").seldon_metadata() == {
        "name": "Identity", "versions": [], "platform": "", "inputs": [], "outputs": [], "custom": {}}
    dp = make_dp("full", "FullModel", model_metadata="platform: sklearn\ncustom:\n  team: ml\n")
    md = dp.seldon_metadata()
    assert md["name"] == "full-model" and md["platform"] == "sklearn" and md["custom"] == {"team": "ml"}
    dp = make_dp("full", "FullModel", model_metadata='{"versions": ["v9"]}')
    assert dp.seldon_metadata()["versions"] == ["v9"]


@pytest.mark.parametrize("model_metadata, fragment", [
    ('{"inputs": [{"name": "x"}]}', "inputs[0]"),
    ("[1, 2]", "MODEL_METADATA must be a mapping"),
    ('{"extra": 1}', "unknown metadata keys"),
])
def test_bad_metadata_is_500(make_dp, model_metadata: str, fragment: str) -> None:
    dp = make_dp("identity", "Identity", model_metadata=model_metadata)
    assert dp.ready  # bad metadata does not make the model unready
    with pytest.raises(MicroserviceError) as ei:
        dp.seldon_metadata()
    assert ei.value.status_code == 500 and ei.value.reason == "MICROSERVICE_BAD_METADATA"
    assert fragment in ei.value.message


def test_not_ready_and_unknown_method(make_dp) -> None:
    dp = make_dp("load_fails", "LoadFails")
    assert not dp.ready
    assert dp.failure == "LoadFails.load() raised OSError: weights file /mnt/models/model.bin not found"
    for call in (lambda: dp.seldon("predict", {"strData": "x"}), dp.check_ready, dp.seldon_health_status,
                 dp.seldon_metadata, lambda: dp.seldon_passthrough(b"x")):
        with pytest.raises(NotReady) as ei:
            call()
        assert ei.value.status_code == 503 and ei.value.failure == dp.failure
    with pytest.raises(NotFound):
        make_dp("identity", "Identity").seldon("explain", {})
