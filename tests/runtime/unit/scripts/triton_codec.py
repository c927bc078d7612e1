"""Run with the tritonclient venv's python (no modelpack import). Two modes:

  requests DIR   write one V2 request body per case into DIR (tritonclient's own encoder) plus
                 cases.json describing what each holds
  responses DIR  parse every DIR/*.resp body (with its .hlen header length) with tritonclient's
                 InferResult and print {file: {output: {"dtype", "shape", "data"}}} as JSON
"""
import json
import os
import sys

import numpy as np
import tritonclient.http as httpclient

DATATYPES = {
    "BOOL": np.bool_, "UINT8": np.uint8, "UINT16": np.uint16, "UINT32": np.uint32, "UINT64": np.uint64,
    "INT8": np.int8, "INT16": np.int16, "INT32": np.int32, "INT64": np.int64,
    "FP16": np.float16, "FP32": np.float32, "FP64": np.float64, "BYTES": np.object_,
}


def sample(datatype):
    if datatype == "BOOL":
        return np.array([[True, False, True], [False, False, True]])
    if datatype == "BYTES":
        return np.array([[b"a", b"", b"\xc3\xa9t\xc3\xa9"], [b"x" * 40, b"b", b"c"]], dtype=np.object_)
    dt = np.dtype(DATATYPES[datatype])
    if dt.kind == "f":
        return np.array([[0.5, -1.25, 3.0], [1e-3, 2.0, -0.0]], dtype=dt)
    info = np.iinfo(dt)
    return np.array([[info.min, 0, info.max], [1, 2, 3]], dtype=dt)


def requests(out_dir):
    cases = []
    for datatype in DATATYPES:
        for binary in (False, True):
            if datatype == "BYTES" and not binary:
                arr = np.array([["a", "", "été"], ["x" * 40, "b", "c"]], dtype=np.object_)
            else:
                arr = sample(datatype)
            inp = httpclient.InferInput("x", list(arr.shape), datatype)
            inp.set_data_from_numpy(arr, binary_data=binary)
            outputs = [httpclient.InferRequestedOutput("y", binary_data=binary)]
            body, json_size = httpclient.InferenceServerClient.generate_request_body(
                [inp], outputs=outputs, request_id=f"id-{datatype}-{binary}", parameters={"custom": 7})
            name = f"{datatype}-{int(binary)}"
            with open(os.path.join(out_dir, name + ".req"), "wb") as f:
                f.write(body if isinstance(body, bytes) else body.encode())
            data = [[x.decode("utf-8", "backslashreplace") if isinstance(x, bytes) else x for x in row]
                    for row in arr.tolist()]
            cases.append({"file": name, "datatype": datatype, "binary": binary, "json_size": json_size,
                          "shape": list(arr.shape), "data": data})
    with open(os.path.join(out_dir, "cases.json"), "w") as f:
        json.dump(cases, f)


def responses(in_dir):
    result = {}
    for fname in sorted(os.listdir(in_dir)):
        if not fname.endswith(".resp"):
            continue
        with open(os.path.join(in_dir, fname), "rb") as f:
            body = f.read()
        hlen_text = open(os.path.join(in_dir, fname[:-5] + ".hlen")).read().strip()
        hlen = int(hlen_text) if hlen_text else None
        res = httpclient.InferResult.from_response_body(body, header_length=hlen)
        outs = {}
        for o in res.get_response()["outputs"]:
            arr = res.as_numpy(o["name"])
            data = arr.tolist()
            if arr.dtype == np.object_:
                data = [x.decode("utf-8", "backslashreplace") if isinstance(x, bytes) else x for x in arr.ravel()]
            else:
                data = arr.ravel().tolist()
            outs[o["name"]] = {"dtype": str(arr.dtype), "shape": list(arr.shape), "data": data}
        result[fname[:-5]] = outs
    print(json.dumps(result))


if __name__ == "__main__":
    {"requests": requests, "responses": responses}[sys.argv[1]](sys.argv[2])
