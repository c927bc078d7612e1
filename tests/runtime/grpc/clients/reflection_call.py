"""A generic gRPC client that knows no .proto: it resolves services and messages through server
reflection (like grpcurl), then calls a method with a JSON request. It imports nothing from
modelpack. Usage: reflection_call.py HOST:PORT [SERVICE/METHOD JSON]
Without a method it prints the services the server lists, one a line."""
from __future__ import annotations

import sys

import grpc
from google.protobuf import descriptor_pool, json_format, message_factory
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase


def main() -> int:
    target = sys.argv[1]
    channel = grpc.insecure_channel(target)
    db = ProtoReflectionDescriptorDatabase(channel)
    if len(sys.argv) == 2:
        for name in db.get_services():
            print(name)
        return 0
    full_method, body = sys.argv[2], sys.argv[3]
    service_name, method_name = full_method.rsplit("/", 1)
    pool = descriptor_pool.DescriptorPool(db)
    method = pool.FindServiceByName(service_name).FindMethodByName(method_name)
    request_cls = message_factory.GetMessageClass(method.input_type)
    response_cls = message_factory.GetMessageClass(method.output_type)
    call = channel.unary_unary(f"/{service_name}/{method_name}",
                               request_serializer=request_cls.SerializeToString,
                               response_deserializer=response_cls.FromString)
    response = call(json_format.Parse(body, request_cls()), timeout=10)
    print(json_format.MessageToJson(response, indent=None, sort_keys=True, preserving_proto_field_name=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
