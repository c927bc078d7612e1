"""SeldonMessage decode (contract C.6) and encode (C.8), transport-neutral.

Requests arrive as decoded JSON (dicts/lists); the gRPC adapter passes the same shapes, possibly
with a numpy float64 array as `data.tensor.values`. Responses are dicts for orjson with
OPT_SERIALIZE_NUMPY: numpy arrays are left in place only when orjson can serialise them (native,
C-contiguous bool/int/uint/float32/64), anything else becomes a list. `json_default` is a safety
net for the HTTP layer's `orjson.dumps(default=...)` (numpy values inside user jsonData).
"""
from __future__ import annotations

import base64
import binascii
from typing import Any, Callable

import numpy as np

from .errors import MicroserviceError

DATA_KINDS = ("tensor", "ndarray", "tftensor")
PAYLOAD_KEYS = ("data", "binData", "strData", "jsonData", "customData")
_ORJSON_KINDS = frozenset("biuf")


class Decoded:
    """One decoded SeldonMessage: what the user method gets, plus how the request was shaped."""

    __slots__ = ("features", "kind", "meta", "names")

    def __init__(self, features: Any, names: list, meta: dict | None, kind: str | None) -> None:
        self.features = features
        self.names = names
        self.meta = meta
        self.kind = kind  # "tensor" | "ndarray" | "tftensor" when `data` was sent, else None


def _tensorflow() -> Any:
    try:
        import tensorflow as tf
    except ImportError:
        raise MicroserviceError(
            "data.tftensor needs tensorflow, which is not installed in this image;"
            " add tensorflow to requirements.txt, or send data.tensor or data.ndarray instead"
        ) from None
    return tf


def array_from_ndarray(value: Any, where: str = "data.ndarray") -> np.ndarray:
    """np.array(value) with ragged input turned into a clear 400 (numpy raises ValueError for
    ragged nested lists; older numpy silently made object arrays of lists). A numpy array is
    that array already (fastjson decoded a large body: it equals np.array of the list)."""
    if type(value) is np.ndarray:
        return value
    try:
        arr = np.array(value)
    except ValueError as e:
        raise MicroserviceError(
            f"{where} is ragged (nested lists of different lengths) or mixes lists and scalars;"
            f" every row must have the same length ({e})"
        ) from None
    if arr.dtype.kind == "O" and arr.size and any(isinstance(x, list) for x in arr.flat):
        raise MicroserviceError(
            f"{where} is ragged (nested lists of different lengths); every row must have the same length"
        )
    return arr


def decode_data(data: Any) -> tuple[np.ndarray, str | None, list]:
    """A DefaultData object -> (array, kind, names)."""
    if not isinstance(data, dict):
        raise MicroserviceError(f"'data' must be an object with tensor, ndarray or tftensor, got {type(data).__name__}")
    names = data.get("names") or []
    if "tensor" in data:
        t = data["tensor"]
        if not isinstance(t, dict):
            raise MicroserviceError(f"data.tensor must be an object with 'shape' and 'values', got {type(t).__name__}")
        values = t.get("values", [])
        arr = values if isinstance(values, np.ndarray) else np.asarray(values)
        if arr.dtype.kind not in _ORJSON_KINDS or arr.ndim > 1:
            raise MicroserviceError("data.tensor.values must be a flat list of numbers")
        shape = t.get("shape")
        if shape is not None:
            try:
                arr = arr.reshape(shape)
            except (ValueError, TypeError):
                raise MicroserviceError(
                    f"data.tensor: {arr.size} values do not fit shape {list(shape)!r};"
                    " the product of shape must equal the number of values"
                ) from None
        return arr, "tensor", names
    if "ndarray" in data:
        return array_from_ndarray(data["ndarray"]), "ndarray", names
    if "tftensor" in data:
        tf = _tensorflow()
        from google.protobuf import json_format

        proto = data["tftensor"]
        if isinstance(proto, dict):
            proto = json_format.ParseDict(proto, tf.make_tensor_proto([]).__class__())
        return tf.make_ndarray(proto), "tftensor", names
    return np.array([]), "ndarray", names


# meta field -> (type, how to say it)
_META_FIELDS = {
    "puid": (str, "a string"), "tags": (dict, "an object"), "routing": (dict, "an object"),
    "requestPath": (dict, "an object"), "metrics": (list, "a list"),
}


def check_meta(meta: Any) -> None:
    if not isinstance(meta, dict):
        raise MicroserviceError(f"'meta' must be an object, got {type(meta).__name__}")
    for key, (type_, words) in _META_FIELDS.items():
        value = meta.get(key)
        if value is not None and not isinstance(value, type_):
            raise MicroserviceError(f"meta.{key} must be {words}, got {type(value).__name__}: {value!r}")


