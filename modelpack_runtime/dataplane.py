"""The transport-neutral data plane: one loaded user model behind Seldon, KServe V1 and Open
Inference V2 calls. REST and gRPC adapters call these synchronous methods (see the contract in
docs/runtime-design.md); every failure is raised as an errors.MicroserviceError.

Everything that can be decided once is decided in construct()/load(): hooks, signatures,
requestPath, the V1/V2 entry point for SERVICE_TYPE, metadata. The per-request path is short.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, Protocol

import numpy as np

from . import seldon_codec
from .errors import (
    BadMetadata,
    MicroserviceError,
    NotFound,
    NotReady,
    UserCodeError,
    is_seldon_not_implemented,
    to_microservice_error,
)
from .seldon_codec import Decoded, decode, encode_payload, response_meta, route_branch
from .settings import Settings
from .usermodel import (
    ModelSetupError,
    UserModel,
    call_optional,
    construct_user_object,
    import_user_class,
    parse_parameters,
    unwrap,
    validate_metrics,
)
from .v1 import KServeProtocols

log = logging.getLogger(__name__)

_FEEDBACK_KEYS = frozenset({"request", "response", "reward", "truth"})


class MetricsSink(Protocol):
    """Where validated custom metrics go (modelpack_runtime.metrics implements it)."""

    def record_custom(self, metrics: list, method: str) -> None: ...

    def record_feedback(self, reward: float) -> None: ...


class DataPlane(KServeProtocols):
    """One user model in one process; see docs/runtime-design.md for the contract."""

    def __init__(self, settings: Settings, metrics: MetricsSink | None = None) -> None:
        self.settings = settings
        self.metrics = metrics
        self.ready = False
        self.failure: str | None = None
        self.model: UserModel | None = None
        self.name = settings.served_model_name
        self._include_metrics = settings.include_metrics_in_response
        unit = settings.predictive_unit_id
        self._request_path = {unit: settings.predictive_unit_image or ""} if unit else None
        self._routing_key = unit or "0"
        self._metadata: dict | None = None
        self._metadata_error: str | None = None
        self._handlers: dict[str, Callable[[Any, str, Any], dict]] = {
            "predict": self._predict,
            "transform-input": self._transform_input,
            "transform-output": self._transform_output,
            "route": self._route,
            "aggregate": self._aggregate,
            "send-feedback": self._send_feedback,
        }
        self._v_method = "predict"
        self._v_call: Callable[[Any, list, Any], Any] | None = None
        # Seldon methods that only look at the decoded message (no raw or deprecated hook sees it as
        # sent), so the HTTP layer may hand them a large ndarray already decoded (fastjson)
        self.seldon_array_methods: frozenset = frozenset()

    # ---- lifecycle -----------------------------------------------------------------------------
    def construct(self) -> None:
        """Import MODEL_NAME and construct it with the typed parameters. Never raises."""
        s = self.settings
        try:
            params = parse_parameters(s.parameters)
            cls = import_user_class(s.interface_name, s.workdir)
            self.model = UserModel(construct_user_object(cls, params, s.model_uri))
        except (ModelSetupError, MicroserviceError) as e:
            self._fail(str(e), e)
        except Exception as e:  # a bug of ours, still reported as the failure
            self._fail(f"setting up {s.interface_name} raised {type(e).__name__}: {e}", e)

    def load(self) -> None:
        """Run the user's load() once; then resolve metadata and the V1/V2 entry point. Never raises."""
        m = self.model
        if m is None:
            if self.failure is None:
                self._fail("the model was never constructed (construct() was not called)", None)
            return
        if m.load is not None:
            try:
                m.load()
            except NotImplementedError:
                pass  # Seldon swallows these too
            except (Exception, SystemExit) as e:
                if not is_seldon_not_implemented(e):
                    self._fail(f"{type(m.obj).__name__}.load() raised {type(e).__name__}: {e}", e)
                    return
        self._metadata, self._metadata_error = self._build_metadata()
        self._v_method, self._v_call = self._resolve_v_call(m)
        self.seldon_array_methods = frozenset(
            method for method in ("predict", "transform-input", "transform-output", "route")
            if m.raw[method] is None and not (method == "predict" and m.predict_rest is not None))
        self.ready = True
        self.failure = None

    def _fail(self, reason: str, exc: BaseException | None) -> None:
        self.ready = False
        self.failure = reason
        log.error("model not ready: %s", reason, exc_info=exc)

    @property
    def _m(self) -> UserModel:
        """The loaded model; only used after a ready check (seldon(), check_ready())."""
        m = self.model
        assert m is not None
        return m

    def check_ready(self) -> None:
        if not self.ready:
            raise NotReady(self.failure or "the model is not loaded yet")

    # ---- Seldon protocol -----------------------------------------------------------------------
    def seldon(self, method: str, msg: Any, *, transport: str = "rest", raw: Any = None) -> dict:
        """Serve one Seldon call; `method` is the route name (predict, transform-input, ...).

        `raw`, when given, is what the raw hooks (predict_raw, ..., send_feedback_raw) and the
        deprecated predict_grpc receive instead of `msg`: the gRPC adapter passes the proto there, as
        Seldon does, and the decoded dict as `msg`, so a raw hook that raises
        SeldonNotImplementedError still falls through to predict()."""
        if not self.ready:
            raise NotReady(self.failure or "the model is not loaded yet")
        handler = self._handlers.get(method)
        if handler is None:
            raise NotFound(f"unknown Seldon method {method!r}; use one of {', '.join(self._handlers)}")
        try:
            return handler(msg, transport, msg if raw is None else raw)
        except MicroserviceError:
            raise
        except Exception as e:
            raise self._user_error(e, method) from e

    def _user_error(self, e: Exception, where: str) -> MicroserviceError:
        err = to_microservice_error(e, where)
        if isinstance(err, UserCodeError):
            log.error("%s raised %s: %s", where, type(e).__name__, e, exc_info=e)
        return err

    def _try_raw(self, method: str, msg: Any) -> Any:
        """The raw hook's response dict, or None to fall through (no hook / SeldonNotImplementedError)."""
        raw = self._m.raw[method]
        if raw is None:
            return None
        try:
            out = raw(msg)
        except Exception as e:
            if is_seldon_not_implemented(e):
                return None
            raise
        if isinstance(out, dict):
            meta = out.get("meta")
            if isinstance(meta, dict) and meta.get("metrics"):
                metrics = validate_metrics(meta["metrics"], f"{method} raw response meta.metrics")
                if self.metrics is not None:
                    self.metrics.record_custom(metrics, method)
                if not self._include_metrics:
                    out = dict(out, meta={k: v for k, v in meta.items() if k != "metrics"})
        return out

    def _call(self, hook: Callable | None, d: Decoded, default: Any) -> Any:
        if hook is None:
            return default
        try:
            return hook(d.features, d.names, d.meta)
        except Exception as e:
            if is_seldon_not_implemented(e):
                return default
            raise

    def _respond(self, result: Any, d: Decoded, method: str) -> dict:
        """Encode a user result against the request (C.8) and build its meta."""
        data, rtags, rmetrics = unwrap(result)
        m = self._m
        body = encode_payload(data, d.kind, m.names_for)
        # the hooks are checked for None here (not in call_optional) to keep the common
        # no-tags, no-metrics predict call short: this runs on every request
        tags = call_optional(m.tags, None) if m.tags is not None else None
        if tags is not None and not isinstance(tags, dict):
            raise MicroserviceError(f"tags() must return a dict, got {type(tags).__name__}", 500,
                                    "MICROSERVICE_INTERNAL_ERROR")
        if rtags:
            tags = dict(tags, **rtags) if tags else dict(rtags)
        metrics = self._custom_metrics(rmetrics, method) if rmetrics or m.metrics is not None else None
        request_meta = d.meta
        if request_meta or tags or metrics or self._request_path:
            body["meta"] = response_meta(request_meta, tags, metrics, self._request_path)
        else:
            body["meta"] = {}
        return body

    def _custom_metrics(self, runtime: list | None, method: str) -> list | None:
        out: list = []
        if runtime:
            out.extend(validate_metrics(runtime, "SeldonResponse.metrics"))
        m = self._m
        if m.metrics is not None:
            user = call_optional(m.metrics, None)
            if user:
                out.extend(validate_metrics(user, "metrics()"))
        if not out:
            return None
        if self.metrics is not None:
            self.metrics.record_custom(out, method)
        return out if self._include_metrics else None

    def _predict(self, msg: Any, transport: str, raw: Any) -> dict:
        m = self._m
        legacy = m.predict_rest if transport == "rest" else m.predict_grpc
        if legacy is not None:
            return legacy(raw)  # deprecated: returned as-is
        if m.raw["predict"] is not None:
            out = self._try_raw("predict", raw)
            if out is not None:
                return out
        d = decode(msg)
        return self._respond(self._call(m.predict, d, []), d, "predict")

    def _transform_input(self, msg: Any, transport: str, raw: Any) -> dict:
        out = self._try_raw("transform-input", raw)
        if out is not None:
            return out
        d = decode(msg)
        return self._respond(self._call(self._m.transform_input, d, d.features), d, "transform-input")

    def _transform_output(self, msg: Any, transport: str, raw: Any) -> dict:
        out = self._try_raw("transform-output", raw)
        if out is not None:
            return out
        d = decode(msg)
        return self._respond(self._call(self._m.transform_output, d, d.features), d, "transform-output")

    def _route(self, msg: Any, transport: str, raw: Any) -> dict:
        out = self._try_raw("route", raw)
        if out is not None:
            return out
        d = decode(msg)
        if self._m.route is None:
            raise MicroserviceError("Route not defined: the model has no route(X, names) method")
        data, rtags, rmetrics = unwrap(self._m.route(d.features, d.names, d.meta))
        branch = route_branch(data)
        return self._respond(_Rewrapped(np.array([[branch]]), rtags, rmetrics), d, "route")

    def _aggregate(self, msg: Any, transport: str, raw: Any) -> dict:
        out = self._try_raw("aggregate", raw)
        if out is not None:
            return out
        msgs = msg.get("seldonMessages") if isinstance(msg, dict) else msg
        if not isinstance(msgs, list) or not msgs:
            raise MicroserviceError(
                "aggregate needs a SeldonMessageList {\"seldonMessages\": [...]} or a non-empty list of SeldonMessages"
            )
        ds = [decode(x) for x in msgs]
        if self._m.aggregate is None:
            raise MicroserviceError("Aggregate not defined: the model has no aggregate(Xs, names_list) method")
        result = self._m.aggregate([d.features for d in ds], [d.names for d in ds], [d.meta for d in ds])
        merged = Decoded(None, [], _merge_metas([d.meta for d in ds]), ds[0].kind)
        return self._respond(result, merged, "aggregate")

    def _send_feedback(self, msg: Any, transport: str, raw: Any) -> dict:
        if not isinstance(msg, dict):
            raise MicroserviceError(f"Invalid JSON: a Feedback must be an object, got {type(msg).__name__}")
        unknown = sorted(set(msg) - _FEEDBACK_KEYS)
        if unknown:
            raise MicroserviceError(
                f"Invalid JSON: Feedback has no field(s) {unknown!r}; allowed: request, response, reward, truth"
            )
        out = self._try_raw("send-feedback", raw)
        if out is not None:
            return out
        reward = msg.get("reward", 0.0)
        if isinstance(reward, bool) or not isinstance(reward, (int, float)):
            raise MicroserviceError(f"Invalid JSON: Feedback.reward must be a number, got {reward!r}")
        request = _sub_message(msg, "request")
        if request.get("meta") is not None:
            seldon_codec.check_meta(request["meta"])
        features, kind, names = _feedback_data(request)
        truth, _, _ = _feedback_data(_sub_message(msg, "truth"))
        response = _sub_message(msg, "response")
        routing = ((response.get("meta") or {}).get("routing") or {}).get(self._routing_key)
        if self.metrics is not None:
            self.metrics.record_feedback(float(reward))
        m = self._m
        result = None
        if m.send_feedback is not None:
            try:
                if m.feedback_takes_routing:
                    result = m.send_feedback(features, names, reward, truth, routing=routing)
                else:
                    result = m.send_feedback(features, names, reward, truth)
            except Exception as e:
                if not is_seldon_not_implemented(e):
                    raise
        data, rtags, rmetrics = unwrap(result)
        # Seldon passes feedback responses through protobuf: numbers come back as floats
        arr = np.array([]) if data is None else np.asarray(data)
        if arr.dtype.kind in "iub":
            arr = arr.astype(np.float64)
        d = Decoded(None, [], request.get("meta"), kind)
        return _protobuf_json(self._respond(_Rewrapped(arr, rtags, rmetrics), d, "send-feedback"))

    def seldon_passthrough(self, raw: Any) -> Any:
        """PAYLOAD_PASSTHROUGH: the raw body (bytes, or the json= string) to predict_raw, answer as-is."""
        self.check_ready()
        fn = self._m.raw["predict"]
        if fn is None:
            raise MicroserviceError(
                "PAYLOAD_PASSTHROUGH is on but the model has no predict_raw(self, raw) method;"
                " add one or unset PAYLOAD_PASSTHROUGH"
            )
        try:
            out = fn(raw)
        except Exception as e:
            raise self._user_error(e, "predict_raw") from e
        if not isinstance(out, (str, bytes, bytearray)):
            raise MicroserviceError(
                f"with PAYLOAD_PASSTHROUGH, predict_raw must return str or bytes, got {type(out).__name__}",
                500, "MICROSERVICE_INTERNAL_ERROR",
            )
        return out

    def seldon_health_status(self) -> dict:
        """health_status_raw() as-is, else health_status() encoded; never calls metrics()/tags()."""
        self.check_ready()
        m = self._m
        try:
            if m.health_status_raw is not None:
                try:
                    return m.health_status_raw()
                except Exception as e:
                    if not is_seldon_not_implemented(e):
                        raise
            if m.health_status is None:
                return {"strData": "healthy", "meta": self._health_meta()}
            try:
                result = m.health_status()
            except Exception as e:
                if is_seldon_not_implemented(e):
                    return {"strData": "not implemented - assuming healthy", "meta": self._health_meta()}
                raise
            body = encode_payload(unwrap(result)[0], None, m.names_for)
            body["meta"] = self._health_meta()
            return body
        except MicroserviceError:
            raise
        except Exception as e:
            raise self._user_error(e, "health_status") from e

    def _health_meta(self) -> dict:
        # only requestPath: no tags() / metrics() on probes
        return {"requestPath": dict(self._request_path)} if self._request_path else {}

    def seldon_metadata(self) -> dict:
        self.check_ready()
        if self._metadata_error is not None or self._metadata is None:
            raise BadMetadata(self._metadata_error or "metadata was not built")
        return dict(self._metadata)

    def _build_metadata(self) -> tuple[dict | None, str | None]:
        s = self.settings
        md = seldon_codec.default_metadata(s.predictive_unit_image, self.name)
        try:
            init = call_optional(self._m.init_metadata, None)
        except Exception as e:
            log.error("init_metadata() raised %s: %s", type(e).__name__, e, exc_info=e)
            return None, f"init_metadata() raised {type(e).__name__}: {e}"
        if isinstance(init, dict):
            md.update(init)
        elif init is not None:
            log.warning("init_metadata() returned %s, not a dict: ignored (as Seldon does)", type(init).__name__)
        if s.model_metadata:
            try:
                overlay = seldon_codec.parse_model_metadata(s.model_metadata)
            except ValueError as e:
                return None, f"MODEL_METADATA: {e}"
            if not isinstance(overlay, dict):
                return None, f"MODEL_METADATA must be a mapping, got {type(overlay).__name__}: {s.model_metadata!r}"
            md.update(overlay)
        try:
            seldon_codec.validate_metadata(md)
        except ValueError as e:
            log.error("model metadata is invalid: %s", e)
            return None, f"model metadata is invalid: {e} (from init_metadata() and MODEL_METADATA)"
        return md, None



