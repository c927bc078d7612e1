"""Large JSON request bodies straight into numpy, with the same result as the general path.

The general path is `orjson.loads(body)` and then `np.array(the_list)` (Seldon `data.ndarray`,
KServe V1 `instances`, Open Inference V2 `inputs[0].data`). For a 1000x100 body, building 100 000
Python floats and then reading them back into numpy is about 70 % of the request's CPU
(docs/serving-benchmark.md, F3). pysimdjson parses the body into its own tape and copies the
numbers out as one C buffer, 2-3x faster.

`loads(body, kind)` gives what `orjson.loads(body)` gives, except that the one big array is already
the numpy array `np.array(that_list)` would give: same dtype, shape, values and flags. It returns
None, and the caller takes the general path, unless cheap checks prove that. What is proven:

- the document is an object (the body starts with "{": simdjson would skip a UTF-8 BOM, orjson
  rejects it) that parses with simdjson (both parsers reject the same malformed JSON for what we
  accept: no duplicate keys are accepted, strings must be ASCII after unescaping, integers must
  fit 64 bits, floats are correctly rounded by both);
- it has only the keys of `kind`'s plain request (see _SHAPES); everything but the big array is
  converted by `_plain`, which accepts objects, strings, numbers, booleans and null;
- the big array is 1-D, or 2-D with rows of one length (every row is checked);
- no other array exists: the number of "[" bytes in the body equals the number of arrays the
  checks above found (a "[" inside a string, or a list nested in a row, makes it larger);
- every element is a number: `as_buffer` raises TypeError on anything else. All elements are
  int64 ("i" succeeds: np.array gives int64), or the array has a float token and no integer
  beyond int64 ("d" succeeds and no value reaches 2**63: np.array gives float64, and an int64
  converts to the same double in C as in Python). Empty arrays, bool arrays and huge integers
  take the general path.
tests/runtime/unit/test_fastjson.py checks fast == general over random documents (hypothesis).

pysimdjson is optional: without it `available()` is False and everything takes the general path.
"""
from __future__ import annotations

import threading
from typing import Any

import numpy as np

# Below this body size orjson + np.array is as fast as simdjson plus the checks (measured on the
# 1x10 and 1000x100 benchmark bodies: the fast path wins from a few kB; 16 kB keeps the small-body
# path free of any extra work).
LARGE = 16 * 1024
# A parser keeps buffers sized for the largest body it parsed; above this it is dropped after use,
# so one huge request does not pin its size in every predict thread for the worker's life.
KEEP_PARSER = 8 * 1024 * 1024

_INT_IS_INT64 = np.array([1]).dtype == np.dtype(np.int64)  # np.array of Python ints -> int64
_TWO_63 = float(2 ** 63)
_local = threading.local()   # a simdjson.Parser per thread: parsers are not thread-safe
_simdjson: Any = None
_unavailable: str | None = None


def available() -> bool:
    """True if pysimdjson imports (imported on first call, so an idle worker does not map it)."""
    global _simdjson, _unavailable
    if _simdjson is None and _unavailable is None:
        try:
            import simdjson
        except ImportError as exc:  # optional: the general path serves everything
            _unavailable = str(exc)
        else:
            _simdjson = simdjson
    return _simdjson is not None


class _Reject(Exception):
    """The document is not of a shape the fast path handles: take the general path."""


def loads(body: bytes, kind: str) -> Any | None:
    """orjson.loads(body) with the big array of `kind` ("seldon", "v1", "v2") as its numpy array,
    or None when that cannot be proven (then the caller parses with orjson)."""
    if len(body) < LARGE or body[:1] != b"{" or not available():
        return None
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = _simdjson.Parser()
    try:
        doc, arrays = _SHAPES[kind](parser.parse(body))
    except _Reject:
        doc = None
    except Exception:  # noqa: BLE001 - malformed JSON, a number simdjson cannot hold, ...:
        # the general path says what is wrong. A fresh parser next time, in case a proxy of this
        # document is still alive (a parser refuses to parse again while one is).
        _local.parser = None
        return None
    if len(body) > KEEP_PARSER:
        _local.parser = None  # its buffers grew to this body's size: give the memory back
    if doc is None or _count_brackets(body) != arrays:
        return None
    return doc


_CHUNK = 256 * 1024


def _count_brackets(body: bytes) -> int:
    """How many "[" bytes the body has. numpy compares 16-32 bytes at a time (4x bytes.count);
    the comparison goes into a small buffer kept per thread, because a new body-sized temporary
    per request is mmap'ed and page-faulted afresh each time (measured: ~500 page faults and 1 ms
    of system time per 2 MB body)."""
    arr = np.frombuffer(body, np.uint8)
    buf = getattr(_local, "brackets", None)
    if buf is None:
        buf = _local.brackets = np.empty(_CHUNK, dtype=np.bool_)
    total = 0
    for start in range(0, arr.size, _CHUNK):
        part = arr[start:start + _CHUNK]
        out = buf[:part.size]
        np.equal(part, 0x5B, out=out)  # 0x5B is "["
        total += int(np.count_nonzero(out))
    return total


# ---- document shapes ----------------------------------------------------------------------------
# Each takes the parsed simdjson document and returns (the document as orjson would give it, keys
# in document order, with the big array as numpy; the number of arrays in it), or raises _Reject.