def decode(msg: Any) -> Decoded:
    """A SeldonMessage dict -> Decoded (C.6)."""
    if not isinstance(msg, dict):
        raise MicroserviceError(f"the request must be a JSON object (a SeldonMessage), got {type(msg).__name__}")
    meta = msg.get("meta")
    if meta is not None:
        check_meta(meta)
    if "data" in msg:
        features, kind, names = decode_data(msg["data"])
        return Decoded(features, names, meta, kind)
    if "jsonData" in msg:
        return Decoded(msg["jsonData"], [], meta, None)
    if "strData" in msg:
        return Decoded(msg["strData"], [], meta, None)
    if "binData" in msg:
        raw = msg["binData"]
        if isinstance(raw, (bytes, bytearray)):  # gRPC hands bytes already
            return Decoded(bytes(raw), [], meta, None)
        try:
            return Decoded(base64.b64decode(raw, validate=True), [], meta, None)
        except (binascii.Error, TypeError, ValueError):
            raise MicroserviceError("binData is not valid base64; encode the bytes with base64") from None
    if "customData" in msg:
        return Decoded(msg["customData"], [], meta, None)
    raise MicroserviceError(
        f"Invalid request data type: a SeldonMessage needs one of {', '.join(PAYLOAD_KEYS[:4])};"
        f" got keys {sorted(msg)!r}"
    )


def jsonable(arr: np.ndarray) -> Any:
    """An array orjson (OPT_SERIALIZE_NUMPY) can serialise as-is, or a list.

    float16/float32 are widened to float64 first: orjson writes float32 in its shortest float32
    form (0.33333334), Seldon's json.dumps(tolist()) the float64 value (0.3333333432674408);
    clients comparing against Seldon see the same digits this way.
    """
    dtype = arr.dtype
    if dtype.kind == "f" and dtype.itemsize < 8:
        arr = arr.astype(np.float64)
        dtype = arr.dtype
    if dtype.kind in _ORJSON_KINDS and arr.ndim > 0 and arr.flags.c_contiguous and dtype.isnative:
        return arr
    return arr.tolist()


def json_default(obj: Any) -> Any:
    """orjson `default=` hook: numpy values orjson refuses (object/str/float16 arrays, 0-d)."""
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, (bytes, bytearray)):
        return base64.b64encode(obj).decode("ascii")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"cannot serialise {type(obj).__name__} to JSON")


def _tftensor(arr: np.ndarray) -> dict:
    tf = _tensorflow()
    from google.protobuf import json_format

    return json_format.MessageToDict(tf.make_tensor_proto(arr))


def encode_payload(result: Any, request_kind: str | None, names_for: Callable[[int], list]) -> dict:
    """The payload part of a response (C.8), following the request's data kind."""
    if type(result) is np.ndarray:  # the common case first: it skips three isinstance checks
        return _encode_array(result, result, request_kind, names_for)
    if isinstance(result, dict):
        return {"jsonData": result}
    if isinstance(result, (bytes, bytearray)):
        return {"binData": base64.b64encode(result).decode("ascii")}
    if isinstance(result, str):
        return {"strData": result}
    if isinstance(result, (list, tuple, np.ndarray)):
        try:
            arr = result if isinstance(result, np.ndarray) else np.asarray(result)
        except ValueError:  # ragged list: not numeric, sent as-is
            return {"data": {"names": [], "ndarray": list(result)}}
        return _encode_array(result, arr, request_kind, names_for)
    if hasattr(result, "type_url") and hasattr(result, "value"):  # google.protobuf.Any (gRPC)
        return {"customData": result}
    raise MicroserviceError(
        f"Unknown data type returned as payload (must be list or np array): the model returned"
        f" {type(result).__name__}; return a list, numpy array, dict, str or bytes"
    )


def _encode_array(result: Any, arr: np.ndarray, request_kind: str | None, names_for: Callable[[int], list]) -> dict:
    """`result` (list, tuple or array) as `data`, with `arr` its array."""
    names = names_for(arr.shape[1]) if arr.ndim > 1 else []
    if arr.dtype.kind in "iuf":
        if request_kind == "tensor" or request_kind is None:
            values = jsonable(arr.ravel())
            return {"data": {"names": names, "tensor": {"shape": list(arr.shape), "values": values}}}
        if request_kind == "tftensor":
            return {"data": {"names": names, "tftensor": _tftensor(arr)}}
    if isinstance(result, np.ndarray):
        return {"data": {"names": names, "ndarray": jsonable(result)}}
    return {"data": {"names": names, "ndarray": result if isinstance(result, list) else list(result)}}


def route_branch(value: Any) -> int:
    """A route() result must be an int (numpy integers accepted), else 400 (C.7)."""
    if isinstance(value, (int, np.integer)) and not isinstance(value, np.bool_):
        return int(value)
    raise MicroserviceError(f"Routing response must be int but got {value!r}; route() must return a child index")


