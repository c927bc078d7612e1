"""Host a KServe custom model (a kserve.Model subclass started by kserve.ModelServer) in modelpack's
runtime. Two parts:

* `python -m modelpack_runtime.layouts.kserve [KServe flags]`, the image's command: reads KServe's
  documented flags (--http_port, --grpc_port, --workers, --max_buffer_size, --max_asyncio_workers)
  and PORT, then execs modelpack-microservice with the matching flags.
* `KServeHost`, the class modelpack-microservice serves (MODEL_NAME): it runs the user's script as
  `__main__` with kserve.ModelServer.start intercepted, keeps the model it was given, and answers
  predict by calling the model's preprocess -> predict -> postprocess (sync or async) with the
  KServe V1 request dict. The V1 route answers {"predictions": ...} exactly as KServe does.
"""
from __future__ import annotations

import asyncio
import inspect
import os
import runpy
import sys
import threading
from typing import Any

SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "shim")
MODULE_ENV = "MODELPACK_KSERVE_MODULE"


class _Loop:
    """One event loop in a daemon thread for the model's async handlers: predict may be called from
    the server's loop (inline) or from a pool thread, and asyncio.run() cannot nest in either."""

    _loop: asyncio.AbstractEventLoop | None = None
    _lock = threading.Lock()

    @classmethod
    def run(cls, value: Any) -> Any:
        if not inspect.isawaitable(value):
            return value
        with cls._lock:
            if cls._loop is None:
                cls._loop = asyncio.new_event_loop()
                threading.Thread(target=cls._loop.run_forever, name="kserve-async", daemon=True).start()
        return asyncio.run_coroutine_threadsafe(_await(value), cls._loop).result()


async def _await(value: Any) -> Any:
    return await value


def _call(fn: Any, payload: Any) -> Any:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        params = {}
    return _Loop.run(fn(payload, headers={}) if "headers" in params else fn(payload))


class KServeHost:
    """MODEL_NAME of a KServe layout image. MODELPACK_KSERVE_MODULE names the user's script."""

    def __init__(self, module: str | None = None) -> None:
        module = module or os.environ.get(MODULE_ENV, "model")
        path = os.path.abspath(f"{module.replace('.', '/')}.py")
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{MODULE_ENV}={module}: no {path}; set it to the script that starts kserve.ModelServer")
        if SHIM_DIR not in sys.path:
            sys.path.append(SHIM_DIR)  # last: a real kserve, if installed, wins
        import kserve

        started: list = []
        real_start = kserve.ModelServer.start

        def capture(self: Any, models: Any = None, *args: Any, **kwargs: Any) -> None:
            if isinstance(models, dict):
                models = list(models.values())
            started.extend([*getattr(self, "registered", []), *(models or [])])

        kserve.ModelServer.start = capture  # type: ignore[method-assign]
        saved_argv = sys.argv
        sys.argv = [path]  # the script's own argparse sees no microservice flags
        try:
            runpy.run_path(path, run_name="__main__")
        finally:
            kserve.ModelServer.start = real_start  # type: ignore[method-assign]
            sys.argv = saved_argv
        if not started:
            raise RuntimeError(
                f"{module}.py did not call kserve.ModelServer().start([model]) when run as __main__;"
                " start the server under `if __name__ == \"__main__\":` as KServe's docs show"
            )
        if len(started) > 1:
            names = ", ".join(getattr(m, "name", "?") for m in started)
            raise RuntimeError(f"{module}.py started {len(started)} models ({names}); modelpack serves one per image")
        model = started[0]
        if isinstance(model, type):  # KServe also accepts classes (Ray Serve deployments)
            model = model()
        self.kserve_model = model
        self.name = getattr(model, "name", module)

    def load(self) -> None:
        if not getattr(self.kserve_model, "ready", False):
            _Loop.run(self.kserve_model.load())
            self.kserve_model.ready = True

    def predict(self, X: Any, names: Any = None, meta: Any = None) -> Any:
        instances = X.tolist() if hasattr(X, "tolist") else X
        request: dict = {"instances": instances}
        if isinstance(meta, dict) and meta.get("parameters"):
            request["parameters"] = meta["parameters"]
        m = self.kserve_model
        result = _call(m.postprocess, _call(m.predict, _call(m.preprocess, request)))
        if isinstance(result, dict) and "predictions" in result:
            return result["predictions"]  # the runtime's V1 route wraps it again
        return result


def _launch_args(argv: list[str], env: dict[str, str]) -> list[str]:
    """KServe flags (and PORT) -> modelpack-microservice's argv."""
    sys.path.append(SHIM_DIR)
    from kserve import model_server  # the shim's parser: KServe's documented flags

    args, unknown = model_server.parser.parse_known_args(argv)
    if unknown:
        print(f"modelpack: ignoring KServe flags it does not know: {' '.join(unknown)}", file=sys.stderr)
    port = args.http_port
    if "--http_port" not in " ".join(argv) and env.get("PORT"):
        port = int(env["PORT"])
    out = [
        "modelpack-microservice",
        "modelpack_runtime.layouts.kserve.KServeHost",
        "--http-port", str(port),
        "--grpc-port", str(args.grpc_port),
        "--workers", str(args.workers),
        "--max-body-size", str(args.max_buffer_size),
    ]
    if args.max_asyncio_workers:
        out += ["--threads", str(args.max_asyncio_workers)]
    if not args.enable_grpc:
        out += ["--grpc-workers", "0"]
    if args.model_name:
        out += ["--model-name", args.model_name]
    return out


def main() -> None:
    argv = _launch_args(sys.argv[1:], dict(os.environ))
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main()
