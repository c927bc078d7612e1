"""Open Inference Protocol (V2) REST: typed JSON tensors and the binary tensor data extension.

A request body is a JSON object, optionally followed by raw tensor bytes; the
`Inference-Header-Content-Length` header gives the JSON part's length. Binary data is little-endian,
row-major; BOOL is one byte per element; a BYTES element is a 4-byte little-endian length then
the bytes. Inputs with `parameters.binary_data_size` take their bytes from the tail, in order.

Decoded tensors hold numpy arrays: BYTES from JSON become an object array of `str` (JSON carries
text), BYTES from binary data an object array of `bytes`. The gRPC adapter builds the same
`Tensor` objects from `contents` / `raw_input_contents`.
"""
from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from . import fastjson
from .errors import MicroserviceError

# V2 datatype -> little-endian numpy dtype (BYTES is an object array)
DTYPES: dict[str, Any] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype("<u1"), "UINT16": np.dtype("<u2"), "UINT32": np.dtype("<u4"), "UINT64": np.dtype("<u8"),
    "INT8": np.dtype("<i1"), "INT16": np.dtype("<i2"), "INT32": np.dtype("<i4"), "INT64": np.dtype("<i8"),
    "FP16": np.dtype("<f2"), "FP32": np.dtype("<f4"), "FP64": np.dtype("<f8"),
    "BYTES": np.dtype(object),
}
_KIND_TO_DATATYPE = {
    ("b", 1): "BOOL",
    ("u", 1): "UINT8", ("u", 2): "UINT16", ("u", 4): "UINT32", ("u", 8): "UINT64",
    ("i", 1): "INT8", ("i", 2): "INT16", ("i", 4): "INT32", ("i", 8): "INT64",
    ("f", 2): "FP16", ("f", 4): "FP32", ("f", 8): "FP64",
}


@dataclass
class Tensor:
    """One input or output tensor; `data` is a numpy array already shaped to `shape`."""

    name: str
    shape: list
    datatype: str
    data: Any
    parameters: dict = field(default_factory=dict)


@dataclass
class RequestedOutput:
    name: str
    parameters: dict = field(default_factory=dict)

    @property
    def binary(self) -> bool | None:
        b = self.parameters.get("binary_data")
        return None if b is None else bool(b)


@dataclass
class InferRequest:
    inputs: list
    id: str | None = None
    parameters: dict = field(default_factory=dict)
    outputs: list = field(default_factory=list)  # RequestedOutput

    @property
    def binary_data_output(self) -> bool:
        return bool(self.parameters.get("binary_data_output", False))


@dataclass
class InferResponse:
    """`binary` lists, per output, whether encode_response sends it as binary data."""

    model_name: str
    outputs: list
    model_version: str | None = None
    id: str | None = None
    parameters: dict = field(default_factory=dict)
    binary: list | None = None


def datatype_of(arr: np.ndarray, where: str = "output") -> str:
    """The V2 datatype for a numpy array (strings, bytes and object arrays of them -> BYTES)."""
    kind = arr.dtype.kind
    dt = _KIND_TO_DATATYPE.get((kind, arr.dtype.itemsize))
    if dt:
        return dt
    if kind in "USO":
        return "BYTES"
    raise MicroserviceError(
        f"{where} has numpy dtype {arr.dtype}, which has no V2 datatype; return bool, int, uint, float or str arrays",
        500, "MICROSERVICE_INTERNAL_ERROR",
    )


def to_output(name: str, value: Any) -> Tensor:
    """A model result (array, list, scalar) -> output Tensor; 0-d results get shape [1]."""
    arr = value if isinstance(value, np.ndarray) else np.asarray(value)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    dtype = arr.dtype
    if dtype.kind == "O":
        flat = arr.ravel()
        if not all(isinstance(x, (str, bytes)) for x in flat):
            arr = np.array(arr.tolist())  # e.g. an object array of numbers
            dtype = arr.dtype
    datatype = _KIND_TO_DATATYPE.get((dtype.kind, dtype.itemsize)) or datatype_of(arr, f"output {name!r}")
    return Tensor(name, list(arr.shape), datatype, arr)


# ---- decoding ----------------------------------------------------------------------------------

_EMPTY = memoryview(b"")


def _bad(msg: str) -> MicroserviceError:
    return MicroserviceError(msg)


