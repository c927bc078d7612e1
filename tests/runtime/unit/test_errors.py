"""The error hierarchy, the two error bodies, and duck typing of seldon-core's exceptions."""
from __future__ import annotations

import pytest

from modelpack_runtime import errors as e


@pytest.mark.parametrize("err, status, reason", [
    (e.MicroserviceError("m"), 400, "MICROSERVICE_BAD_DATA"),
    (e.BadParameter("m"), 400, "MICROSERVICE_BAD_PARAMETER"),
    (e.NotFound("m"), 404, "MICROSERVICE_BAD_DATA"),
    (e.NotReady("load failed"), 503, "MICROSERVICE_NOT_READY"),
    (e.PayloadTooLarge("m"), 413, "MICROSERVICE_BAD_DATA"),
    (e.UserCodeError(ValueError("m")), 500, "MICROSERVICE_INTERNAL_ERROR"),
    (e.BadMetric("m"), 500, "MICROSERVICE_BAD_METRIC"),
    (e.BadMetadata("m"), 500, "MICROSERVICE_BAD_METADATA"),
    (e.MicroserviceError("m", status_code=422, reason="R"), 422, "R"),
])
def test_hierarchy(err: e.MicroserviceError, status: int, reason: str) -> None:
    assert isinstance(err, e.MicroserviceError)
    assert (err.status_code, err.reason) == (status, reason)


def test_bodies() -> None:
    err = e.MicroserviceError("bad thing")
    assert e.seldon_error_body(err) == {"status": {"status": 1, "info": "bad thing", "code": -1,
                                                   "reason": "MICROSERVICE_BAD_DATA"}}
    assert e.v2_error_body(err) == {"error": "bad thing"}
    nr = e.NotReady("Model.load() raised OSError: x")
    assert nr.failure == "Model.load() raised OSError: x" and "Model.load() raised OSError: x" in nr.message


def test_user_code_error_wraps() -> None:
    cause = KeyError("col")
    err = e.to_microservice_error(cause, "predict")
    assert isinstance(err, e.UserCodeError)
    assert err.message == str(cause) and err.exc_type == "KeyError" and err.where == "predict"
    assert err.__cause__ is cause


def _seldon_like(name: str, base: type = Exception, **attrs: object) -> type:
    return type(name, (base,), attrs)


def test_duck_typed_seldon_exceptions() -> None:
    SME = _seldon_like("SeldonMicroserviceException")

    def init(self, message, status_code=None, reason="MICROSERVICE_BAD_DATA"):
        Exception.__init__(self, message)
        self.message, self.reason = message, reason
        self.status_code = status_code or 400

    SME.__init__ = init
    err = e.to_microservice_error(SME("nope", status_code=409, reason="CONFLICT"))
    assert (err.status_code, err.reason, err.message) == (409, "CONFLICT", "nope")
    SNI = _seldon_like("SeldonNotImplementedError", SME)
    sub = SNI("not here")
    assert e.is_seldon_not_implemented(sub) and e.is_seldon_exception(sub)
    assert e.to_microservice_error(sub).status_code == 400
    # a subclass of a Seldon exception with a user-defined name is still recognised
    Custom = _seldon_like("MyDomainError", SME)
    assert e.to_microservice_error(Custom("x", status_code=451)).status_code == 451


def test_duck_typed_to_dict_only() -> None:
    class MicroserviceException(Exception):
        status_code = 402

        def to_dict(self) -> dict:
            return {"status": {"status": 1, "info": "pay me", "code": -1, "reason": "PAYMENT"}}

    err = e.to_microservice_error(MicroserviceException("ignored"))
    assert (err.status_code, err.reason, err.message) == (402, "PAYMENT", "pay me")


def test_bad_status_code_falls_back_to_400() -> None:
    class SeldonMicroserviceException(Exception):
        status_code = "teapot"

    assert e.to_microservice_error(SeldonMicroserviceException("x")).status_code == 400


def test_shim_exceptions_are_recognised() -> None:
    import sys

    from modelpack_runtime.usermodel import SHIM_DIR

    sys.path.append(SHIM_DIR)
    try:
        from seldon_core.flask_utils import SeldonMicroserviceException
        from seldon_core.user_model import SeldonNotImplementedError

        err = e.to_microservice_error(SeldonMicroserviceException("m", status_code=503, reason="BUSY"))
        assert (err.status_code, err.reason) == (503, "BUSY")
        assert SeldonMicroserviceException("m").to_dict() == {
            "status": {"status": 1, "info": "m", "code": -1, "reason": "MICROSERVICE_BAD_DATA"}}
        assert e.is_seldon_not_implemented(SeldonNotImplementedError("x"))
    finally:
        sys.path.remove(SHIM_DIR)
        for name in [n for n in sys.modules if n.startswith("seldon_core")]:
            del sys.modules[name]
