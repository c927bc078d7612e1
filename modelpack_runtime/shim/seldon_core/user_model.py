"""The user-facing helpers of seldon_core.user_model: SeldonComponent, SeldonResponse and
SeldonNotImplementedError. The runtime treats a hook inherited unchanged from SeldonComponent
as "not defined", exactly like seldon-core does when the base method raises."""
from __future__ import annotations

from typing import Any

from seldon_core.flask_utils import SeldonMicroserviceException


class SeldonNotImplementedError(SeldonMicroserviceException):
    status_code = 400

    def __init__(self, message: str) -> None:
        SeldonMicroserviceException.__init__(self, message)


class SeldonResponse:
    """A result plus runtime tags and metrics for this one response."""

    def __init__(self, data: Any, tags: dict | None = None, metrics: list[dict] | None = None) -> None:
        self.data = data
        self.tags = tags
        self.metrics = metrics

    @classmethod
    def create(cls, data: Any) -> SeldonResponse:
        return data if isinstance(data, cls) else cls(data)


class SeldonComponent:
    """Optional base class; every hook raises SeldonNotImplementedError until overridden."""

    def __init__(self, **kwargs: Any) -> None:
        pass

    def tags(self) -> dict:
        raise SeldonNotImplementedError("tags is not implemented")

    def class_names(self) -> list[str]:
        raise SeldonNotImplementedError("class_names is not implemented")

    def load(self) -> None:
        pass

    def predict(self, X: Any, names: Any, meta: dict | None = None) -> Any:
        raise SeldonNotImplementedError("predict is not implemented")

    def predict_raw(self, msg: Any) -> Any:
        raise SeldonNotImplementedError("predict_raw is not implemented")

    def send_feedback_raw(self, feedback: Any) -> Any:
        raise SeldonNotImplementedError("send_feedback_raw is not implemented")

    def transform_input(self, X: Any, names: Any, meta: dict | None = None) -> Any:
        raise SeldonNotImplementedError("transform_input is not implemented")

    def transform_input_raw(self, msg: Any) -> Any:
        raise SeldonNotImplementedError("transform_input_raw is not implemented")

    def transform_output(self, X: Any, names: Any, meta: dict | None = None) -> Any:
        raise SeldonNotImplementedError("transform_output is not implemented")

    def transform_output_raw(self, msg: Any) -> Any:
        raise SeldonNotImplementedError("transform_output_raw is not implemented")

    def metrics(self) -> list[dict]:
        raise SeldonNotImplementedError("metrics is not implemented")

    def feature_names(self) -> list[str]:
        raise SeldonNotImplementedError("feature_names is not implemented")

    def send_feedback(self, features: Any, feature_names: Any, reward: float, truth: Any,
                      routing: int | None = None) -> Any:
        raise SeldonNotImplementedError("send_feedback is not implemented")

    def route(self, features: Any, feature_names: Any) -> int:
        raise SeldonNotImplementedError("route is not implemented")

    def route_raw(self, msg: Any) -> Any:
        raise SeldonNotImplementedError("route_raw is not implemented")

    def aggregate(self, features_list: Any, feature_names_list: Any) -> Any:
        raise SeldonNotImplementedError("aggregate is not implemented")

    def aggregate_raw(self, msgs: Any) -> Any:
        raise SeldonNotImplementedError("aggregate_raw is not implemented")

    def health_status(self) -> Any:
        raise SeldonNotImplementedError("health is not implemented")

    def health_status_raw(self) -> Any:
        raise SeldonNotImplementedError("health_raw is not implemented")

    def init_metadata(self) -> dict:
        raise SeldonNotImplementedError("init_metadata is not implemented")
