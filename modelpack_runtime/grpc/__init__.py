"""gRPC for the model microservice (issue 4): Seldon protocol (package seldon.protos), Open
Inference Protocol V2 (package inference), the standard health service and server reflection.

Everything here imports grpcio and protobuf; `modelpack_runtime.grpc_server` imports this package
lazily so that a runtime without grpcio still serves REST.
"""
