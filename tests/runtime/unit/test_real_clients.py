"""The codecs against the real implementations they must interoperate with, without a server:

- tritonclient's own V2 request encoder (JSON and binary tensor extension, every datatype) ->
  our decode_request; our encode_response -> tritonclient's InferResult parser.
- seldon-core 1.18.2's own REST codec (extract_request_parts_json / construct_response_json)
  versus ours on a table of SeldonMessages.

Each client lives in its own cached virtualenv (they pin numpy/protobuf versions that conflict
with ours): ~/.cache/modelpack-compat/<name> (override MODELPACK_COMPAT_CACHE), the same cache and
names the HTTP compat tests use, so the venvs are built once per machine.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from modelpack_runtime import seldon_codec
from modelpack_runtime import v2_codec as v2

CACHE = Path(os.environ.get("MODELPACK_COMPAT_CACHE", Path.home() / ".cache" / "modelpack-compat"))
SCRIPTS = Path(__file__).parent / "scripts"


def client_venv(name: str, requirement: str) -> Path:
    venv = CACHE / name
    python = venv / "bin" / "python"
    if (venv / ".ok").exists() and python.exists():
        return python
    shutil.rmtree(venv, ignore_errors=True)
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", str(venv)], check=True)
    r = subprocess.run([str(python), "-m", "pip", "install", "-q", requirement], capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pip install {requirement} into {venv} failed:\n{r.stdout}\n{r.stderr}")
    (venv / ".ok").write_text(requirement + "\n")
    return python


def run(python: Path, *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    r = subprocess.run([str(python), *args], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, f"{args} failed:\n{r.stdout}\n{r.stderr}"
    return r.stdout


@pytest.fixture(scope="module")
def triton_python() -> Path:
    return client_venv("tritonclient-http-2.73.0", "tritonclient[http]==2.73.0")


@pytest.fixture(scope="module")
def seldon_python() -> Path:
    return client_venv("seldon-core-1.18.2", "seldon-core==1.18.2")


def _expected(case: dict) -> np.ndarray:
    dt = v2.DTYPES[case["datatype"]]
    if case["datatype"] == "BYTES":
        return np.array(case["data"], dtype=object)
    return np.array(case["data"], dtype=dt)


def test_tritonclient_requests_and_responses(triton_python: Path, tmp_path: Path, make_dp) -> None:
    run(triton_python, str(SCRIPTS / "triton_codec.py"), "requests", str(tmp_path))
    cases = json.loads((tmp_path / "cases.json").read_text())
    assert len(cases) == 26  # 13 datatypes x (JSON, binary)
    dp = make_dp("identity", "Identity")
    for case in cases:
        body = (tmp_path / f"{case['file']}.req").read_bytes()
        req = v2.decode_request(body, case["json_size"])
        t = req.inputs[0]
        assert (t.name, t.datatype, t.shape) == ("x", case["datatype"], case["shape"]), case["file"]
        assert req.id == f"id-{case['datatype']}-{case['binary']}" and req.parameters == {"custom": 7}
        assert req.outputs[0].name == "y" and req.outputs[0].binary is case["binary"]
        got = t.data
        if case["datatype"] == "BYTES":
            got = np.array([[x.decode("utf-8") if isinstance(x, bytes) else x for x in row] for row in got.tolist()],
                           dtype=object)
            assert (isinstance(t.data.flat[0], bytes)) is case["binary"]
        else:
            assert got.dtype == v2.DTYPES[case["datatype"]], case["file"]
        np.testing.assert_array_equal(got, _expected(case), err_msg=case["file"])
        # echo it back: the requested output name and binary flag are honoured
        out, hlen = v2.encode_response(dp.v2_infer("Identity", None, req))
        assert (hlen is not None) is case["binary"], case["file"]
        (tmp_path / f"{case['file']}.resp").write_bytes(out)
        (tmp_path / f"{case['file']}.hlen").write_text("" if hlen is None else str(hlen))
    parsed = json.loads(run(triton_python, str(SCRIPTS / "triton_codec.py"), "responses", str(tmp_path)))
    for case in cases:
        y = parsed[case["file"]]["y"]
        assert y["shape"] == case["shape"], case["file"]
        flat = [x for row in case["data"] for x in row]
        if case["datatype"] == "BYTES":
            assert y["dtype"] == "object" and y["data"] == flat, case["file"]
        else:
            assert y["dtype"] == str(np.dtype(v2.DTYPES[case["datatype"]])), case["file"]
            np.testing.assert_array_equal(np.array(y["data"]), np.array(flat, dtype=v2.DTYPES[case["datatype"]]))


# Each case: a request, and what an identity-like model returns for it (a Python expression
# evaluated on the decoded X in both processes).
SELDON_CASES = [
    ({"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}, "X"),
    ({"data": {"ndarray": [[1, 2], [3, 4]]}, "meta": {"puid": "p", "tags": {"t": 1}}}, "X"),
    ({"data": {"ndarray": [1, 2, 3]}}, "X"),
    ({"data": {"ndarray": [["a", "b"]]}}, "X"),
    ({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}, "meta": {"puid": "x"}}, "X"),
    ({"data": {"tensor": {"shape": [2, 2], "values": [0.5, 1.5, 2.5, 3.5]}}}, "X * 2"),
    ({"data": {"tensor": {"shape": [3], "values": [1, 2, 3]}}}, "X.tolist()"),
    ({"jsonData": {"q": "hi"}}, "{'a': 1}"),
    ({"jsonData": {"q": [1, 2]}}, "[[1, 2]]"),
    ({"jsonData": {"q": [1, 2]}}, "['x', 'y']"),
    ({"strData": "hello"}, "X.upper()"),
    ({"binData": "aGVsbG8="}, "X"),
    ({"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"a": 1}, "metrics": [
        {"type": "COUNTER", "key": "k", "value": 1.0}]}}, "X"),
    ({"data": {"ndarray": [[True, False]]}}, "X"),
    ({"data": {"ndarray": [[1.5, 2.5]]}}, "X.astype('int32')"),
    ({"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}, "X.astype(str)"),
    ({"strData": "x"}, "np.array([[1.0, 2.0], [3.0, 4.0]])"),
    ({"data": {"names": ["a"]}}, "X"),
    ({"data": {"ndarray": [[1, 2]]}}, "X.astype('float32') / 3"),
    ({"data": {"ndarray": [[[1, 2], [3, 4]]]}}, "X"),
]


def test_seldon_codec_matches_seldon_core(seldon_python: Path, tmp_path: Path) -> None:
    cases_file = tmp_path / "cases.json"
    cases_file.write_text(json.dumps(SELDON_CASES))
    theirs = json.loads(run(seldon_python, str(SCRIPTS / "seldon_codec_ref.py"), str(cases_file)).splitlines()[-1])
    assert len(theirs) == len(SELDON_CASES)
    for (request, expr), expected in zip(SELDON_CASES, theirs):
        d = seldon_codec.decode(request)
        X = d.features
        assert json.loads(orjson.dumps(X.tolist() if isinstance(X, np.ndarray) else X,
                                       default=seldon_codec.json_default)) == expected["features"], request
        assert d.names == expected["names"] and (d.meta or None) == (expected["meta"] or None), request
        result = eval(expr, {"np": np}, {"X": X})  # noqa: S307 - test table
        body = seldon_codec.encode_payload(result, d.kind, lambda n: [f"t:{i}" for i in range(n)])
        body["meta"] = seldon_codec.response_meta(d.meta, None, None, None)
        ours = json.loads(orjson.dumps(body, option=orjson.OPT_SERIALIZE_NUMPY, default=seldon_codec.json_default))
        assert ours == expected["response"], (request, expr)


def test_model_importing_the_real_seldon_core(seldon_python: Path) -> None:
    """With seldon-core installed, user code gets the real package (not the shim), and its
    SeldonMicroserviceException / SeldonResponse / SeldonComponent still work through duck typing."""
    site = next((seldon_python.parent.parent / "lib").glob("python3*/site-packages"))
    fixtures = Path(__file__).parent.parent / "fixtures"
    # seldon-core's generated protos predate our protobuf: the pure-Python implementation loads them
    env = dict(os.environ, PROTOCOL_BUFFERS_PYTHON_IMPLEMENTATION="python")
    env.pop("PYTHONPATH", None)
    r = subprocess.run([sys.executable, str(SCRIPTS / "real_seldon_model.py"), str(site), str(fixtures)],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["ready"], out["failure"]
    assert out["seldon_core"].startswith(str(site))
    assert out["teapot"] == [418, "TEAPOT", "I'm a teapot"]
    assert out["predict"] == {"data": {"names": ["t:0"], "ndarray": [[1.0]]},
                              "meta": {"tags": {"runtime": "yes"},
                                       "metrics": [{"type": "TIMER", "key": "shim_ms", "value": 1.5}]}}
    assert out["health"] == {"strData": "not implemented - assuming healthy", "meta": {}}


# (fixture folder, class, Seldon method, our method name, request)
SELDON_METHOD_CASES = [
    ("identity", "Identity", "predict", "predict", {"data": {"names": ["a", "b"], "ndarray": [[1.0, 2.0]]}}),
    ("identity", "Identity", "predict", "predict", {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}},
                                                    "meta": {"puid": "x"}}),
    ("identity", "Identity", "predict", "predict", {"jsonData": {"q": "hi"}}),
    ("full", "FullModel", "predict", "predict", {"data": {"ndarray": [[1, 2]]},
                                                 "meta": {"puid": "p", "tags": {"req": "t"}}}),
    ("full", "FullModel", "predict", "predict", {"data": {"tensor": {"shape": [1, 2], "values": [0.5, 1.5]}}}),
    ("transformer", "Transformer", "transform_input", "transform-input", {"data": {"ndarray": [[1, 2]]}}),
    ("transformer", "Transformer", "transform_output", "transform-output",
     {"data": {"tensor": {"shape": [2], "values": [1.5, 2.5]}}}),
    ("router", "Router", "route", "route", {"data": {"ndarray": [[5.0]]}}),
    ("router", "Router", "route", "route", {"data": {"tensor": {"shape": [1, 1], "values": [-5.0]}}}),
    ("combiner", "Combiner", "aggregate", "aggregate",
     {"seldonMessages": [{"data": {"ndarray": [[1.0, 3.0]]}, "meta": {"tags": {"a": 1}}},
                         {"data": {"ndarray": [[3.0, 5.0]]}, "meta": {"tags": {"b": 2}}}]}),
    ("feedback", "FeedbackModel", "send_feedback", "send-feedback",
     {"request": {"data": {"ndarray": [[1, 2]]}, "meta": {"puid": "q"}}, "reward": 1.0,
      "response": {"meta": {"routing": {"0": 1}}}, "truth": {"data": {"ndarray": [[1]]}}}),
    ("feedback", "FeedbackModel", "send_feedback", "send-feedback",
     {"request": {"data": {"tensor": {"shape": [1, 2], "values": [1, 2]}}}, "reward": 0.5}),
    ("feedback", "FeedbackModel", "send_feedback", "send-feedback", {"request": {"jsonData": {"a": 1}}, "reward": 0.5}),
    ("identity", "Identity", "send_feedback", "send-feedback", {"reward": 0.5}),
    ("router", "Router", "send_feedback", "send-feedback",
     {"request": {"data": {"names": ["x"], "ndarray": [[1, 2]]}}, "reward": 0.5, "response": {"meta": {"routing": {"0": 1}}}}),
    ("seldon_shim", "ShimModel", "predict", "predict", {"data": {"ndarray": [[1.0]]}, "meta": {"tags": {"r": 1}}}),
    ("identity", "Identity", "health_status", "health", None),
    ("full", "FullModel", "predict", "predict", {"data": {"ndarray": [[1.0, 2.0]]}, "meta": {
        "metrics": [{"type": "COUNTER", "key": "upstream", "value": 3.0}], "requestPath": {"up": "u:1"}}}),
    ("identity", "Identity", "transform_input", "transform-input",
     {"data": {"tensor": {"shape": [2], "values": [1, 2]}}, "meta": {"requestPath": {"a": "b"}}}),
    ("combiner", "Combiner", "aggregate", "aggregate", [{"data": {"tensor": {"shape": [1], "values": [1.0]}}},
                                                        {"data": {"tensor": {"shape": [1], "values": [3.0]}}}]),
    ("seldon_shim", "ShimModel", "health_status", "health", None),
]


def test_dataplane_matches_seldon_core_methods(seldon_python: Path, tmp_path: Path, make_dp) -> None:
    """Our DataPlane and seldon-core's own seldon_methods give the same JSON for the fixtures.
    (The shim fixture imports the real seldon_core in that venv.)"""
    fixtures = Path(__file__).parent.parent / "fixtures"
    cases = [{"folder": f, "class": c, "method": m, "request": r} for f, c, m, _, r in SELDON_METHOD_CASES]
    # the same cases again as a named unit in a graph: requestPath and feedback routing key
    env = {"PREDICTIVE_UNIT_ID": "unit1", "PREDICTIVE_UNIT_IMAGE": "repo/img:0.1"}
    cases += [dict(c, env=env) for c in cases]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    theirs = json.loads(run(seldon_python, str(SCRIPTS / "seldon_methods_ref.py"), str(fixtures),
                            str(tmp_path / "cases.json")).splitlines()[-1])
    assert len(theirs) == 2 * len(SELDON_METHOD_CASES)
    for case, expected in zip(cases, theirs):
        folder, cls, request = case["folder"], case["class"], case["request"]
        ours_method = next(o for f, c, m, o, _ in SELDON_METHOD_CASES if m == case["method"])
        env = case.get("env") or {}
        dp = make_dp(folder, cls, predictive_unit_id=env.get("PREDICTIVE_UNIT_ID"),
                     predictive_unit_image=env.get("PREDICTIVE_UNIT_IMAGE"))
        got = dp.seldon_health_status() if ours_method == "health" else dp.seldon(ours_method, request)
        ours = json.loads(orjson.dumps(got, option=orjson.OPT_SERIALIZE_NUMPY, default=seldon_codec.json_default))
        assert ours == _without_method_label(expected), (folder, ours_method, request, env)


def _without_method_label(response: dict) -> dict:
    """seldon-core's metrics code adds its Prometheus label `method` into the tags dict of a
    custom metric (in place), so it leaks into meta.metrics; modelpack does not echo that label
    (docs/runtime-dataplane.md lists the difference)."""
    for metric in response.get("meta", {}).get("metrics", []):
        tags = metric.get("tags")
        if tags and "method" in tags:
            del tags["method"]
    return response


def test_health_differs_from_seldon_only_by_not_calling_metrics_and_tags(seldon_python: Path, tmp_path: Path,
                                                                         make_dp) -> None:
    """The one deliberate difference (C.13): Seldon's health check calls tags()/metrics() and puts
    them in meta; ours does not. Everything else in the answer is the same."""
    fixtures = Path(__file__).parent.parent / "fixtures"
    cases = [{"folder": "full", "class": "FullModel", "method": "health_status", "request": None}]
    (tmp_path / "cases.json").write_text(json.dumps(cases))
    (theirs,) = json.loads(run(seldon_python, str(SCRIPTS / "seldon_methods_ref.py"), str(fixtures),
                               str(tmp_path / "cases.json")).splitlines()[-1])
    ours = json.loads(orjson.dumps(make_dp("full", "FullModel").seldon_health_status(),
                                   option=orjson.OPT_SERIALIZE_NUMPY))
    assert theirs["meta"]["tags"] == {"model": "full"} and len(theirs["meta"]["metrics"]) == 2
    assert ours == dict(theirs, meta={})


def test_error_statuses_match_seldon_core(seldon_python: Path, tmp_path: Path, make_dp, model_dir) -> None:
    """Same HTTP status and reason as seldon-core for the errors a client can meet (our messages
    are more precise; seldon-core's are often empty)."""
    bad_metric = model_dir("BadMetricM", "class BadMetricM:\n    def predict(self, X, names):\n        return X\n"
                                         "    def metrics(self):\n        return [{'type': 'HISTO', 'key': 'k', 'value': 1}]\n")
    bad_route = model_dir("BadRouteM", "class BadRouteM:\n    def route(self, X, names):\n        return 'left'\n")
    cases = [
        ("identity", "Identity", "route", "route", {"data": {"ndarray": [1]}}),
        ("identity", "Identity", "aggregate", "aggregate", [{"data": {"ndarray": [1]}}]),
        ("identity", "Identity", "predict", "predict", {"foo": 1}),
        ("raising", "Raising", "predict", "predict", {"strData": "boom"}),
        ("seldon_shim", "ShimModel", "predict", "predict", {"strData": "teapot"}),
        (bad_metric, "BadMetricM", "predict", "predict", {"data": {"ndarray": [1]}}),
        (bad_route, "BadRouteM", "route", "route", {"data": {"ndarray": [1]}}),
        ("feedback", "FeedbackModel", "send_feedback", "send-feedback", {"bogus": 1}),
    ]
    fixtures = Path(__file__).parent.parent / "fixtures"
    (tmp_path / "cases.json").write_text(json.dumps(
        [{"folder": str(f), "class": c, "method": m, "request": r} for f, c, m, _, r in cases]))
    theirs = json.loads(run(seldon_python, str(SCRIPTS / "seldon_methods_ref.py"), str(fixtures),
                            str(tmp_path / "cases.json")).splitlines()[-1])
    for (folder, cls, _, method, request), expected in zip(cases, theirs):
        with pytest.raises(Exception) as ei:
            make_dp(folder, cls).seldon(method, request)
        err = ei.value
        assert [err.status_code, err.reason] == expected["error"], (cls, method, request, err.message)
        assert err.message  # never an empty explanation
