"""Importing MODEL_NAME, typed parameters, model_uri, construction/load failures, hook signatures."""
from __future__ import annotations

import os
import sys

import pytest

from modelpack_runtime import usermodel
from modelpack_runtime.errors import BadParameter
from modelpack_runtime.usermodel import call_features_hook, parse_parameters

from .conftest import FIXTURES


def test_typed_parameters_fixture(make_dp) -> None:
    env = open(os.path.join(FIXTURES, "params", ".s2i", "environment")).read()
    text = env.split("PREDICTIVE_UNIT_PARAMETERS=", 1)[1].strip()
    dp = make_dp("params", "ParamModel", parameters=text)
    assert dp.ready, dp.failure
    assert dp.seldon("predict", {"strData": ""})["jsonData"] == \
        {"alpha": 0.5, "n": 3, "flag": True, "label": "x", "cfg": {"k": [1, 2]}}


@pytest.mark.parametrize("type_, value, expected", [
    ("INT", "42", 42), ("INT", 7, 7), ("FLOAT", "0.25", 0.25), ("DOUBLE", "1e3", 1000.0), ("STRING", 5, "5"),
    ("JSON", '{"a": [1]}', {"a": [1]}), ("JSON", "[1, 2]", [1, 2]),
    *[("BOOL", v, True) for v in ("1", "true", "T", "yes", "Y", "on")],
    *[("BOOL", v, False) for v in ("0", "false", "f", "NO", "n", "off")],
    ("BOOL", True, True),
])
def test_parameter_types(type_: str, value: object, expected: object) -> None:
    text = f'[{{"name": "p", "value": {__import__("json").dumps(value)}, "type": "{type_}"}}]'
    assert parse_parameters(text) == {"p": expected}


@pytest.mark.parametrize("text, fragments", [
    ("[{", ["PREDICTIVE_UNIT_PARAMETERS is not valid JSON", "expected a list like"]),
    ('{"name": "a"}', ["must be a JSON list, got dict"]),
    ('[{"value": "1", "type": "INT"}]', ["PREDICTIVE_UNIT_PARAMETERS[0]", "string 'name'"]),
    ('[{"name": "n", "value": "abc", "type": "INT"}]', ["parameter 'n'", "'abc'", "not an integer", "INT"]),
    ('[{"name": "n", "value": "1.5", "type": "INT"}]', ["'1.5'", "not an integer"]),
    ('[{"name": "x", "value": "fast", "type": "FLOAT"}]', ["parameter 'x'", "'fast'", "not a number"]),
    ('[{"name": "b", "value": "maybe", "type": "BOOL"}]', ["parameter 'b'", "'maybe'", "1/true/t/yes/y/on"]),
    ('[{"name": "j", "value": "{bad", "type": "JSON"}]', ["parameter 'j'", "'{bad'", "JSON document"]),
    ('[{"name": "z", "value": "1", "type": "COMPLEX"}]', ["parameter 'z'", "unknown type 'COMPLEX'", "INT, FLOAT"]),
])
def test_parameter_errors(text: str, fragments: list) -> None:
    with pytest.raises(BadParameter) as ei:
        parse_parameters(text)
    assert ei.value.reason == "MICROSERVICE_BAD_PARAMETER" and ei.value.status_code == 400
    for f in fragments:
        assert f in ei.value.message


def test_bad_parameters_make_the_model_unready(make_dp) -> None:
    dp = make_dp("params", "ParamModel", parameters='[{"name": "n", "value": "x", "type": "INT"}]')
    assert not dp.ready and "parameter 'n' has value 'x'" in dp.failure


def test_constructor_failure_is_recorded_in_plain_words(make_dp) -> None:
    dp = make_dp("params", "ParamModel", parameters='[{"name": "alpha", "value": "1", "type": "FLOAT"}]')
    assert not dp.ready
    assert dp.failure.startswith("constructing ParamModel(**{'alpha': 1.0}) raised TypeError:")
    assert "missing 2 required positional arguments" in dp.failure


