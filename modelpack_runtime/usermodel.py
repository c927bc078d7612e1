"""Find, construct and inspect the user's model class.

Everything that can be decided by looking at the class is decided ONCE here, at load time: which
hooks exist, and whether each takes `meta=` / `routing=`. The per-request path then calls a
ready-made function and never retries on TypeError (seldon-core quirk C.13: its retry ran
`predict` twice when user code raised TypeError internally).

A hook inherited unchanged from a class named `SeldonComponent` counts as "not defined": those
base methods only raise SeldonNotImplementedError.
"""
from __future__ import annotations

import importlib
import inspect
import json
import os
import sys
from typing import Any, Callable

import numpy as np

from .errors import BadMetric, BadParameter, is_seldon_not_implemented

SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")
PARAMETER_TYPES = ("INT", "FLOAT", "DOUBLE", "STRING", "BOOL", "JSON")
_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})
_METRIC_TYPES = frozenset({"COUNTER", "GAUGE", "TIMER"})
_PLAIN = (np.ndarray, list, dict, str, bytes)
_PARAM_EXAMPLE = '[{"name": "alpha", "value": "0.5", "type": "FLOAT"}]'


class ModelSetupError(Exception):
    """Import, parameters or construction failed; the message is the plain-words reason."""


def _strtobool(value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError(value)


def _cast(name: str, value: Any, type_: str) -> Any:
    if type_ == "JSON":
        return json.loads(value) if isinstance(value, (str, bytes)) else value
    if type_ == "BOOL":
        return value if isinstance(value, bool) else _strtobool(str(value))
    if type_ == "INT":
        if isinstance(value, (float, bool)):  # 1.5 would silently become 1
            raise ValueError(value)
        return int(value)
    if type_ in ("FLOAT", "DOUBLE"):
        return float(value)
    return str(value)


def parse_parameters(text: str | None) -> dict[str, Any]:
    """PREDICTIVE_UNIT_PARAMETERS (a JSON list of {name, value, type}) -> constructor kwargs.

    Raises BadParameter naming the parameter, its value and the expected type.
    """
    if text is None or not str(text).strip():
        return {}
    try:
        entries = json.loads(text)
    except ValueError as e:
        raise BadParameter(
            f"PREDICTIVE_UNIT_PARAMETERS is not valid JSON ({e}): {text!r}; expected a list like {_PARAM_EXAMPLE}"
        ) from None
    if not isinstance(entries, list):
        raise BadParameter(
            f"PREDICTIVE_UNIT_PARAMETERS must be a JSON list, got {type(entries).__name__}: {text!r};"
            f" expected a list like {_PARAM_EXAMPLE}"
        )
    params: dict[str, Any] = {}
    for i, entry in enumerate(entries):
        where = f"PREDICTIVE_UNIT_PARAMETERS[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or "value" not in entry:
            raise BadParameter(
                f"{where} must be an object with string 'name', 'value' and 'type', got {entry!r};"
                f" e.g. {_PARAM_EXAMPLE}"
            )
        name, value = entry["name"], entry["value"]
        type_ = str(entry.get("type", "STRING")).upper()
        if type_ not in PARAMETER_TYPES:
            raise BadParameter(
                f"{where}: parameter {name!r} has unknown type {entry.get('type')!r};"
                f" use one of {', '.join(PARAMETER_TYPES)}"
            )
        try:
            params[name] = _cast(name, value, type_)
        except (ValueError, TypeError):
            expected = {
                "BOOL": "a boolean (1/true/t/yes/y/on or 0/false/f/no/n/off)",
                "JSON": "a JSON document",
                "INT": "an integer",
            }.get(type_, "a number")
            raise BadParameter(
                f"{where}: parameter {name!r} has value {value!r} which is not {expected} (type {type_});"
                f" fix the value or the type"
            ) from None
    return params


def model_uri_to_path(uri: str, sha256: str | None = None) -> str:
    """A local path for `uri`: local paths and file:// as they are, http(s)/s3/gs downloaded once
    (modelpack_runtime.model_uri.resolve). Raises BadParameter naming the URI and the fix."""
    from .model_uri import resolve

    return resolve(uri, sha256=sha256)


def _add_to_path(path: str) -> None:
    if path not in sys.path:
        sys.path.append(path)


def import_user_class(interface_name: str, workdir: str = ".") -> type:
    """Import MODEL_NAME ("Model" or "pkg.mod.Cls") with workdir appended to sys.path (as Seldon
    does), then the shim folder LAST so that a real seldon-core wins over our fallback."""
    _add_to_path(os.path.abspath(workdir))
    if SHIM_DIR in sys.path:  # keep it last even if something appended after it
        sys.path.remove(SHIM_DIR)
    sys.path.append(SHIM_DIR)
    if "." in interface_name:
        module_name, class_name = interface_name.rsplit(".", 1)
    else:
        module_name = class_name = interface_name
    try:
        module = importlib.import_module(module_name)
    except (Exception, SystemExit) as e:  # sys.exit() in user code must not kill the worker
        raise ModelSetupError(
            f"importing module {module_name!r} (MODEL_NAME={interface_name!r}) from {os.path.abspath(workdir)}"
            f" raised {type(e).__name__}: {e}; check MODEL_NAME and that {module_name.replace('.', '/')}.py"
            " is in the source folder"
        ) from e
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ModelSetupError(
            f"module {module_name!r} ({getattr(module, '__file__', '?')}) has no class {class_name!r}"
            f" (MODEL_NAME={interface_name!r}); set MODEL_NAME to module.ClassName"
        )
    return cls


def _accepts(fn: Callable, name: str) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(p.name == name or p.kind is p.VAR_KEYWORD for p in sig.parameters.values())


def construct_user_object(cls: type, parameters: dict[str, Any], model_uri: str | None) -> Any:
    """`cls(**parameters)`, adding model_uri (PrimeHub) when the constructor accepts it.

    A `model_uri` parameter wins over MODEL_URI. Raises ModelSetupError with a plain-words reason.
    """
    kwargs = dict(parameters)
    uri = kwargs.get("model_uri", model_uri)
    if uri:
        sha256 = kwargs.get("model_uri_sha256")
        if "model_uri_sha256" in kwargs and not _accepts(cls, "model_uri_sha256"):
            del kwargs["model_uri_sha256"]  # a modelpack parameter, not the class's
        path = model_uri_to_path(str(uri), sha256)  # BadParameter for a failed download
        if "model_uri" in kwargs or _accepts(cls, "model_uri"):
            kwargs["model_uri"] = path
    try:
        return cls(**kwargs)
    except (Exception, SystemExit) as e:  # sys.exit() in user code must not kill the worker
        raise ModelSetupError(
            f"constructing {cls.__name__}(**{_shown(kwargs)!r}) raised {type(e).__name__}: {e}"
        ) from e


_SECRET_WORDS = ("pass", "secret", "token", "key", "credential", "auth")


def _shown(kwargs: dict[str, Any]) -> dict[str, Any]:
    """The constructor arguments for a message: values of secret-looking names are hidden."""
    return {k: "***" if any(w in k.lower() for w in _SECRET_WORDS) else v for k, v in kwargs.items()}


def own_hook(obj: Any, name: str) -> Callable | None:
    """obj.<name> if it is defined by the user (not inherited from SeldonComponent), else None."""
    attr = getattr(obj, name, None)
    if attr is None:
        return None
    if callable(attr):
        for klass in type(obj).__mro__:
            if name in klass.__dict__:
                return None if klass.__name__ == "SeldonComponent" else attr
        return attr  # instance attribute holding a callable
    return None


def call_features_hook(fn: Callable) -> Callable[[Any, Any, Any], Any]:
    """Wrap a `hook(X, names[, meta])` once, after looking at its signature: `meta` is passed as a
    keyword when the hook declares `meta` or **kwargs, positionally when a third required
    positional parameter exists, and not at all otherwise. Never retried on TypeError."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        return lambda X, names, meta: fn(X, names, meta=meta)
    if any(p.name == "meta" or p.kind is p.VAR_KEYWORD for p in params):
        return lambda X, names, meta: fn(X, names, meta=meta)
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if any(p.kind is p.VAR_POSITIONAL for p in params) or (
        len(positional) >= 3 and positional[2].default is inspect.Parameter.empty
    ):
        return lambda X, names, meta: fn(X, names, meta)
    if len(positional) == 1:
        return lambda X, names, meta: fn(X)
    return lambda X, names, meta: fn(X, names)


def call_optional(fn: Callable | None, default: Any = None) -> Any:
    """Call a no-argument hook (tags, metrics, class_names, init_metadata); a missing hook or one
    raising SeldonNotImplementedError gives `default`."""
    if fn is None:
        return default
    try:
        return fn()
    except Exception as e:
        if is_seldon_not_implemented(e):
            return default
        raise


class UserModel:
    """The constructed user object plus its hooks, resolved once.

    Feature hooks (`predict`, `transform_input`, `transform_output`, `route`, `aggregate`) are
    functions `(X, names, meta)` or None; raw hooks are in `raw[method]`.
    """

    def __init__(self, obj: Any) -> None:
        self.obj = obj

        def hook(name: str) -> Callable | None:
            return own_hook(obj, name)

        def feature(name: str) -> Callable[[Any, Any, Any], Any] | None:
            fn = own_hook(obj, name)
            return call_features_hook(fn) if fn is not None else None

        self.load = hook("load")
        self.predict = feature("predict")
        self.transform_input = feature("transform_input")
        self.transform_output = feature("transform_output")
        self.route = feature("route")
        self.aggregate = feature("aggregate")
        self.raw = {
            "predict": hook("predict_raw"),
            "transform-input": hook("transform_input_raw"),
            "transform-output": hook("transform_output_raw"),
            "route": hook("route_raw"),
            "aggregate": hook("aggregate_raw"),
            "send-feedback": hook("send_feedback_raw"),
        }
        self.predict_rest = hook("predict_rest")
        self.predict_grpc = hook("predict_grpc")
        self.send_feedback = hook("send_feedback")
        self.feedback_takes_routing = self.send_feedback is not None and _accepts(self.send_feedback, "routing")
        # not own_hook: an inherited SeldonComponent.health_status answers "not implemented - assuming
        # healthy", exactly as in Seldon
        hs = getattr(obj, "health_status", None)
        self.health_status = hs if callable(hs) else None
        self.health_status_raw = hook("health_status_raw")
        self.metrics = hook("metrics")
        self.tags = hook("tags")
        self.init_metadata = hook("init_metadata")
        self.class_names = hook("class_names")
        attr = getattr(obj, "class_names", None)
        # deprecated in Seldon but still honoured: a plain list attribute
        self.class_names_attr = list(attr) if isinstance(attr, (list, tuple)) else None

    def names_for(self, ncols: int) -> list:
        """Column names for a 2-D+ result: class_names() / attribute, else t:0..t:n-1."""
        if self.class_names is not None:
            names = call_optional(self.class_names, None)
            if names is not None:
                return list(names)
        elif self.class_names_attr is not None:
            return self.class_names_attr
        return [f"t:{i}" for i in range(ncols)]


def unwrap(result: Any) -> tuple[Any, dict | None, list | None]:
    """(data, tags, metrics) of a SeldonResponse-like result (duck typed), else (result, None, None)."""
    if type(result) in _PLAIN or result is None:
        return result, None, None
    if type(result).__name__ == "SeldonResponse" or (
        hasattr(result, "data") and hasattr(result, "tags") and hasattr(result, "metrics")
    ):
        return result.data, result.tags, result.metrics
    return result, None, None


def validate_metrics(metrics: Any, source: str) -> list:
    """Custom metric dicts {type, key, value, tags?} or BadMetric (500) naming the bad entry."""
    if not isinstance(metrics, (list, tuple)):
        raise BadMetric(f"{source} must return a list of metric dicts, got {type(metrics).__name__}")
    for m in metrics:
        if not isinstance(m, dict):
            raise BadMetric(f"{source}: metric {m!r} is not a dict with type, key and value")
        if m.get("type") not in _METRIC_TYPES:
            raise BadMetric(f"{source}: metric {m!r} has type {m.get('type')!r}; use COUNTER, GAUGE or TIMER")
        if not isinstance(m.get("key"), str) or not m["key"]:
            raise BadMetric(f"{source}: metric {m!r} needs a non-empty string 'key'")
        v = m.get("value")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise BadMetric(f"{source}: metric {m['key']!r} has value {v!r}; it must be a number")
        tags = m.get("tags")
        if tags is not None and (
            not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(x, str) for k, x in tags.items())
        ):
            raise BadMetric(f"{source}: metric {m['key']!r} has tags {tags!r}; tags must map strings to strings")
    return list(metrics)
