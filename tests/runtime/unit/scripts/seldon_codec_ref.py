"""Run with the seldon-core venv's python (no modelpack import): for each [request, expr] in the
JSON file, decode with seldon-core's extract_request_parts_json, evaluate expr on X, encode with
construct_response_json (a user model without class_names/tags/metrics) and print the list of
{"features", "names", "meta", "response"} as one JSON line."""
import base64
import json
import sys

import numpy as np
from seldon_core.utils import construct_response_json, extract_request_parts_json


class Model:
    pass


def plain(x):
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, bytes):
        return base64.b64encode(x).decode()
    return x


out = []
for request, expr in json.load(open(sys.argv[1])):
    X, meta, datadef, data_type = extract_request_parts_json(request)
    names = datadef.get("names", []) if isinstance(datadef, dict) else []
    result = eval(expr, {"np": np}, {"X": X})
    response = construct_response_json(Model(), False, request, result, meta)
    out.append({"features": plain(X), "names": names, "meta": meta,
                "response": json.loads(json.dumps(response, default=plain))})
print(json.dumps(out))