def response_meta(
    request_meta: dict | None,
    tags: dict | None,
    metrics: list | None,
    request_path: dict | None,
) -> dict:
    """`meta` of a response: puid copied, tags/metrics/requestPath merged; never mutates inputs."""
    meta: dict = {}
    rtags: Any = None
    rmetrics: Any = None
    rpath: Any = None
    if request_meta:
        puid = request_meta.get("puid")
        if puid:
            meta["puid"] = puid
        rtags = request_meta.get("tags")
        rmetrics = request_meta.get("metrics")
        rpath = request_meta.get("requestPath")
    if rtags or tags:
        merged = dict(rtags) if rtags else {}
        if tags:
            merged.update(tags)
        meta["tags"] = merged
    if rmetrics or metrics:
        meta["metrics"] = list(rmetrics or []) + list(metrics or [])
    if rpath or request_path:
        path = dict(rpath) if rpath else {}
        if request_path:
            path.update(request_path)
        meta["requestPath"] = path
    return meta


# ---- metadata (C.8 "Metadata") -------------------------------------------------------------

V2_DATATYPES = (
    "BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
    "FP16", "FP32", "FP64", "BYTES",
)
_METADATA_KEYS = ("name", "versions", "platform", "inputs", "outputs", "custom")


def split_image(image: str | None) -> tuple[str, str]:
    """"repo/name:tag" -> ("repo/name", "tag"); a registry port is not a tag."""
    if not image:
        return "", ""
    last = image.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = image.rsplit(":", 1)
        return name, tag
    return image, "latest"


def default_metadata(image: str | None, fallback_name: str = "") -> dict:
    """Name and version from PREDICTIVE_UNIT_IMAGE; without it the served model name and no
    versions (Seldon would say "NOT_IMPLEMENTED")."""
    if not image:
        return {"name": fallback_name, "versions": [], "platform": "", "inputs": [], "outputs": [], "custom": {}}
    name, tag = split_image(image)
    return {"name": name, "versions": [tag], "platform": "", "inputs": [], "outputs": [], "custom": {}}


def _check_io(items: Any, field: str, source: str) -> None:
    if not isinstance(items, list):
        raise ValueError(f"{field} must be a list, got {type(items).__name__}")
    for i, item in enumerate(items):
        where = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise ValueError(f"{where} must be an object, got {item!r}")
        keys = set(item)
        if "messagetype" in keys:
            extra = keys - {"messagetype", "schema"}
            if extra or not isinstance(item["messagetype"], str):
                raise ValueError(f"{where} {item!r}: a messagetype entry has only 'messagetype' (str) and 'schema'")
            if "schema" in item and not isinstance(item["schema"], dict):
                raise ValueError(f"{where}.schema must be an object, got {item['schema']!r}")
        else:
            if keys != {"name", "datatype", "shape"}:
                raise ValueError(
                    f"{where} {item!r}: expected {{'messagetype', 'schema'}} or exactly {{'name', 'datatype', 'shape'}}"
                )
            if not isinstance(item["name"], str):
                raise ValueError(f"{where}.name must be a string, got {item['name']!r}")
            if item["datatype"] not in V2_DATATYPES:
                raise ValueError(f"{where}.datatype {item['datatype']!r} is not one of {', '.join(V2_DATATYPES)}")
            shape = item["shape"]
            if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) for d in shape):
                raise ValueError(f"{where}.shape must be a list of integers, got {shape!r}")


def validate_metadata(md: Any) -> None:
    """Raise ValueError (plain words, naming the field) unless `md` fits Seldon's metadata schema."""
    if not isinstance(md, dict):
        raise ValueError(f"metadata must be an object, got {type(md).__name__}")
    extra = sorted(set(md) - set(_METADATA_KEYS))
    if extra:
        raise ValueError(f"unknown metadata keys {extra!r}; allowed: {', '.join(_METADATA_KEYS)}")
    if not isinstance(md.get("name", ""), str):
        raise ValueError(f"name must be a string, got {md['name']!r}")
    if not isinstance(md.get("platform", ""), str):
        raise ValueError(f"platform must be a string, got {md['platform']!r}")
    versions = md.get("versions", [])
    if not isinstance(versions, list) or not all(isinstance(v, str) for v in versions):
        raise ValueError(f"versions must be a list of strings, got {versions!r}")
    for field in ("inputs", "outputs"):
        _check_io(md.get(field, []), field, "")
    custom = md.get("custom", {})
    if not isinstance(custom, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in custom.items()):
        raise ValueError(f"custom must be a map of string to string, got {custom!r}")


def parse_model_metadata(text: str) -> Any:
    """MODEL_METADATA: JSON, or YAML when pyyaml is importable."""
    import json

    try:
        return json.loads(text)
    except ValueError as json_error:
        try:
            import yaml
        except ImportError:
            raise ValueError(f"MODEL_METADATA is not valid JSON ({json_error}) and pyyaml is not installed") from None
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"MODEL_METADATA is neither JSON nor YAML: {e}") from None
