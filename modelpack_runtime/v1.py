"""KServe V1 and Open Inference V2 on top of the loaded user class (a mixin of DataPlane).

SERVICE_TYPE picks the user method both protocols call: MODEL -> predict, TRANSFORMER and
OUTLIER_DETECTOR -> transform_input (identity when missing), ROUTER -> route (the branch index
as a one-element integer result), COMBINER -> 400 (a combiner takes a list of messages on
/aggregate). The method is resolved once at load time.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from . import __version__, v2_codec
from .errors import MicroserviceError, NotFound, NotReady
from .seldon_codec import array_from_ndarray, jsonable, route_branch
from .usermodel import UserModel, call_optional, unwrap, validate_metrics

SERVER_NAME = "modelpack"
V2_EXTENSIONS = ["binary_tensor_data"]


def _route_result(route: Callable) -> Callable[[Any, list, Any], Any]:
    def call(X: Any, names: list, meta: Any) -> Any:
        data, _tags, metrics = unwrap(route(X, names, meta))
        return _Result(np.array([route_branch(data)], dtype=np.int64), metrics)

    return call


class _Result:
    __slots__ = ("data", "metrics", "tags")

    def __init__(self, data: Any, metrics: list | None) -> None:
        self.data, self.tags, self.metrics = data, None, metrics


class KServeProtocols:
    """V1 and V2 methods of DataPlane; relies on its settings, model, ready, failure, name."""

    settings: Any
    model: UserModel | None
    ready: bool
    failure: str | None
    name: str
    metrics: Any
    _v_method: str
    _v_call: Callable[[Any, list, Any], Any] | None
    _metadata: dict | None
    _include_metrics: bool

    def _resolve_v_call(self, m: UserModel) -> tuple[str, Callable[[Any, list, Any], Any] | None]:
        st = self.settings.service_type
        if st == "COMBINER":
            return "aggregate", None
        if st == "ROUTER":
            return "route", _route_result(m.route) if m.route else None
        if st in ("TRANSFORMER", "OUTLIER_DETECTOR"):
            return "transform-input", m.transform_input or (lambda X, names, meta: X)
        return "predict", m.predict

    def _check_name(self, name: str) -> None:
        if name != self.name:
            raise NotFound(
                f"model {name!r} is not served here; this server serves {self.name!r}"
                " (MODEL_NAME's class, or --model-name)"
            )

    def _invoke_v(self, X: Any, names: list, meta: Any) -> Any:
        """Call the SERVICE_TYPE's method; record its custom metrics (not echoed: V1/V2 have no meta)."""
        if not self.ready:
            raise NotReady(self.failure or "the model is not loaded yet")
        call = self._v_call
        if call is None:
            st = self.settings.service_type
            if st == "COMBINER":
                raise MicroserviceError(
                    "SERVICE_TYPE is COMBINER: a combiner aggregates a list of messages; POST a"
                    " SeldonMessageList to /aggregate instead of the V1/V2 routes"
                )
            method = "route" if st == "ROUTER" else "predict"
            raise MicroserviceError(
                f"the model class has no {method}(X, names, meta) method, which SERVICE_TYPE={st} calls"
                " on the V1/V2 routes; add it, or use the Seldon routes"
            )
        try:
            result = call(X, names, meta)
        except MicroserviceError:
            raise
        except Exception as e:
            raise self._user_error(e, self._v_method) from e  # type: ignore[attr-defined]
        data, _tags, runtime = unwrap(result)
        m = self.model
        if not runtime and (m is None or m.metrics is None or self.metrics is None):
            return data  # no custom metrics: the common case
        found: list = validate_metrics(runtime, "SeldonResponse.metrics") if runtime else []
        if m is not None and m.metrics is not None and self.metrics is not None:
            user = call_optional(m.metrics, None)
            if user:
                found += validate_metrics(user, "metrics()")
        if found and self.metrics is not None:
            self.metrics.record_custom(found, self._v_method)
        return data

    # ---- KServe V1 -----------------------------------------------------------------------------
    def v1_ready(self, name: str) -> dict:
        self._check_name(name)
        return {"name": name, "ready": self.ready}

    def v1_predict(self, name: str, body: Any) -> dict:
        """{"instances"|"inputs": [...]} -> X = np.array(instances) -> {"predictions": [...]}."""
        self._check_name(name)
        if not isinstance(body, dict):
            raise MicroserviceError(f"a V1 request must be a JSON object with 'instances', got {type(body).__name__}")
        key = "instances" if "instances" in body else "inputs" if "inputs" in body else None
        if key is None:
            raise MicroserviceError(f"a V1 request needs 'instances' (or 'inputs'); got keys {sorted(body)!r}")
        instances = body[key]
        if not isinstance(instances, list) and type(instances) is not np.ndarray:  # ndarray: fastjson
            raise MicroserviceError(f"V1 '{key}' must be a list, got {type(instances).__name__}")
        X = array_from_ndarray(instances, where=key)
        meta = {"parameters": body["parameters"]} if "parameters" in body else {}
        data = self._invoke_v(X, [], meta)
        if isinstance(data, np.ndarray):
            preds: Any = jsonable(data) if data.ndim else [data.item()]
        elif isinstance(data, (list, dict)):
            preds = data
        elif isinstance(data, tuple):
            preds = list(data)
        elif isinstance(data, np.generic):
            preds = [data.item()]
        else:
            preds = [data]
        return {"predictions": preds}

    # ---- Open Inference V2 ---------------------------------------------------------------------
    def v2_server_metadata(self) -> dict:
        return {"name": SERVER_NAME, "version": __version__, "extensions": list(V2_EXTENSIONS)}

    def v2_model_metadata(self, name: str, version: str | None) -> dict:
        """Name, versions and platform from the Seldon metadata; its tensor-style inputs/outputs."""
        self._check_name(name)
        md = self._metadata or {}
        tensors = lambda items: [
            {"name": i["name"], "datatype": i["datatype"], "shape": i["shape"]}
            for i in items or [] if isinstance(i, dict) and "datatype" in i
        ]
        return {
            "name": self.name,
            "versions": list(md.get("versions") or []),
            "platform": md.get("platform") or "",
            "inputs": tensors(md.get("inputs")),
            "outputs": tensors(md.get("outputs")),
        }

    def v2_model_ready(self, name: str, version: str | None) -> bool:
        self._check_name(name)
        return self.ready

    def v2_infer(self, name: str, version: str | None, request: v2_codec.InferRequest) -> v2_codec.InferResponse:
        """One input -> X is its array; several -> X is {name: array}. meta = {parameters, id}.
        An array result is output "output-0" (or the one requested output's name); a dict result
        gives one output per key."""
        if name != self.name:
            self._check_name(name)
        inputs = request.inputs
        if len(inputs) == 1:
            X: Any = inputs[0].data
            names = [inputs[0].name]
        else:
            X = {t.name: t.data for t in inputs}
            names = [t.name for t in inputs]
        data = self._invoke_v(X, names, {"parameters": request.parameters, "id": request.id})
        if type(data) is np.ndarray and not request.outputs and not request.parameters:
            # the common case, in short: one array, no outputs asked for, so no binary flags either
            return v2_codec.InferResponse(self.name, [v2_codec.to_output("output-0", data)], version, request.id)
        requested = [o.name for o in request.outputs] if request.outputs else []
        if data is None:
            raise MicroserviceError(f"{self._v_method} returned None; return an array, list or dict of arrays",
                                    500, "MICROSERVICE_INTERNAL_ERROR")
        if isinstance(data, dict):
            missing = [n for n in requested if n not in data]
            if missing:
                raise MicroserviceError(
                    f"requested output(s) {missing!r} not produced by the model; it returns {sorted(data)!r}"
                )
            items = [(n, data[n]) for n in requested] if requested else list(data.items())
        else:
            if len(requested) > 1:
                raise MicroserviceError(
                    f"outputs asks for {requested!r} but the model returns a single array; request one output or none"
                )
            items = [(requested[0] if requested else "output-0", data)]
        outputs = [v2_codec.to_output(n if type(n) is str else str(n), v) for n, v in items]
        resp = v2_codec.InferResponse(self.name, outputs, version, request.id)
        resp.binary = v2_codec.binary_flags(request, outputs)
        return resp