def test_constructor_failure_hides_secret_looking_values(make_dp, model_dir) -> None:
    d = model_dir("Secretive", "class Secretive:\n    def __init__(self, api_key, n):\n        raise ValueError('no')\n")
    params = '[{"name": "api_key", "value": "s3cr3t", "type": "STRING"}, {"name": "n", "value": "2", "type": "INT"}]'
    dp = make_dp(d, "Secretive", parameters=params)
    assert dp.failure == "constructing Secretive(**{'api_key': '***', 'n': 2}) raised ValueError: no"


def test_import_failures(make_dp, model_dir) -> None:
    dp = make_dp("identity", "Nope")
    assert not dp.ready and "importing module 'Nope'" in dp.failure and "ModuleNotFoundError" in dp.failure
    dp = make_dp("identity", "Identity.Missing")
    assert not dp.ready and "has no class 'Missing'" in dp.failure
    d = model_dir("Broken", "raise RuntimeError('import-time failure')\n")
    dp = make_dp(d, "Broken")
    assert "raised RuntimeError: import-time failure" in dp.failure


def test_dotted_interface_name(make_dp, tmp_path) -> None:
    pkg = tmp_path / "dottedpkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "models.py").write_text("class Clf:\n    def predict(self, X, names):\n        return X\n")
    dp = make_dp(str(tmp_path), "dottedpkg.models.Clf")
    assert dp.ready and dp.name == "Clf"


def test_model_uri_from_env_and_parameter(make_dp) -> None:
    models = os.path.join(FIXTURES, "model_uri", "models")
    for uri in (models, "file://" + models):
        dp = make_dp("model_uri", "UriModel", model_uri=uri)
        assert dp.seldon("predict", {"strData": ""})["jsonData"] == {"model_uri": models, "text": "weights v1"}
    params = f'[{{"name": "model_uri", "value": "file://{models}", "type": "STRING"}}]'
    dp = make_dp("model_uri", "UriModel", parameters=params, model_uri="/elsewhere")
    assert dp.seldon("predict", {"strData": ""})["jsonData"]["model_uri"] == models  # parameter wins
    dp = make_dp("model_uri", "UriModel")
    assert dp.seldon("predict", {"strData": ""})["jsonData"] == {"model_uri": None, "text": None}


def test_model_uri_not_passed_to_constructors_without_it(make_dp) -> None:
    dp = make_dp("identity", "Identity", model_uri="/mnt/models")
    assert dp.ready, dp.failure


def test_model_uri_kwargs_constructor(make_dp, model_dir) -> None:
    d = model_dir("KwModel", (
        "class KwModel:\n"
        "    def __init__(self, **kw):\n        self.kw = kw\n"
        "    def predict(self, X, names):\n        return self.kw\n"))
    dp = make_dp(d, "KwModel", model_uri="file:///data/m")
    assert dp.seldon("predict", {"strData": ""})["jsonData"] == {"model_uri": "/data/m"}


def test_model_uri_remote_scheme_is_a_clear_failure(make_dp) -> None:
    dp = make_dp("model_uri", "UriModel", model_uri="s3://bucket/model")
    assert not dp.ready
    # issue 7: s3:// is downloaded through the optional boto3 (absent here): the failure names the extra
    assert "model_uri s3://bucket/model: s3:// needs boto3" in dp.failure and "add boto3 to the model's requirements.txt" in dp.failure


def test_load_called_once_and_failure_reported(make_dp) -> None:
    dp = make_dp("full", "FullModel")
    assert dp.model.obj.loaded == 1
    dp = make_dp("load_fails", "LoadFails")
    assert dp.failure == "LoadFails.load() raised OSError: weights file /mnt/models/model.bin not found"