def _where(name: str) -> str:
    # built only for an error message: formatting it for every input costs more than the checks
    return f"input {name!r}"


def _check_shape(shape: Any, name: str) -> list:
    if type(shape) is list:
        for d in shape:  # a loop, not all(genexpr): this runs on every request
            if type(d) is not int or d < 0:
                break
        else:
            return shape
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise _bad(f"{_where(name)}.shape must be a list of non-negative integers, got {shape!r}")
    return shape


_FLOATS = frozenset(("FP16", "FP32", "FP64"))
_INTS = frozenset(("INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"))


def _json_tensor(data: Any, shape: list, datatype: str, name: str) -> np.ndarray:
    if type(data) is np.ndarray:
        # fastjson decoded a large body: `data` is np.array(the list) already (float64 or int64; it
        # leaves float data for an integer datatype to this function's general path: see there)
        kind = data.dtype.kind
        if (kind == "f" and datatype in _FLOATS) or (kind == "i" and (datatype in _FLOATS or datatype in _INTS)):
            if kind == "i" and datatype in _INTS:
                _check_range(data, datatype, name)
            return _reshape(data.astype(DTYPES[datatype], copy=False), shape, name)
    if datatype == "BYTES":
        try:
            arr = np.array(data, dtype=object)
        except ValueError:
            raise _bad(f"{_where(name)}.data is ragged; nested lists must all have the same length") from None
        flat = arr.ravel()
        for x in flat:
            if not isinstance(x, str):
                raise _bad(f"{_where(name)}: BYTES data must be strings, got {type(x).__name__} {x!r}")
    else:
        try:
            arr = np.array(data)
        except ValueError:
            raise _bad(f"{_where(name)}.data is ragged; nested lists must all have the same length") from None
        kind = arr.dtype.kind
        if datatype == "BOOL":
            if kind != "b" and arr.size:
                raise _bad(f"{_where(name)}: BOOL data must be true/false, got {_sample(arr)}")
        elif kind in "US" or (kind == "b" and arr.size):
            raise _bad(f"{_where(name)}: {datatype} data must be numbers, got {_sample(arr)}")
        elif kind == "O" or (kind == "f" and datatype in _INTS):
            # object: ints beyond int64 or mixed types; float for an integer type: a real float, or
            # numpy promoting a mix of int64 and uint64 values -> check element by element
            arr = _object_numbers(np.array(data, dtype=object), datatype, _where(name))
        elif datatype in _INTS:
            _check_range(arr, datatype, name)
        arr = arr.astype(DTYPES[datatype], copy=False)
    return _reshape(arr, shape, name)


def _check_range(arr: np.ndarray, datatype: str, name: str) -> None:
    if arr.size:
        info = np.iinfo(DTYPES[datatype])
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            bad = lo if lo < info.min else hi
            raise _bad(f"{_where(name)}: value {int(bad)} is out of range for {datatype} ({info.min}..{info.max})")


def _reshape(arr: np.ndarray, shape: list, name: str) -> np.ndarray:
    count = math.prod(shape)
    if arr.size != count:
        raise _bad(f"{_where(name)}: shape {shape} needs {count} elements, got {arr.size}")
    return arr.reshape(shape)


def _sample(arr: np.ndarray) -> str:
    return f"{arr.ravel()[0]!r} ({arr.dtype.kind})" if arr.size else "nothing"


def _object_numbers(arr: np.ndarray, datatype: str, where: str) -> np.ndarray:
    # numpy falls back to object for ints beyond int64/uint64 range, or mixed types
    for x in arr.ravel():
        if isinstance(x, bool) or not isinstance(x, (int, float)):
            raise _bad(f"{where}: {datatype} data must be numbers, got {type(x).__name__} {x!r}")
        if datatype.startswith(("INT", "UINT")):
            if isinstance(x, float):
                raise _bad(f"{where}: {datatype} data must be integers, got {x!r}")
            info = np.iinfo(DTYPES[datatype])
            if not info.min <= x <= info.max:
                raise _bad(f"{where}: value {x} is out of range for {datatype} ({info.min}..{info.max})")
    return np.array(arr.tolist(), dtype=DTYPES[datatype])


