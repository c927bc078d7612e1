"""Put on PYTHONPATH by test_serving.py: makes `import grpc` (and its companions) fail, as in an
image without grpcio."""
import sys


class _NoGrpc:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("grpc", "grpc_health", "grpc_reflection"):
            raise ImportError(f"No module named {name!r} (blocked by the test)")
        return None


sys.meta_path.insert(0, _NoGrpc())
