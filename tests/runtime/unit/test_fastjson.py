"""fastjson (large JSON tensors via pysimdjson) gives exactly what the general path gives.

The general path is orjson.loads + np.array of the big list, then the protocol's decoder. The
property tests write random request bodies token by token (numbers in every textual form, ints at
and beyond the int64/uint64 edges, floats that underflow or overflow, bools, null, strings with
"[" or non-ASCII text or bad escapes, nested, ragged and empty lists, duplicate and extra keys) and
check, for Seldon `data.ndarray`, KServe V1 `instances` and V2 `inputs[0].data`:
- soundness: whenever fastjson answers, its document equals orjson's with the big list replaced
  by np.array(list) (same dtype, shape, bytes and flags), and the protocol's decoder gives the same
  result, or the same error class and message, from either document;
- completeness on plain bodies: a rectangular all-float or all-int64 array with ASCII strings
  around it does take the fast path (so the speed-up is not silently lost).
The unit tests below name each fallback trigger.
"""
from __future__ import annotations

import json
import math
import re
import struct
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings
from hypothesis import strategies as st

from modelpack_runtime import fastjson, seldon_codec
from modelpack_runtime import v2_codec as v2
from modelpack_runtime.errors import MicroserviceError

pytestmark = [
    pytest.mark.skipif(not fastjson.available(), reason="pysimdjson is not installed"),
    # FP16 data beyond its range becomes inf, with numpy's warning, on both paths alike
    pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning"),
]