def _binary_tensor(chunk: bytes, shape: list, datatype: str, where: str) -> np.ndarray:
    count = math.prod(shape)
    if datatype == "BYTES":
        items: list = []
        pos, end = 0, len(chunk)
        while pos < end:
            if pos + 4 > end:
                raise _bad(f"{where}: BYTES binary data is truncated (a 4-byte length prefix is cut off)")
            (n,) = struct.unpack_from("<I", chunk, pos)
            pos += 4
            if pos + n > end:
                raise _bad(f"{where}: BYTES element of {n} bytes runs past binary_data_size")
            items.append(chunk[pos:pos + n])
            pos += n
        arr = np.empty(len(items), dtype=object)
        arr[:] = items
    else:
        dtype = DTYPES[datatype]
        if len(chunk) != count * dtype.itemsize:
            raise _bad(
                f"{where}: binary_data_size is {len(chunk)} bytes but shape {shape} of {datatype} needs"
                f" {count * dtype.itemsize}"
            )
        arr = np.frombuffer(chunk, dtype=np.uint8 if datatype == "BOOL" else dtype)
        if datatype == "BOOL":
            if arr.size and arr.max() > 1:
                raise _bad(f"{where}: BOOL binary data must be bytes 0 or 1")
            arr = arr.view(np.bool_)
    if arr.size != count:
        raise _bad(f"{where}: shape {shape} needs {count} elements, got {arr.size}")
    return arr.reshape(shape)


def _parameters(obj: dict, where: str) -> dict:
    p = obj.get("parameters")
    if p is None:
        return {}
    if not isinstance(p, dict):
        raise _bad(f"{where}.parameters must be an object, got {type(p).__name__}")
    return p


def decode_request(body: bytes, header_length: int | None = None) -> InferRequest:
    """A V2 infer request body (JSON, optionally followed by binary tensor data) -> InferRequest."""
    if header_length is not None:
        if not 0 < header_length <= len(body):
            raise _bad(
                f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes;"
                " it must be the length of the JSON part"
            )
        head, tail = body[:header_length], memoryview(body)[header_length:]
    else:
        head, tail = body, _EMPTY
    # a large JSON tensor goes straight into numpy when fastjson can prove that gives the same
    doc = fastjson.loads(head, "v2") if header_length is None and len(head) >= fastjson.LARGE else None
    if doc is None:
        try:
            doc = orjson.loads(head)
        except orjson.JSONDecodeError as e:
            hint = "" if header_length is not None else (
                "; a body with binary tensor data needs the Inference-Header-Content-Length header")
            raise _bad(f"the V2 request is not valid JSON: {e}{hint}") from None
    if not isinstance(doc, dict):
        raise _bad(f"the V2 request must be a JSON object, got {type(doc).__name__}")
    raw_inputs = doc.get("inputs")
    if not isinstance(raw_inputs, list) or not raw_inputs:
        raise _bad("the V2 request needs a non-empty 'inputs' list of {name, shape, datatype, data}")
    inputs = []
    offset = 0
    for i, t in enumerate(raw_inputs):
        if not isinstance(t, dict):
            raise _bad(f"inputs[{i}] must be an object, got {type(t).__name__}")
        name, datatype = t.get("name"), t.get("datatype")
        if not isinstance(name, str):
            raise _bad(f"inputs[{i}].name must be a string, got {name!r}")
        if datatype not in DTYPES:
            raise _bad(f"{_where(name)}: datatype {datatype!r} is not one of {', '.join(DTYPES)}")
        shape = _check_shape(t.get("shape"), name)
        params = dict(_parameters(t, _where(name))) if "parameters" in t else {}
        size = params.pop("binary_data_size", None) if params else None
        if size is not None:
            where = _where(name)
            if "data" in t:
                raise _bad(f"{where} has both 'data' and parameters.binary_data_size; send one of them")
            if not isinstance(size, int) or isinstance(size, bool) or size < 0:
                raise _bad(f"{where}: binary_data_size must be a non-negative integer, got {size!r}")
            if header_length is None:
                raise _bad(
                    f"{where} has parameters.binary_data_size but the request has no Inference-Header-Content-Length"
                    " header; send the JSON length in that header, followed by the binary data"
                )
            if offset + size > len(tail):
                raise _bad(
                    f"{where}: binary_data_size {size} runs past the end of the body ({len(tail) - offset} bytes left)"
                )
            arr = _binary_tensor(bytes(tail[offset:offset + size]), shape, datatype, where)
            offset += size
        elif "data" in t:
            arr = _json_tensor(t["data"], shape, datatype, name)
        else:
            raise _bad(f"{_where(name)} has neither 'data' nor parameters.binary_data_size")
        inputs.append(Tensor(name, shape, datatype, arr, params))
    if offset != len(tail):
        raise _bad(f"{len(tail) - offset} bytes of binary data after the JSON are not claimed by any input")
    outputs = []
    raw_outputs = doc.get("outputs") or ()
    if not isinstance(raw_outputs, (list, tuple)):
        raise _bad(f"'outputs' must be a list of {{name, parameters}} objects, got {type(raw_outputs).__name__}")
    for i, o in enumerate(raw_outputs):
        if not isinstance(o, dict) or not isinstance(o.get("name"), str):
            raise _bad(f"outputs[{i}] must be an object with a string 'name', got {o!r}")
        outputs.append(RequestedOutput(o["name"], _parameters(o, f"outputs[{i}]")))
    rid = doc.get("id")
    return InferRequest(inputs, None if rid is None else str(rid),
                        _parameters(doc, "request") if "parameters" in doc else {}, outputs)


