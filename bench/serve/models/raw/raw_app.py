"""The raw-limit baseline: a minimal ASGI app, no framework, on the same server stack as modelpack
(uvicorn + httptools + uvloop, orjson, numpy), doing the same JSON -> numpy -> row-sum work.

It answers the same routes as modelpack with the least parsing each protocol needs, so every
benchmark case has a ceiling measured on the same machine in the same run. It does no validation,
no metrics and no error mapping: that is the point of a baseline, not a server to copy.

With RAW_GRPC_PORT set it also starts the gRPC baseline (raw_grpc.py) in this process.
"""
from __future__ import annotations

import os

import numpy as np
import orjson

_JSON = [(b"content-type", b"application/json")]
_DTYPES = {"FP32": np.float32, "FP64": np.float64}


async def _body(receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


def _v2(body: bytes, header_length: bytes | None) -> dict:
    if header_length:
        # binary tensor extension: JSON header, then the raw little-endian tensor bytes
        n = int(header_length)
        head = orjson.loads(body[:n])
        spec = head["inputs"][0]
        x = np.frombuffer(body[n:], dtype=_DTYPES[spec["datatype"]]).reshape(spec["shape"])
    else:
        spec = orjson.loads(body)["inputs"][0]
        x = np.asarray(spec["data"], dtype=_DTYPES[spec["datatype"]]).reshape(spec["shape"])
    sums = x.sum(axis=1)
    return {
        "model_name": "Model",
        "outputs": [{"name": "sum", "datatype": spec["datatype"], "shape": list(sums.shape), "data": sums}],
    }


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        grpc_server = None
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                port = os.environ.get("RAW_GRPC_PORT")
                if port:
                    # the gRPC baseline in this same process, as modelpack serves both from one worker
                    import raw_grpc

                    grpc_server = raw_grpc.serve(int(port))
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if grpc_server is not None:
                    grpc_server.stop(5).wait()
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if scope["method"] == "GET":
        out: object = {"ready": True}
    else:
        body = await _body(receive)
        if path == "/api/v1.0/predictions":
            x = np.asarray(orjson.loads(body)["data"]["ndarray"], dtype=np.float64)
            out = {"data": {"names": [], "ndarray": x.sum(axis=1)}, "meta": {}}
        elif path.endswith(":predict"):
            x = np.asarray(orjson.loads(body)["instances"], dtype=np.float64)
            out = {"predictions": x.sum(axis=1)}
        else:
            headers = dict(scope["headers"])
            out = _v2(body, headers.get(b"inference-header-content-length"))
    payload = orjson.dumps(out, option=orjson.OPT_SERIALIZE_NUMPY)
    await send({"type": "http.response.start", "status": 200, "headers": _JSON})
    await send({"type": "http.response.body", "body": payload})