# the fixtures below (LARGE = 0, one DataPlane, monkeypatch) are meant to last across examples
PROPERTY = settings(max_examples=400, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def any_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path normally starts at fastjson.LARGE bytes; the generated bodies are small."""
    monkeypatch.setattr(fastjson, "LARGE", 0)


# ---- JSON text, token by token -------------------------------------------------------------------

WS = st.sampled_from(["", "", "", " ", "\n", "\t", "\r\n  "])
INT_EDGES = ["0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
             "-9223372036854775809", "18446744073709551615", "18446744073709551616",
             "123456789012345678901234567890", "9007199254740993"]
FLOAT_EDGES = ["1.0", "-0.0", "0.0", "1e5", "1E5", "1e+5", "2.5E-3", "1e-400", "-1e-400", "1e400", "-1e400",
               "1.7976931348623157e308", "1.7976931348623159e308", "4.9e-324", "2.2250738585072011e-308",
               "9007199254740993.0", "0.1000000000000000055511151231257827021181583404541015625",
               "9.3e18", "9.223372036854775808e18", "1e19", "-1e19", "123456789012345678901234567890.5"]
INTS = st.one_of(st.integers(-1000, 1000).map(str), st.integers(-2 ** 66, 2 ** 66).map(str), st.sampled_from(INT_EDGES))
FLOATS = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
    st.sampled_from(FLOAT_EDGES),
    st.tuples(st.integers(0, 10 ** 25), st.integers(0, 10 ** 25), st.integers(-340, 320)).map(
        lambda t: f"{t[0]}.{t[1]}e{t[2]}"),
)
TEXT = st.one_of(st.text(max_size=8), st.sampled_from(["a[b", "]", "x", "é", "\u2028", "\U0001F600"]))
STRINGS = st.one_of(
    TEXT.map(lambda t: json.dumps(t, ensure_ascii=True)),
    TEXT.map(lambda t: json.dumps(t, ensure_ascii=False)),
    st.sampled_from(['"\\ud800"', '"\\udc00x"', '"\\ud83d\\ude00"', '"a\x01b"', '"\\x"', '"\\u0041[\\n"']),
)
OTHERS = st.sampled_from(["true", "false", "null", "{}", '{"a":1}', "[]"])
PLAIN_SCALARS = {  # what a client sends: finite floats in any form, integers within int64
    "float": st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr),
                       st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
                       st.tuples(st.integers(0, 999), st.integers(0, 10 ** 9), st.integers(-300, 300)).map(
                           lambda t: f"{t[0]}.{t[1]}e{t[2]}")),
    "int": st.integers(-2 ** 63, 2 ** 63 - 1).map(str),
}
SCALARS = {
    "float": FLOATS,
    "int": INTS,
    "mixed": st.one_of(FLOATS, INTS),
    "any": st.one_of(FLOATS, INTS, INTS, STRINGS, OTHERS),
}


@st.composite
def array_text(draw: Any, plain: bool = False) -> str:
    """A JSON array: mostly 1-D or rectangular 2-D, sometimes ragged, nested, empty or 3-D."""
    elems = (PLAIN_SCALARS[draw(st.sampled_from(["float", "int"]))] if plain else
             SCALARS[draw(st.sampled_from(["float", "float", "int", "mixed", "mixed", "any"]))])
    form = "2d" if plain and draw(st.booleans()) else "1d" if plain else draw(
        st.sampled_from(["1d", "2d", "2d", "2d", "ragged", "nested", "3d", "empty", "empty_rows"]))

    def row(n: int) -> str:
        parts = [draw(WS) + draw(elems) + draw(WS) for _ in range(n)]
        return "[" + ",".join(parts) + "]"

    if form == "empty":
        return "[" + draw(WS) + "]"
    rows, cols = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    if form == "1d":
        return row(draw(st.integers(1, 6)))
    if form == "2d":
        return "[" + ",".join(draw(WS) + row(cols) for _ in range(rows)) + "]"
    if form == "empty_rows":
        return "[" + ",".join("[]" for _ in range(rows)) + "]"
    if form == "ragged":
        return "[" + ",".join(row(draw(st.integers(1, 4))) for _ in range(rows)) + "]"
    if form == "3d":
        return "[" + ",".join("[" + ",".join(row(cols) for _ in range(2)) + "]" for _ in range(rows)) + "]"
    # "nested": one element of a 2-D array is itself a list (or a row is a scalar)
    body_rows = [row(cols) for _ in range(rows)]
    i = draw(st.integers(0, rows - 1))
    body_rows[i] = draw(st.sampled_from([
        body_rows[i][:-1] + ",[" + draw(elems) + "]]",
        "[[" + draw(elems) + "]" + body_rows[i][1:] if cols > 1 else "[[1]]",
        draw(elems),
    ]))
    return "[" + ",".join(body_rows) + "]"


def obj(members: list[tuple[str, str]], ws: Any) -> str:
    return "{" + ",".join(f'{ws()}"{k}"{ws()}:{ws()}{v}{ws()}' for k, v in members) + "}"


@st.composite
def small_value(draw: Any, plain: bool = False) -> str:
    """A small JSON value for meta, names, parameters, id: may hold arrays, strings with "[" ..."""
    if plain:
        return draw(st.sampled_from(['{}', '{"puid":"abc","tags":{"a":"b","n":1.5}}', '"id-1"', '{"k":true}']))
    return draw(st.one_of(
        STRINGS, INTS, FLOATS, OTHERS,
        st.lists(st.one_of(STRINGS, INTS), max_size=3).map(lambda xs: "[" + ",".join(xs) + "]"),
        st.dictionaries(st.sampled_from(["puid", "tags", "k", "é", "x[0]"]), st.one_of(STRINGS, INTS, OTHERS),
                        max_size=3).map(lambda d: "{" + ",".join(f"{json.dumps(k)}:{v}" for k, v in d.items()) + "}"),
    ))


def members_with_noise(draw: Any, members: list[tuple[str, str]], extras: list[str], plain: bool) -> list:
    """Shuffle, and (unless plain) sometimes duplicate a key or add an unexpected one."""
    members = list(members)
    if not plain:
        if draw(st.integers(0, 9)) == 0:
            members.append(draw(st.sampled_from(members)))
        if draw(st.integers(0, 9)) == 0:
            members.append((draw(st.sampled_from(extras)), draw(small_value())))
    return draw(st.permutations(members))


@st.composite
def seldon_body(draw: Any, plain: bool = False) -> bytes:
    ws = lambda: draw(WS) if not plain else ""
    data = [("ndarray", draw(array_text(plain)))]
    if draw(st.booleans()):
        data.append(("names", '["a","b"]' if plain else draw(small_value())))
    data = members_with_noise(draw, data, ["tensor", "tftensor"], plain)
    top = [("data", obj(data, ws))]
    if draw(st.booleans()):
        top.append(("meta", draw(small_value(plain))))
    top = members_with_noise(draw, top, ["strData", "jsonData", "binData"], plain)
    return (draw(st.sampled_from(["", "", " ", "\ufeff"])) if not plain else "").encode() + obj(top, ws).encode()


@st.composite
def v1_body(draw: Any, plain: bool = False) -> bytes:
    ws = lambda: draw(WS) if not plain else ""
    top = [("instances", draw(array_text(plain)))]
    if draw(st.booleans()):
        top.append(("parameters", draw(small_value(plain))))
    return obj(members_with_noise(draw, top, ["inputs", "instances"], plain), ws).encode()


DATATYPES = list(v2.DTYPES) + ["FP8", "fp32"]


@st.composite
def v2_body(draw: Any, plain: bool = False) -> bytes:
    ws = lambda: draw(WS) if not plain else ""
    data = draw(array_text(plain))
    floats = np.array(orjson.loads(data)).dtype.kind == "f" if plain else True
    datatype = draw(st.sampled_from((["FP32", "FP64", "FP16"] if floats else ["FP32", "INT64", "INT32"])
                                    if plain else DATATYPES))
    shape = json.dumps(list(np.array(orjson.loads(data)).shape)) if plain else draw(st.sampled_from(
        ["[1,2]", "[2,2]", "[4]", "[-1]", "[2.0]", "[true]", '["2"]', "[]", "7"]))
    tensor = [("name", '"x"' if plain else draw(st.one_of(STRINGS, INTS))), ("shape", shape),
              ("datatype", json.dumps(datatype)), ("data", data)]
    if draw(st.booleans()):
        tensor.append(("parameters", '{"content_type":"np"}' if plain else draw(small_value())))
    tensor = members_with_noise(draw, tensor, ["contents"], plain)
    top = [("inputs", "[" + obj(tensor, ws) + "]")]
    for key in ("id", "parameters", "outputs"):
        if draw(st.booleans()):
            top.append((key, {"id": '"req-1"', "parameters": '{"binary_data_output":false}',
                              "outputs": '[{"name":"y"}]'}[key] if plain else draw(small_value())))
    return obj(members_with_noise(draw, top, ["input", "inputs"], plain), ws).encode()


NUMBER = re.compile(rb"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
ODD_TOKENS = [t.encode() for t in INT_EDGES + FLOAT_EDGES] + [
    b"true", b"false", b"null", b'"1"', b"[1]", b"[]", b"{}", b'"a[b"', b"[1.5,[2]]"]
TOP_KEYS = {"seldon": ["data", "meta", "strData"], "v1": ["instances", "parameters", "inputs"],
            "v2": ["inputs", "id", "outputs", "parameters"]}


@st.composite
def near_plain(draw: Any, kind: str) -> bytes:
    """A plain body with one mutation: the boundary between the fast and the general path."""
    body = draw({"seldon": seldon_body, "v1": v1_body, "v2": v2_body}[kind](plain=True))
    numbers = list(NUMBER.finditer(body))
    how = draw(st.sampled_from(["token", "token", "token", "drop", "nest", "prefix", "key", "none"]))
    if how in ("token", "drop", "nest") and numbers:
        m = draw(st.sampled_from(numbers))
        new = {"token": draw(st.sampled_from(ODD_TOKENS)), "drop": b"", "nest": b"[" + m.group() + b"]"}[how]
        start, end = m.span()
        if how == "drop":  # drop the element and a comma next to it: a row gets shorter
            if body[end:end + 1] == b",":
                end += 1
            elif body[start - 1:start] == b",":
                start -= 1
        return body[:start] + new + body[end:]
    if how == "prefix":
        return draw(st.sampled_from([b" ", b"\xef\xbb\xbf", b"\n"])) + body
    if how == "key":  # a duplicate or unexpected top-level key
        return b'{"' + draw(st.sampled_from(TOP_KEYS[kind])).encode() + b'":' + draw(st.sampled_from(ODD_TOKENS)) + b"," + body[1:]
    return body


def bodies(kind: str) -> Any:
    generator = {"seldon": seldon_body, "v1": v1_body, "v2": v2_body}[kind]
    return st.one_of(generator(), near_plain(kind))


# ---- comparing -----------------------------------------------------------------------------------

BIG = {"seldon": ("data", "ndarray"), "v1": ("instances",), "v2": ("inputs", 0, "data")}


def same_value(fast: Any, slow: Any, where: str) -> None:
    """fast == slow, exactly: same types, dict key order, float bits (-0.0, subnormals)."""
    assert type(fast) is type(slow), f"{where}: {type(fast).__name__} vs {type(slow).__name__}"
    if isinstance(slow, dict):
        assert list(fast) == list(slow), where
        for k in slow:
            same_value(fast[k], slow[k], f"{where}.{k}")
    elif isinstance(slow, list):
        assert len(fast) == len(slow), where
        for i, (a, b) in enumerate(zip(fast, slow)):
            same_value(a, b, f"{where}[{i}]")
    elif isinstance(slow, float):
        assert struct.pack("<d", fast) == struct.pack("<d", slow), f"{where}: {fast!r} vs {slow!r}"
    else:
        assert fast == slow, f"{where}: {fast!r} vs {slow!r}"


def same_array(fast: np.ndarray, slow: np.ndarray, where: str) -> None:
    assert type(fast) is np.ndarray, where
    assert fast.dtype == slow.dtype and fast.shape == slow.shape, f"{where}: {fast.dtype}{fast.shape} vs {slow.dtype}{slow.shape}"
    assert fast.tobytes() == slow.tobytes(), where
    for flag in ("C_CONTIGUOUS", "OWNDATA", "WRITEABLE", "ALIGNED"):
        assert fast.flags[flag] == slow.flags[flag], f"{where}: flag {flag}"


def check_document(kind: str, body: bytes) -> Any:
    """fastjson's document equals orjson's with the big list as np.array(list). Returns it (or None)."""
    fast = fastjson.loads(body, kind)
    if currently_in_test_context():  # pytest --hypothesis-show-statistics shows how often each path ran
        event("fast path" if fast is not None else "general path")
    if fast is None:
        return None
    slow = orjson.loads(body)  # raises if fastjson accepted what orjson rejects: a failure
    path = BIG[kind]
    fast_big, slow_big = fast, slow
    for step in path[:-1]:
        fast_big, slow_big = fast_big[step], slow_big[step]
    fast_arr, slow_list = fast_big[path[-1]], slow_big[path[-1]]
    same_array(fast_arr, np.array(slow_list), kind)  # np.array raising here is a failure too
    fast_big[path[-1]], slow_big[path[-1]] = None, None
    same_value(fast, slow, kind)
    fast_big[path[-1]] = fast_arr
    return fast


def outcome(fn: Any) -> Any:
    try:
        return ("ok", fn())
    except MicroserviceError as e:
        return ("error", type(e).__name__, e.status_code, e.message)


def same_outcome(fast: Any, slow: Any) -> None:
    assert fast[0] == slow[0], (fast, slow)
    if fast[0] == "error":
        assert fast == slow
        return
    a, b = fast[1], slow[1]
    assert type(a) is type(b)
    if isinstance(b, seldon_codec.Decoded):
        same_array(a.features, b.features, "features")
        assert (a.names, a.meta, a.kind) == (b.names, b.meta, b.kind)
    elif isinstance(b, v2.InferRequest):
        assert (a.id, a.parameters, a.outputs) == (b.id, b.parameters, b.outputs)
        assert len(a.inputs) == len(b.inputs)
        for x, y in zip(a.inputs, b.inputs):
            assert (x.name, x.shape, x.datatype, x.parameters) == (y.name, y.shape, y.datatype, y.parameters)
            assert x.data.dtype == y.data.dtype and x.data.shape == y.data.shape
            assert x.data.tobytes() == y.data.tobytes()
    else:  # the V1 response dict, predictions as an array or list
        assert list(a) == list(b) == ["predictions"]
        pa, pb = a["predictions"], b["predictions"]
        assert type(pa) is type(pb)
        if isinstance(pb, np.ndarray):
            same_array(pa, pb, "predictions")
        else:
            same_value(pa, pb, "predictions")


# ---- soundness -----------------------------------------------------------------------------------

@PROPERTY
@given(bodies("seldon"))
def test_seldon_fast_equals_general(body: bytes) -> None:
    fast = check_document("seldon", body)
    if fast is not None:
        slow = orjson.loads(body)
        same_outcome(outcome(lambda: seldon_codec.decode(fast)), outcome(lambda: seldon_codec.decode(slow)))


@PROPERTY
@given(body=bodies("v1"))
def test_v1_fast_equals_general(body: bytes, make_dp_once: Any) -> None:
    fast = check_document("v1", body)
    if fast is not None:
        slow = orjson.loads(body)
        same_outcome(outcome(lambda: make_dp_once.v1_predict("Identity", fast)),
                     outcome(lambda: make_dp_once.v1_predict("Identity", slow)))


@PROPERTY
@given(body=bodies("v2"))
def test_v2_fast_equals_general(body: bytes, monkeypatch_session: Any) -> None:
    check_document("v2", body)
    fast = outcome(lambda: v2.decode_request(body))
    with monkeypatch_session.context() as m:
        m.setattr(fastjson, "loads", lambda body, kind: None)
        slow = outcome(lambda: v2.decode_request(body))
    same_outcome(fast, slow)


# ---- completeness on plain bodies ----------------------------------------------------------------

@PROPERTY
@given(st.sampled_from(["seldon", "v1", "v2"]).flatmap(
    lambda kind: st.tuples(st.just(kind), {"seldon": seldon_body, "v1": v1_body, "v2": v2_body}[kind](plain=True))))
def test_plain_bodies_take_the_fast_path(case: tuple) -> None:
    kind, body = case
    doc = orjson.loads(body)
    big = np.array(doc["data"]["ndarray"] if kind == "seldon" else doc["instances"] if kind == "v1" else
                   doc["inputs"][0]["data"])
    if big.dtype == np.uint64 or big.dtype == object or (big.dtype.kind == "f" and np.abs(big).max() >= 2 ** 63):
        return  # integers beyond int64, or floats in their range: the general path, by design
    assert check_document(kind, body) is not None, body


# ---- fixtures for the properties (hypothesis runs many examples in one test call) ----------------

@pytest.fixture
def make_dp_once(make_dp: Any) -> Any:
    return make_dp("identity", "Identity")


@pytest.fixture
def monkeypatch_session(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    return monkeypatch


# ---- each reason to take the general path ----------------------------------------------------------

ROWS = "[" + ",".join(["[1.5,2.5,3.5]"] * 3) + "]"


@pytest.mark.parametrize("body", [
    pytest.param(b"\xef\xbb\xbf" + b'{"data":{"ndarray":' + ROWS.encode() + b"}}", id="utf8-bom"),
    pytest.param(b' {"data":{"ndarray":' + ROWS.encode() + b"}}", id="leading-space"),
    pytest.param(b'{"data":{"ndarray":' + ROWS.encode() + b',"names":["a[0]"]}}', id="bracket-in-string"),
    pytest.param(b'{"data":{"ndarray":[[1.5,[2.5],3.5],[1.5,2.5,3.5]]}}', id="list-in-a-row"),
    pytest.param(b'{"data":{"ndarray":[[1.5,2.5],[3.5]]}}', id="ragged"),
    pytest.param(b'{"data":{"ndarray":[[1.5,2.5,3.5],[4.5],[5.5,6.5]]}}', id="ragged-same-total"),
    pytest.param(b'{"data":{"ndarray":[[1.5,true]]}}', id="bool"),
    pytest.param(b'{"data":{"ndarray":[[1.5,"2"]]}}', id="string"),
    pytest.param(b'{"data":{"ndarray":[[1.5,null]]}}', id="null"),
    pytest.param(b'{"data":{"ndarray":[[1.5,{}]]}}', id="object"),
    pytest.param(b'{"data":{"ndarray":[]}}', id="empty"),
    pytest.param(b'{"data":{"ndarray":[[],[]]}}', id="empty-rows"),
    pytest.param(b'{"data":{"ndarray":[[[1.5]],[[2.5]]]}}', id="3-d"),
    pytest.param(b'{"data":{"ndarray":[1.5,9223372036854775808]}}', id="uint64-range-int"),
    pytest.param(b'{"data":{"ndarray":[1,9223372036854775808]}}', id="uint64-range-ints"),
    pytest.param(b'{"data":{"ndarray":[1.5,18446744073709551616]}}', id="beyond-uint64"),
    pytest.param(b'{"data":{"ndarray":[1.5,-9223372036854775809]}}', id="below-int64"),
    pytest.param(b'{"data":{"ndarray":[1.5,1e19]}}', id="float-beyond-int64"),
    pytest.param(b'{"data":{"ndarray":[1.5,1e400]}}', id="float-overflow"),
    pytest.param(b'{"data":{"ndarray":[1.5,2.5]},"data":{"ndarray":[1.5]}}', id="duplicate-key"),
    pytest.param(b'{"data":{"ndarray":[1.5,2.5]},"strData":"x"}', id="extra-key"),
    pytest.param(b'{"data":{"ndarray":[1.5,2.5],"names":["\xc3\xa9"]}}', id="non-ascii-string"),
    pytest.param(b'{"data":{"ndarray":[1.5,2.5],"names":["\\ud800"]}}', id="lone-surrogate"),
    pytest.param(b'{"data":{"ndarray":[1.5,2.5]}} x', id="trailing-garbage"),
    pytest.param(b'{"data":{"tensor":{"shape":[2],"values":[1.5,2.5]}}}', id="tensor-not-ndarray"),
])
def test_seldon_fallbacks(body: bytes) -> None:
    assert fastjson.loads(body, "seldon") is None


@pytest.mark.parametrize("body", [
    pytest.param(b'{"inputs":[{"name":"x","shape":[2],"datatype":"BYTES","data":[1.5,2.5]}]}', id="bytes"),
    pytest.param(b'{"inputs":[{"name":"x","shape":[2],"datatype":"INT32","data":[1,2.5]}]}', id="float-for-int"),
    pytest.param(b'{"inputs":[{"name":"x","shape":[1],"datatype":"FP32","data":[1.5]},'
                 b'{"name":"y","shape":[1],"datatype":"FP32","data":[1.5]}]}', id="two-inputs"),
    pytest.param(b'{"inputs":[{"name":"x","shape":[2],"datatype":7,"data":[1.5,2.5]}]}', id="datatype-not-str"),
    pytest.param(b'{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","data":[1.5,2.5],"contents":{}}]}',
                 id="extra-tensor-key"),
    pytest.param(b'{"inputs":[{"name":"x","shape":[2],"datatype":"FP32","parameters":{"binary_data_size":8}}]}',
                 id="no-data"),
])
def test_v2_fallbacks(body: bytes) -> None:
    assert fastjson.loads(body, "v2") is None


def test_v1_fallbacks() -> None:
    assert fastjson.loads(b'{"inputs":[[1.5,2.5]]}', "v1") is None  # V1 "inputs": rare, general path
    assert fastjson.loads(b'{"instances":[[1.5,2.5]],"extra":1}', "v1") is None


def test_small_bodies_and_missing_pysimdjson_take_the_general_path(monkeypatch: pytest.MonkeyPatch) -> None:
    body = b'{"instances":' + ROWS.encode() + b"}"
    assert fastjson.loads(body, "v1") is not None
    monkeypatch.setattr(fastjson, "LARGE", len(body) + 1)
    assert fastjson.loads(body, "v1") is None
    monkeypatch.setattr(fastjson, "LARGE", 0)
    monkeypatch.setattr(fastjson, "_simdjson", None)
    monkeypatch.setattr(fastjson, "_unavailable", "No module named 'simdjson'")
    assert not fastjson.available() and fastjson.loads(body, "v1") is None


def test_the_benchmark_bodies_take_the_fast_path() -> None:
    x = np.random.default_rng(1).uniform(-1, 1, (1000, 100)).astype(np.float32)
    bodies = {
        "seldon": orjson.dumps({"data": {"ndarray": x.tolist()}}),
        "v1": orjson.dumps({"instances": x.tolist()}),
        "v2": orjson.dumps({"inputs": [{"name": "x", "shape": [1000, 100], "datatype": "FP32",
                                        "data": x.ravel().tolist()}]}),
    }
    for kind, body in bodies.items():
        assert len(body) > 1_000_000
        assert check_document(kind, body) is not None, kind
    request = v2.decode_request(bodies["v2"])
    assert request.inputs[0].data.dtype == np.float32 and np.array_equal(request.inputs[0].data, x)


def test_integers_stay_int64_as_np_array_gives() -> None:
    doc = fastjson.loads(b'{"data":{"ndarray":[[1,2],[3,-4]]}}', "seldon")
    arr = doc["data"]["ndarray"]
    assert arr.dtype == np.int64 and arr.tolist() == [[1, 2], [3, -4]]
    doc = fastjson.loads(b'{"data":{"ndarray":[[1,2.0],[3,-4]]}}', "seldon")
    assert doc["data"]["ndarray"].dtype == np.float64


def test_int_data_for_fp32_rounds_like_the_general_path() -> None:
    # 2**60 + 2**36 + 1 rounds differently int -> float32 than int -> float64 -> float32
    n = 2 ** 60 + 2 ** 36 + 1
    body = orjson.dumps({"inputs": [{"name": "x", "shape": [2], "datatype": "FP32", "data": [n, 1]}]})
    fast = v2.decode_request(body).inputs[0].data
    slow = np.array([n, 1]).astype(np.float32)
    assert fast.tobytes() == slow.tobytes()


def test_a_parser_in_use_elsewhere_does_not_break_the_next_request() -> None:
    body = b'{"instances":' + ROWS.encode() + b"}"
    fastjson._local.parser = None
    parser = fastjson._simdjson.Parser()
    fastjson._local.parser = parser
    alive = parser.parse(b"[[1]]")  # a proxy of an earlier document: this parser refuses to parse again
    assert fastjson.loads(body, "v1") is None  # general path this time ...
    assert fastjson.loads(body, "v1") is not None  # ... and a fresh parser the next
    del alive


def test_math_of_the_bracket_count() -> None:
    # the "[" count is what rules out lists nested in rows: a row [1,[2]] has as many elements
    # as [1,2] and as_buffer flattens both the same way
    assert fastjson.loads(b'{"instances":[[1.5,[2.5]],[3.5,4.5]]}', "v1") is None
    assert math.isclose(fastjson.loads(b'{"instances":[[1.5,2.5],[3.5,4.5]]}', "v1")["instances"].sum(), 12.0)