class _Rewrapped:
    """A result with the runtime tags/metrics of the SeldonResponse it came from."""

    __slots__ = ("data", "metrics", "tags")

    def __init__(self, data: Any, tags: dict | None, metrics: list | None) -> None:
        self.data, self.tags, self.metrics = data, tags, metrics


def _protobuf_json(body: dict) -> dict:
    """Seldon sends feedback answers through protobuf JSON, which leaves out empty repeated
    fields: no empty `names`, no empty tensor `values`."""
    data = body.get("data")
    if isinstance(data, dict):
        if not len(data.get("names", ())):
            data.pop("names", None)
        tensor = data.get("tensor")
        if isinstance(tensor, dict) and not len(tensor.get("values", ())):
            tensor.pop("values", None)
    return body


def _merge_metas(metas: list) -> dict:
    """Aggregate: tags and requestPath merged over all inputs, metrics concatenated, puid of the first."""
    merged: dict = {}
    for meta in metas:
        if not meta:
            continue
        if "puid" in meta and "puid" not in merged:
            merged["puid"] = meta["puid"]
        for key in ("tags", "requestPath"):
            if meta.get(key):
                merged.setdefault(key, {}).update(meta[key])
        if meta.get("metrics"):
            merged.setdefault("metrics", []).extend(meta["metrics"])
    return merged


def _sub_message(msg: dict, key: str) -> dict:
    sub = msg.get(key) or {}
    if not isinstance(sub, dict):
        raise MicroserviceError(f"Invalid JSON: Feedback.{key} must be a SeldonMessage object, got {sub!r}")
    return sub


def _feedback_data(sub: dict) -> tuple[Any, str | None, list]:
    """Feedback request/truth `data` as float arrays, like Seldon's protobuf path."""
    if "data" not in sub:
        return np.array([]), None, []
    arr, kind, names = seldon_codec.decode_data(sub["data"])
    if arr.dtype.kind in "iub":
        arr = arr.astype(np.float64)
    return arr, kind, names
