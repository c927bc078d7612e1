"""kserve.model_server: KServe's flags (so `ArgumentParser(parents=[model_server.parser])` works)
and a ModelServer whose start() hands the models to modelpack instead of serving them."""
from __future__ import annotations

import argparse
from typing import Any

parser = argparse.ArgumentParser(add_help=False)
parser.add_argument("--http_port", default=8080, type=int, help="the HTTP port (env PORT)")
parser.add_argument("--grpc_port", default=8081, type=int, help="the gRPC port")
parser.add_argument("--workers", default=1, type=int, help="worker processes")
parser.add_argument("--max_buffer_size", default=104857600, type=int, help="largest request body, bytes")
parser.add_argument("--max_asyncio_workers", default=None, type=int, help="threads for predict calls")
parser.add_argument("--enable_grpc", default=True, type=lambda v: str(v).lower() in ("1", "true", "yes"))
parser.add_argument("--model_name", default=None, help="the served model's name")

# models given to ModelServer.start() while modelpack imports the user's script
STARTED: list = []


class ModelServer:
    """Accepts KServe's constructor arguments; start() records the models (no server is started:
    modelpack's runtime serves them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.registered: list = []

    def register_model(self, model: Any) -> None:
        self.registered.append(model)

    def start(self, models: Any = None, *args: Any, **kwargs: Any) -> None:
        if isinstance(models, dict):
            models = list(models.values())
        STARTED.extend([*self.registered, *(models or [])])
