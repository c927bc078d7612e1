"""The Seldon protocol over gRPC (package seldon.protos, contract C.11).

One servicer implements every method of the seven services (Generic, Model, Router, Transformer,
OutputTransformer, Combiner, Seldon) and is registered once per service, as Seldon does. Each
method decodes the proto to the data plane's dict form (seldon_proto), calls the same DataPlane
method the REST routes call, and encodes the answer back.
"""
from __future__ import annotations

from typing import Any, Callable

import grpc

from ..errors import MicroserviceError
from . import seldon_proto
from .calls import Caller
from .gen import prediction_pb2 as pb
from .gen import prediction_pb2_grpc as pb_grpc

SERVICES = ("Generic", "Model", "Router", "Transformer", "OutputTransformer", "Combiner", "Seldon")
SERVICE_NAMES = tuple(f"seldon.protos.{s}" for s in SERVICES)


class SeldonServicer:
    """Serves seldon.protos.* for one DataPlane."""

    def __init__(self, dataplane: Any) -> None:
        self.dataplane = dataplane
        self.caller = Caller()

    def _wants_proto(self, method: str) -> bool:
        """Seldon hands raw hooks (predict_raw, route_raw, ...) and predict_grpc the proto itself."""
        model = getattr(self.dataplane, "model", None)
        if model is None:
            return False
        if method == "predict" and getattr(model, "predict_grpc", None) is not None:
            return True
        return (getattr(model, "raw", None) or {}).get(method) is not None

    def _seldon(self, rpc: str, method: str, request: Any, to_dict: Callable[[Any], Any],
                context: grpc.ServicerContext) -> pb.SeldonMessage:
        def run() -> pb.SeldonMessage:
            # the raw hooks get the proto itself, as in Seldon; the dict is for everything else
            # (including the fall-through when a raw hook raises SeldonNotImplementedError)
            raw = request if self._wants_proto(method) else None
            result = self.dataplane.seldon(method, to_dict(request), transport="grpc", raw=raw)
            return seldon_proto.dict_to_message(result)

        return self.caller.call(rpc, context, pb.SeldonMessage, run)

    def Predict(self, request: pb.SeldonMessage, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("Predict", "predict", request, seldon_proto.message_to_dict, context)

    def TransformInput(self, request: pb.SeldonMessage, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("TransformInput", "transform-input", request, seldon_proto.message_to_dict,
                            context)

    def TransformOutput(self, request: pb.SeldonMessage, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("TransformOutput", "transform-output",
                            request, seldon_proto.message_to_dict, context)

    def Route(self, request: pb.SeldonMessage, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("Route", "route", request, seldon_proto.message_to_dict, context)

    def Aggregate(self, request: pb.SeldonMessageList, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("Aggregate", "aggregate", request, seldon_proto.message_list_to_dict, context)

    def SendFeedback(self, request: pb.Feedback, context: grpc.ServicerContext) -> pb.SeldonMessage:
        return self._seldon("SendFeedback", "send-feedback", request, seldon_proto.feedback_to_dict,
                            context)

    def Metadata(self, request: Any, context: grpc.ServicerContext) -> pb.SeldonModelMetadata:
        return self.caller.call("Metadata", context, pb.SeldonModelMetadata,
                                lambda: seldon_proto.metadata_to_proto(self.dataplane.seldon_metadata()))

    def ModelMetadata(self, request: pb.SeldonModelMetadataRequest,
                      context: grpc.ServicerContext) -> pb.SeldonModelMetadata:
        return self.caller.call("ModelMetadata", context, pb.SeldonModelMetadata,
                                lambda: seldon_proto.metadata_to_proto(self.dataplane.seldon_metadata()))

    def GraphMetadata(self, request: Any, context: grpc.ServicerContext) -> pb.SeldonGraphMetadata:
        def run() -> pb.SeldonGraphMetadata:
            raise MicroserviceError("GraphMetadata describes a whole inference graph: the Seldon executor "
                                    "answers it, a single model microservice does not; call "
                                    "seldon.protos.Model/Metadata instead", status_code=501)

        return self.caller.call("GraphMetadata", context, pb.SeldonGraphMetadata, run)


def add_to_server(servicer: SeldonServicer, server: grpc.Server) -> None:
    """Register `servicer` for all seven Seldon services."""
    for name in SERVICES:
        getattr(pb_grpc, f"add_{name}Servicer_to_server")(servicer, server)
