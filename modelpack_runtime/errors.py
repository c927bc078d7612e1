"""One error hierarchy for the runtime. The data plane raises these; each transport adapter maps
them once (Seldon REST body, V1/V2 `{"error": ...}` body, gRPC status code).

`to_microservice_error(exc)` is the single seam where an exception raised by user code becomes a
MicroserviceError: Seldon's own exception classes are recognised by duck typing, so a model that
imports the real `seldon_core` (or our shim) keeps the status code and reason it chose.
"""
from __future__ import annotations

from typing import Any


class MicroserviceError(Exception):
    """A request failed. `status_code` is the HTTP status, `reason` the Seldon reason string."""

    status_code = 400
    reason = "MICROSERVICE_BAD_DATA"

    def __init__(self, message: str, status_code: int | None = None, reason: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = int(status_code)
        if reason is not None:
            self.reason = reason

    def __str__(self) -> str:
        return self.message


class BadParameter(MicroserviceError):
    """A PREDICTIVE_UNIT_PARAMETERS entry (or the model_uri) is invalid."""

    reason = "MICROSERVICE_BAD_PARAMETER"


class NotFound(MicroserviceError):
    """The V1/V2 model name (or version) in the path is not the one this server serves."""

    status_code = 404


class NotReady(MicroserviceError):
    """The model could not be constructed or loaded; `failure` holds the plain-words reason."""

    status_code = 503
    reason = "MICROSERVICE_NOT_READY"

    def __init__(self, failure: str) -> None:
        super().__init__(f"model is not ready: {failure}")
        self.failure = failure


class PayloadTooLarge(MicroserviceError):
    status_code = 413


class UserCodeError(MicroserviceError):
    """User code raised an exception that is not a Seldon exception: 500, `info` is `str(e)`."""

    status_code = 500
    reason = "MICROSERVICE_INTERNAL_ERROR"

    def __init__(self, exc: BaseException, where: str = "") -> None:
        super().__init__(str(exc))
        self.exc_type = type(exc).__name__
        self.where = where
        self.__cause__ = exc


class BadMetric(MicroserviceError):
    """A custom metric returned by user code (metrics() or SeldonResponse) is malformed."""

    status_code = 500
    reason = "MICROSERVICE_BAD_METRIC"


class BadMetadata(MicroserviceError):
    """init_metadata() or MODEL_METADATA gives metadata that does not match the schema."""

    status_code = 500
    reason = "MICROSERVICE_BAD_METADATA"


# Class names of seldon-core's exceptions (seldon_core.flask_utils, seldon_core.user_model).
_SELDON_EXCEPTION_NAMES = frozenset(
    {"SeldonMicroserviceException", "SeldonNotImplementedError", "MicroserviceException"}
)


def is_seldon_exception(exc: BaseException) -> bool:
    """True if `exc` is (duck-typed) one of seldon-core's exceptions, from any module."""
    for cls in type(exc).__mro__:
        if cls.__name__ in _SELDON_EXCEPTION_NAMES:
            return True
    return False


def is_seldon_not_implemented(exc: BaseException) -> bool:
    return any(cls.__name__ == "SeldonNotImplementedError" for cls in type(exc).__mro__)


def _from_seldon_exception(exc: BaseException) -> MicroserviceError:
    status = getattr(exc, "status_code", None)
    reason = getattr(exc, "reason", None)
    message = getattr(exc, "message", None)
    to_dict = getattr(exc, "to_dict", None)
    if callable(to_dict) and (message is None or reason is None):
        try:
            st = to_dict().get("status", {})
            message = st.get("info", message)
            reason = st.get("reason", reason)
        except Exception:  # a broken to_dict() must not hide the original error
            pass
    if not isinstance(status, int) or not 100 <= status <= 599:
        status = 400
    return MicroserviceError(
        str(message) if message is not None else str(exc),
        status_code=status,
        reason=str(reason) if reason else "MICROSERVICE_BAD_DATA",
    )


def to_microservice_error(exc: BaseException, where: str = "") -> MicroserviceError:
    """Map any exception raised while serving a request to a MicroserviceError."""
    if isinstance(exc, MicroserviceError):
        return exc
    if is_seldon_exception(exc):
        return _from_seldon_exception(exc)
    return UserCodeError(exc, where)


def seldon_error_body(err: MicroserviceError) -> dict[str, Any]:
    """The Seldon REST error body (contract C.9)."""
    return {"status": {"status": 1, "info": err.message, "code": -1, "reason": err.reason}}


def v2_error_body(err: MicroserviceError) -> dict[str, Any]:
    """The KServe V1 / Open Inference V2 REST error body."""
    return {"error": err.message}
