"""Every raw hook, the SeldonNotImplementedError fall-through, init_metadata edge cases and
user code that calls sys.exit()."""
from __future__ import annotations

import pytest

from modelpack_runtime.errors import MicroserviceError

RAW_MODEL = '''
class RawAll:
    def _answer(self, hook, msg):
        return {"jsonData": {"hook": hook, "type": type(msg).__name__}}
    def predict_raw(self, msg): return self._answer("predict_raw", msg)
    def transform_input_raw(self, msg): return self._answer("transform_input_raw", msg)
    def transform_output_raw(self, msg): return self._answer("transform_output_raw", msg)
    def route_raw(self, msg): return self._answer("route_raw", msg)
    def aggregate_raw(self, msgs): return self._answer("aggregate_raw", msgs)
    def send_feedback_raw(self, fb): return self._answer("send_feedback_raw", fb)
    def health_status_raw(self): return {"jsonData": {"hook": "health_status_raw"}}
'''


@pytest.mark.parametrize("method, msg, hook, msg_type", [
    ("predict", {"strData": "x"}, "predict_raw", "dict"),
    ("transform-input", {"strData": "x"}, "transform_input_raw", "dict"),
    ("transform-output", {"strData": "x"}, "transform_output_raw", "dict"),
    ("route", {"strData": "x"}, "route_raw", "dict"),
    ("aggregate", [{"strData": "x"}], "aggregate_raw", "list"),
    ("aggregate", {"seldonMessages": [{"strData": "x"}]}, "aggregate_raw", "dict"),
    ("send-feedback", {"reward": 1}, "send_feedback_raw", "dict"),
])
def test_raw_hooks_get_the_message_and_answer_as_is(make_dp, model_dir, method, msg, hook, msg_type) -> None:
    dp = make_dp(model_dir("RawAll", RAW_MODEL), "RawAll")
    assert dp.seldon(method, msg) == {"jsonData": {"hook": hook, "type": msg_type}}
    assert dp.seldon(method, msg, transport="grpc") == {"jsonData": {"hook": hook, "type": msg_type}}


def test_health_status_raw(make_dp, model_dir) -> None:
    dp = make_dp(model_dir("RawAll", RAW_MODEL), "RawAll")
    assert dp.seldon_health_status() == {"jsonData": {"hook": "health_status_raw"}}


FALLTHROUGH = '''
import numpy as np
from seldon_core.user_model import SeldonComponent, SeldonNotImplementedError

class Fallthrough(SeldonComponent):
    def predict_raw(self, msg):
        raise SeldonNotImplementedError("use predict")
    def transform_input_raw(self, msg):
        raise SeldonNotImplementedError("use transform_input")
    def predict(self, X, names, meta=None):
        return X + 1
    def transform_output(self, X, names, meta=None):
        raise SeldonNotImplementedError("not this one")
    def tags(self):
        raise SeldonNotImplementedError("no tags")
    def class_names(self):
        raise SeldonNotImplementedError("no names")
    def init_metadata(self):
        raise SeldonNotImplementedError("no metadata")
'''


def test_seldon_not_implemented_falls_through_like_seldon(make_dp, model_dir) -> None:
    dp = make_dp(model_dir("Fallthrough", FALLTHROUGH), "Fallthrough")
    assert dp.ready, dp.failure
    out = dp.seldon("predict", {"data": {"ndarray": [[1, 2]]}})
    assert out["data"]["ndarray"].tolist() == [[2, 3]] and out["data"]["names"] == ["t:0", "t:1"]
    assert out["meta"] == {}
    # no transform_input of its own (SeldonComponent's default) -> identity
    assert dp.seldon("transform-input", {"strData": "s"}) == {"strData": "s", "meta": {}}
    # transform_output raising SeldonNotImplementedError -> identity
    assert dp.seldon("transform-output", {"strData": "s"}) == {"strData": "s", "meta": {}}
    assert dp.seldon_metadata()["name"] == "Fallthrough"
    with pytest.raises(MicroserviceError, match="Route not defined"):
        dp.seldon("route", {"strData": "s"})


def test_init_metadata_not_a_dict_is_ignored_and_raising_is_500(make_dp, model_dir) -> None:
    d = model_dir("MdList", "class MdList:\n    def init_metadata(self):\n        return ['x']\n")
    assert make_dp(d, "MdList").seldon_metadata()["name"] == "MdList"
    d = model_dir("MdRaise", "class MdRaise:\n    def init_metadata(self):\n        raise KeyError('schema')\n")
    dp = make_dp(d, "MdRaise")
    assert dp.ready
    with pytest.raises(MicroserviceError) as ei:
        dp.seldon_metadata()
    assert ei.value.status_code == 500 and ei.value.reason == "MICROSERVICE_BAD_METADATA"
    assert "init_metadata() raised KeyError" in ei.value.message


@pytest.mark.parametrize("where, source, fragment", [
    ("import", "import sys\nsys.exit(3)\n", "raised SystemExit: 3"),
    ("construct", "import sys\nclass Quits:\n    def __init__(self):\n        sys.exit('bye')\n",
     "constructing Quits(**{}) raised SystemExit: bye"),
    ("load", "import sys\nclass Quits:\n    def load(self):\n        sys.exit(2)\n", "Quits.load() raised SystemExit: 2"),
])
def test_sys_exit_in_user_code_is_a_failure_not_an_exit(make_dp, model_dir, where, source, fragment) -> None:
    dp = make_dp(model_dir("Quits", source), "Quits")
    assert not dp.ready and fragment in dp.failure


def test_tags_must_be_a_dict(make_dp, model_dir) -> None:
    d = model_dir("BadTags", "class BadTags:\n    def predict(self, X, n):\n        return X\n"
                             "    def tags(self):\n        return ['a']\n")
    with pytest.raises(MicroserviceError) as ei:
        make_dp(d, "BadTags").seldon("predict", {"strData": "x"})
    assert ei.value.status_code == 500 and "tags() must return a dict, got list" in ei.value.message


def test_passthrough_must_return_str_or_bytes(make_dp, model_dir) -> None:
    d = model_dir("RawDict", "class RawDict:\n    def predict_raw(self, raw):\n        return {'a': 1}\n")
    with pytest.raises(MicroserviceError) as ei:
        make_dp(d, "RawDict", payload_passthrough=True).seldon_passthrough(b"x")
    assert ei.value.status_code == 500 and "must return str or bytes, got dict" in ei.value.message