# ---- encoding ----------------------------------------------------------------------------------

def _bytes_of(x: Any) -> bytes:
    return x if isinstance(x, bytes) else str(x).encode("utf-8")


def _json_data(t: Tensor) -> Any:
    arr = t.data
    if t.datatype == "BYTES":
        out = []
        for x in arr.ravel().tolist():
            if isinstance(x, bytes):
                try:
                    x = x.decode("utf-8")
                except UnicodeDecodeError:
                    raise MicroserviceError(
                        f"output {t.name!r} holds bytes that are not UTF-8, which JSON cannot carry;"
                        " ask for it as binary data (parameters.binary_data_output=true)", 500,
                        "MICROSERVICE_INTERNAL_ERROR",
                    ) from None
            out.append(x)
        return out
    flat = np.ascontiguousarray(arr.ravel())
    dtype = flat.dtype
    if (dtype.kind == "f" and dtype.itemsize == 2) or not dtype.isnative:  # orjson has no float16
        return flat.tolist()
    return flat


def binary_of(t: Tensor) -> bytes:
    """Raw little-endian bytes of a tensor (BYTES: 4-byte length prefix per element)."""
    if t.datatype == "BYTES":
        parts = []
        for x in t.data.ravel().tolist():
            b = _bytes_of(x)
            parts.append(struct.pack("<I", len(b)))
            parts.append(b)
        return b"".join(parts)
    dtype = np.dtype(np.uint8) if t.datatype == "BOOL" else DTYPES[t.datatype]
    return np.ascontiguousarray(t.data, dtype=dtype).tobytes()


def encode_response(resp: InferResponse, request: InferRequest | None = None) -> tuple[bytes, int | None]:
    """InferResponse -> (body, header_length). header_length is None when nothing is binary;
    else it is the JSON part's length (send it as Inference-Header-Content-Length)."""
    binary = resp.binary
    if binary is None and request is not None:
        binary = binary_flags(request, resp.outputs)
    outputs = []
    tails = []
    for i, t in enumerate(resp.outputs):
        shape = t.shape
        o: dict = {"name": t.name, "datatype": t.datatype, "shape": shape if type(shape) is list else list(shape)}
        params = dict(t.parameters) if t.parameters else {}
        if binary and binary[i]:
            raw = binary_of(t)
            params["binary_data_size"] = len(raw)
            tails.append(raw)
        else:
            o["data"] = _json_data(t)
        if params:
            o["parameters"] = params
        outputs.append(o)
    doc: dict = {"model_name": resp.model_name}
    if resp.model_version is not None:
        doc["model_version"] = resp.model_version
    if resp.id is not None:
        doc["id"] = resp.id
    if resp.parameters:
        doc["parameters"] = resp.parameters
    doc["outputs"] = outputs
    head = orjson.dumps(doc, option=orjson.OPT_SERIALIZE_NUMPY)
    if not tails:
        return head, None
    return head + b"".join(tails), len(head)


def binary_flags(request: InferRequest, outputs: list) -> list | None:
    """Per output: binary if its requested output says binary_data, else binary_data_output."""
    default = request.binary_data_output
    if not request.outputs:
        return [True] * len(outputs) if default and outputs else None
    asked = {o.name: o.binary for o in request.outputs}
    flags = []
    for t in outputs:
        b = asked.get(t.name)
        flags.append(default if b is None else b)
    return flags if any(flags) else None
