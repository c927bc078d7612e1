"""Run with the seldon-core venv's python (no modelpack import); argv: <fixtures dir> <cases.json>.
For each case {folder, class, method, request, env} construct the fixture class, call load()
and run seldon-core's own seldon_methods.<method>, printing the JSON responses as one line
(an exception becomes {"error": [http status, reason]})."""
import importlib
import json
import os
import sys

from google.protobuf import json_format
from seldon_core import seldon_methods
from seldon_core.metrics import SeldonMetrics
from seldon_core.utils import json_to_feedback


def main():
    fixtures, cases_file = sys.argv[1], sys.argv[2]
    metrics = SeldonMetrics()
    out = []
    for case in json.load(open(cases_file)):
        sys.path.insert(0, os.path.join(fixtures, case["folder"]))
        model = getattr(importlib.import_module(case["class"]), case["class"])()
        if hasattr(model, "load"):
            model.load()
        for key in ("PREDICTIVE_UNIT_ID", "PREDICTIVE_UNIT_IMAGE"):
            os.environ.pop(key, None)
        os.environ.update(case.get("env") or {})
        method, request = case["method"], case["request"]
        try:
            if method == "send_feedback":
                resp = seldon_methods.send_feedback(model, json_to_feedback(request), os.environ.get("PREDICTIVE_UNIT_ID", "0"), metrics)
                resp = json.loads(json_format.MessageToJson(resp))
            elif method == "health_status":
                resp = seldon_methods.health_status(model, metrics)
            else:
                resp = getattr(seldon_methods, method)(model, request, metrics)
        except Exception as e:  # what the Flask error handler makes of it (contract C.9)
            if type(e).__name__ in ("SeldonMicroserviceException", "SeldonNotImplementedError"):
                resp = {"error": [e.status_code, e.reason]}
            else:
                resp = {"error": [500, "MICROSERVICE_INTERNAL_ERROR"]}
        out.append(resp)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