def test_load_not_implemented_is_ignored(make_dp, model_dir) -> None:
    d = model_dir("NoLoad", (
        "class NoLoad:\n"
        "    def load(self):\n        raise NotImplementedError\n"
        "    def predict(self, X, names):\n        return X\n"))
    assert make_dp(d, "NoLoad").ready


def test_load_without_construct_reports(make_dp) -> None:
    from modelpack_runtime.dataplane import DataPlane
    from modelpack_runtime.settings import Settings

    dp = DataPlane(Settings("Identity"))
    dp.load()
    assert not dp.ready and "never constructed" in dp.failure


@pytest.mark.parametrize("src, expect_meta", [
    ("def f(X, names, meta=None): return (X, names, meta)", "kw"),
    ("def f(X, names, **kw): return (X, names, kw.get('meta'))", "kw"),
    ("def f(X, names, extra): return (X, names, extra)", "pos"),
    ("def f(X, names, *a): return (X, names, a[0])", "pos"),
    ("def f(X, names): return (X, names, None)", "none"),
    ("def f(X, names, other=5): return (X, names, other)", "default"),
    ("def f(X): return (X, None, None)", "x-only"),
])
def test_call_features_hook_decides_once(src: str, expect_meta: str) -> None:
    ns: dict = {}
    exec(src, ns)
    call = call_features_hook(ns["f"])
    X, names, meta = call("X", ["n"], {"m": 1})
    assert X == "X"
    if expect_meta in ("kw", "pos"):
        assert meta == {"m": 1} and names == ["n"]
    elif expect_meta == "default":
        assert meta == 5
    elif expect_meta == "none":
        assert meta is None and names == ["n"]


def test_type_error_inside_hook_is_not_retried() -> None:
    calls = []

    def predict(X, names, meta=None):
        calls.append(1)
        raise TypeError("inside")

    with pytest.raises(TypeError):
        call_features_hook(predict)(1, [], None)
    assert calls == [1]


def test_seldon_component_defaults_count_as_missing(make_dp) -> None:
    dp = make_dp("seldon_shim", "ShimModel")
    m = dp.model
    assert m.predict is not None
    assert m.route is None and m.transform_input is None and m.tags is None and m.raw["predict"] is None
    assert m.class_names is None


def test_shim_is_last_on_sys_path_and_real_seldon_core_wins(make_dp, tmp_path) -> None:
    make_dp("seldon_shim", "ShimModel")
    assert sys.path[-1] == usermodel.SHIM_DIR
    import seldon_core

    assert getattr(seldon_core, "MODELPACK_SHIM", False)
    # a "real" seldon_core earlier on sys.path wins over the shim
    for name in [n for n in sys.modules if n == "seldon_core" or n.startswith("seldon_core.")]:
        del sys.modules[name]
    real = tmp_path / "site" / "seldon_core"
    real.mkdir(parents=True)
    (real / "__init__.py").write_text("REAL = True\n")
    (real / "user_model.py").write_text(
        "class SeldonResponse:\n"
        "    def __init__(self, data, tags=None, metrics=None):\n"
        "        self.data, self.tags, self.metrics = data, tags, metrics\n"
        "class SeldonComponent:\n    pass\n")
    (real / "flask_utils.py").write_text("class SeldonMicroserviceException(Exception):\n    pass\n")
    sys.path.insert(0, str(tmp_path / "site"))
    dp = make_dp("seldon_shim", "ShimModel")
    import seldon_core as sc2

    assert getattr(sc2, "REAL", False) and dp.ready


def test_class_names_attribute_is_honoured(make_dp, model_dir) -> None:
    d = model_dir("AttrNames", (
        "class AttrNames:\n"
        "    class_names = ['yes', 'no']\n"
        "    def predict(self, X, names):\n        return [[0.2, 0.8]]\n"))
    out = make_dp(d, "AttrNames").seldon("predict", {"data": {"ndarray": [[1]]}})
    assert out["data"]["names"] == ["yes", "no"]
