"""Open Inference Protocol V2 over gRPC: inference.GRPCInferenceService.

Each RPC calls the same DataPlane method as its REST twin under /v2/...; an unknown model name
gives NOT_FOUND, a model that failed to load UNAVAILABLE (ModelInfer) or ready=false (ModelReady).
"""
from __future__ import annotations

from typing import Any

import grpc

from . import v2_proto
from .calls import Caller
from .gen import grpc_predict_v2_pb2 as pb
from .gen import grpc_predict_v2_pb2_grpc as pb_grpc

SERVICE_NAME = "inference.GRPCInferenceService"


class InferenceServicer(pb_grpc.GRPCInferenceServiceServicer):
    """Serves inference.GRPCInferenceService for one DataPlane."""

    def __init__(self, dataplane: Any) -> None:
        self.dataplane = dataplane
        self.caller = Caller()

    def ServerLive(self, request: pb.ServerLiveRequest, context: grpc.ServicerContext) -> pb.ServerLiveResponse:
        return pb.ServerLiveResponse(live=True)

    def ServerReady(self, request: pb.ServerReadyRequest, context: grpc.ServicerContext) -> pb.ServerReadyResponse:
        return pb.ServerReadyResponse(ready=bool(getattr(self.dataplane, "ready", False)))

    def ModelReady(self, request: pb.ModelReadyRequest, context: grpc.ServicerContext) -> pb.ModelReadyResponse:
        return self.caller.call("ModelReady", context, pb.ModelReadyResponse, lambda: pb.ModelReadyResponse(
            ready=bool(self.dataplane.v2_model_ready(request.name, request.version or None))))

    def ServerMetadata(self, request: pb.ServerMetadataRequest,
                       context: grpc.ServicerContext) -> pb.ServerMetadataResponse:
        return self.caller.call("ServerMetadata", context, pb.ServerMetadataResponse,
                                lambda: v2_proto.server_metadata_to_proto(self.dataplane.v2_server_metadata()))

    def ModelMetadata(self, request: pb.ModelMetadataRequest,
                      context: grpc.ServicerContext) -> pb.ModelMetadataResponse:
        return self.caller.call("ModelMetadata", context, pb.ModelMetadataResponse,
                                lambda: v2_proto.model_metadata_to_proto(
                                    self.dataplane.v2_model_metadata(request.name, request.version or None)))

    def ModelInfer(self, request: pb.ModelInferRequest, context: grpc.ServicerContext) -> pb.ModelInferResponse:
        def run() -> pb.ModelInferResponse:
            infer_request = v2_proto.request_from_proto(request)
            response = self.dataplane.v2_infer(request.model_name, request.model_version or None, infer_request)
            return v2_proto.response_to_proto(response, raw=bool(request.raw_input_contents))

        return self.caller.call("ModelInfer", context, pb.ModelInferResponse, run)


def add_to_server(servicer: InferenceServicer, server: grpc.Server) -> None:
    pb_grpc.add_GRPCInferenceServiceServicer_to_server(servicer, server)
