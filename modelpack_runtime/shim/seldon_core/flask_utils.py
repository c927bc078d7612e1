"""Seldon's exception with a status code and reason (seldon_core.flask_utils)."""
from __future__ import annotations

from typing import Any


class SeldonMicroserviceException(Exception):
    """Raise this from user code to answer with `status_code` and `reason` (default 400)."""

    status_code = 400

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        payload: Any = None,
        reason: str = "MICROSERVICE_BAD_DATA",
    ) -> None:
        Exception.__init__(self, message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        self.payload = payload
        self.reason = reason

    def to_dict(self) -> dict:
        rv = {"status": {"status": 1, "info": self.message, "code": -1, "reason": self.reason}}
        return rv