def _seldon(doc: Any) -> tuple[dict, int]:
    # {"data": {"ndarray": [...], "names": [...]?}, "meta": {...}?}
    out, arrays = {}, 0
    for key, value in _object(doc, {"data"}, {"meta"}).items():
        if key == "data":
            value, n = _members(value, {"ndarray"}, {"names"}, "ndarray")
        else:
            value, n = _plain(value)
        out[key] = value
        arrays += n
    return out, arrays


def _v1(doc: Any) -> tuple[dict, int]:
    # {"instances": [...], "parameters": {...}?}
    return _members(doc, {"instances"}, {"parameters"}, "instances")


def _v2(doc: Any) -> tuple[dict, int]:
    # {"inputs": [{"name", "shape", "datatype", "data", "parameters"?}], "id"?, "parameters"?, "outputs"?}
    out, arrays = {}, 0
    for key, value in _object(doc, {"inputs"}, {"id", "parameters", "outputs"}).items():
        if key == "inputs":
            if not isinstance(value, _simdjson.Array) or len(value) != 1:
                raise _Reject
            tensor, n = _members(value[0], {"name", "shape", "datatype", "data"}, {"parameters"}, "data")
            datatype = tensor["datatype"]
            if not isinstance(datatype, str) or datatype == "BYTES":  # BYTES: np.array(data, dtype=object)
                raise _Reject
            if tensor["data"].dtype.kind == "f" and datatype.startswith(("INT", "UINT")):
                # the general path checks such data element by element (its error names the first
                # float as the JSON gave it, e.g. 1 or 1.0): not worth matching here
                raise _Reject
            value, n = [tensor], n + 1
        else:
            value, n = _plain(value)
        out[key] = value
        arrays += n
    return out, arrays


_SHAPES = {"seldon": _seldon, "v1": _v1, "v2": _v2}


def _members(value: Any, required: set, optional: set, big: str) -> tuple[dict, int]:
    """An object whose member `big` is the numeric array and the others small values."""
    out, arrays = {}, 0
    for key, item in _object(value, required, optional).items():
        if key == big:
            out[key], n = _numeric(item)
        else:
            out[key], n = _plain(item)
        arrays += n
    return out, arrays


def _object(value: Any, required: set, optional: set) -> dict:
    """The members of a simdjson Object with exactly the `required` keys and some `optional` ones,
    each once (orjson keeps the last of duplicate keys; we do not try to match that)."""
    if not isinstance(value, _simdjson.Object):
        raise _Reject
    keys = list(value.keys())  # not items(): that converts every value to Python objects
    members = {key: value[key] for key in keys}
    if len(members) != len(keys) or not required <= members.keys() or not members.keys() <= required | optional:
        raise _Reject
    return members


def _plain(value: Any, depth: int = 0) -> tuple[Any, int]:
    """A small JSON value as orjson gives it, and the number of arrays in it. Strings must be
    ASCII after unescaping (no surrogate or encoding question between the two parsers)."""
    if depth > 16:
        raise _Reject
    if isinstance(value, str):
        if not value.isascii():
            raise _Reject
        return value, 0
    if value is None or isinstance(value, (bool, int, float)):
        return value, 0
    if isinstance(value, _simdjson.Array):
        items, arrays = [], 1
        for item in value:
            item, n = _plain(item, depth + 1)
            items.append(item)
            arrays += n
        return items, arrays
    if isinstance(value, _simdjson.Object):
        members = _object(value, set(), set(value.keys()))
        out, arrays = {}, 0
        for key, item in members.items():
            if not key.isascii():
                raise _Reject
            out[key], n = _plain(item, depth + 1)
            arrays += n
        return out, arrays
    raise _Reject


def _numeric(value: Any) -> tuple[np.ndarray, int]:
    """np.array(value) for a 1-D or rectangular 2-D all-number simdjson Array, and its number of
    arrays (1, or 1 + rows). Nested lists inside the rows are ruled out by the caller's "[" count."""
    if not isinstance(value, _simdjson.Array):
        raise _Reject
    n = len(value)
    if n == 0:
        raise _Reject  # np.array([]) is float64: not worth a special case
    first = value[0]
    if isinstance(first, _simdjson.Array):
        m = len(first)
        del first
        if m == 0:
            raise _Reject
        Array = _simdjson.Array
        for row in value:
            if not isinstance(row, Array) or len(row) != m:
                raise _Reject
        del row
        shape: tuple = (n, m)
        arrays = 1 + n
    else:
        del first
        shape = (n,)
        arrays = 1
    try:
        if not _INT_IS_INT64:
            raise TypeError
        flat = np.frombuffer(value.as_buffer(of_type="i"), dtype=np.int64)
    except Exception:  # noqa: BLE001 - not all int64: some float token, or an integer beyond int64
        try:
            flat = np.frombuffer(value.as_buffer(of_type="d"), dtype=np.float64)
        except Exception:  # noqa: BLE001 - not all numbers (bool, string, null, object)
            raise _Reject from None
        if flat.max() >= _TWO_63:  # could be an integer token in uint64 range (np.array: uint64/object)
            raise _Reject from None
    if flat.size != n * (shape[1] if len(shape) == 2 else 1):
        raise _Reject
    # a copy, because np.array(list) owns its data (this would be a view of the ArrayBuffer)
    return flat.reshape(shape).copy(), arrays
