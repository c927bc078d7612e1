"""The ASGI app: Seldon REST, KServe V1 and Open Inference V2 on one HTTP port.

No framework: an exact-path dict (which holds the V1/V2 routes of the served model's own name),
then the V1/V2 paths with another name or a version, split at "/". A route has either an async
`handler` (probes, metadata: cheap) or a synchronous `work` function (JSON decode, user code,
encode: may be slow), which runs inline or in the thread pool as inline.Runner decides, so the
event loop never stalls on a slow model. Both return (status, content_type, body[, extra
headers]); errors are errors.MicroserviceError, mapped once here to the protocol's error body
(Seldon status body or V1/V2 `{"error": ...}`).

This is the per-request hot path (docs/serving-benchmark.md, F1): __call__ reads a one-chunk body,
picks inline or pool and times the call without extra coroutines, and the common request shapes
(JSON body, no query string) skip the general parsers.
"""
from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from time import perf_counter
from typing import Any, Awaitable, Callable, Optional

import orjson

from . import fastjson, multipart, v2_codec
from .errors import (
    MicroserviceError,
    NotReady,
    UserCodeError,
    seldon_error_body,
    to_microservice_error,
    v2_error_body,
)
from .inline import RouteState, Runner
from .settings import Settings

log = logging.getLogger("modelpack_runtime.http")

JSON = b"application/json"
OPENAPI = Path(__file__).with_name("openapi") / "seldon.json"
FLUSH_INTERVAL = 0.5  # seconds: request metrics reach the scrape at most this late
_CORS = (b"access-control-allow-origin", b"*")
_DUMPS_OPT = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj: Any) -> Any:
    # orjson serialises C-contiguous numpy arrays natively; anything else numpy-like lands here.
    tolist = getattr(obj, "tolist", None)
    if tolist is not None:
        return tolist()
    if isinstance(obj, (set, frozenset)):
        return list(obj)
    raise TypeError(f"cannot encode a {type(obj).__name__} as JSON")


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=_DUMPS_OPT)


class Request:
    __slots__ = ("method", "path", "query", "content_type", "body", "params", "header_length", "state")

    def __init__(self, method: str, path: str, query: bytes, content_type: str, body: bytes,
                 params: dict[str, str], header_length: Optional[int], state: RouteState) -> None:
        self.method, self.path, self.query, self.content_type = method, path, query, content_type
        self.body, self.params, self.header_length, self.state = body, params, header_length, state


Reply = tuple  # (status, content_type bytes, body bytes[, list of extra headers])
Handler = Callable[[Request], Awaitable[Reply]]
Work = Callable[[Request], Reply]


class Route:
    """One route template. Exactly one of `handler` (async, runs on the loop) and `work`
    (synchronous, runs where the Runner says) is set."""

    __slots__ = ("counted", "handler", "methods", "protocol", "samples", "state", "template", "work")

    def __init__(self, protocol: str, template: str, methods: frozenset, handler: Handler | None,
                 work: Work | None, counted: bool) -> None:
        self.protocol = protocol   # seldon | v1 | v2 (the metrics label and the error format)
        self.template = template   # metrics label
        self.methods = methods
        self.handler = handler
        self.work = work
        self.counted = counted     # health/readiness probes do not move the request metrics
        self.state = RouteState()
        self.samples: dict[int, list[float]] = {}  # status -> the metrics batch (Metrics.samples)


class App:
    """ASGI 3 application over one DataPlane (see docs/runtime-design.md)."""

    def __init__(self, settings: Settings, dataplane: Any, metrics: Any = None) -> None:
        self.settings = settings
        self.dp = dataplane
        self.metrics = metrics
        self.max_body = settings.max_body_size
        self.runner = Runner(settings.inline_predict, 1 if settings.single_threaded else settings.threads,
                             settings.request_timeout)
        self.exact: dict[str, tuple[Route, dict[str, str]]] = {}
        self.named: dict[str, Route] = {}   # template -> route, for the V1/V2 paths with a {name}
        self._seldon_json: Optional[bytes] = None
        self._flushing = False
        self._build_routes()

    # routing table --------------------------------------------------------------------------------
    def _add(self, protocol: str, paths: tuple[str, ...] | str, methods: str, handler: Handler | None = None,
             counted: bool = True, work: Work | None = None) -> None:
        paths = (paths,) if isinstance(paths, str) else paths
        for path in paths:
            route = Route(protocol, path, frozenset(methods.split(",")), handler, work, counted)
            if "{name}" not in path:
                self.exact[path] = (route, {})
                continue
            self.named[path] = route
            if "{version}" not in path:
                # the served model's own name is a plain dict hit; other names and versions go
                # through _match_named (and get NotFound from the data plane for a wrong name)
                name = self.settings.served_model_name
                self.exact[path.replace("{name}", name)] = (route, {"name": name})

    def _build_routes(self) -> None:
        a = self._add
        a("seldon", "/predict", "GET,POST", work=self._seldon("predict", self.settings.payload_passthrough))
        a("seldon", ("/api/v1.0/predictions", "/api/v0.1/predictions"), "POST",
          work=self._seldon("predict", self.settings.payload_passthrough))
        a("seldon", "/send-feedback", "GET,POST", work=self._seldon("send-feedback"))
        a("seldon", ("/api/v1.0/feedback", "/api/v0.1/feedback"), "POST", work=self._seldon("send-feedback"))
        for method in ("transform-input", "transform-output", "route", "aggregate"):
            a("seldon", "/" + method, "GET,POST", work=self._seldon(method))
        a("seldon", "/health/ping", "GET", self._ping, counted=False)
        a("seldon", ("/health/status", "/api/v1.0/health/status"), "GET", self._health_status, counted=False)
        a("seldon", ("/metadata", "/api/v1.0/metadata"), "GET", self._metadata)
        a("seldon", "/seldon.json", "GET", self._openapi, counted=False)
        # KServe V1
        a("v1", "/v1/models", "GET", self._v1_list, counted=False)
        a("v1", "/v1/models/{name}:predict", "POST", work=self._v1_predict_work)
        a("v1", "/v1/models/{name}", "GET", self._v1_ready, counted=False)
        # Open Inference V2
        a("v2", "/v2/health/live", "GET", self._v2_live, counted=False)
        a("v2", "/v2/health/ready", "GET", self._v2_ready, counted=False)
        a("v2", "/v2", "GET", self._v2_server_metadata)
        a("v2", "/v2/models/{name}/infer", "POST", work=self._v2_infer_work)
        a("v2", "/v2/models/{name}/versions/{version}/infer", "POST", work=self._v2_infer_work)
        a("v2", "/v2/models/{name}/ready", "GET", self._v2_model_ready, counted=False)
        a("v2", "/v2/models/{name}/versions/{version}/ready", "GET", self._v2_model_ready, counted=False)
        a("v2", "/v2/models/{name}", "GET", self._v2_model_metadata)
        a("v2", "/v2/models/{name}/versions/{version}", "GET", self._v2_model_metadata)

    def match(self, path: str) -> tuple[Route | None, dict[str, str]]:
        hit = self.exact.get(path)
        if hit is not None:
            return hit
        return self._match_named(path)

    def _match_named(self, path: str) -> tuple[Route | None, dict[str, str]]:
        """/v1/models/{name}[:predict] and /v2/models/{name}[/versions/{version}][/infer|/ready] for
        any name: the name has no "/" (and, in V1, no ":"), the version no "/"; both non-empty."""
        named = self.named
        if path.startswith("/v1/models/"):
            name = path[11:]
            template = "/v1/models/{name}"
            if name.endswith(":predict"):
                name = name[:-8]
                template = "/v1/models/{name}:predict"
            if not name or "/" in name or ":" in name:
                return None, {}
            return named[template], {"name": name}
        if not path.startswith("/v2/models/"):
            return None, {}
        parts = path[11:].split("/")
        if parts[-1] in ("infer", "ready") and len(parts) in (2, 4):
            suffix = "/" + parts.pop()
        else:
            suffix = ""
        if not all(parts):
            return None, {}
        if len(parts) == 1:
            return named["/v2/models/{name}" + suffix], {"name": parts[0]}
        if len(parts) == 3 and parts[1] == "versions":
            return named["/v2/models/{name}/versions/{version}" + suffix], {"name": parts[0], "version": parts[2]}
        return None, {}

    # ASGI entry ---------------------------------------------------------------------------------------
    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            return
        start = perf_counter()
        path: str = scope["path"]
        method: str = scope["method"]
        hit = self.exact.get(path)
        route, params = hit if hit is not None else self._match_named(path)
        close = False
        try:
            if route is None:
                raise MicroserviceError(f"no route {path!r}; see /seldon.json or docs/runtime.md for the routes",
                                        status_code=404, reason="MICROSERVICE_NOT_FOUND")
            if method not in route.methods:
                if method == "OPTIONS":
                    await self._preflight(scope, route, send)
                    return
                raise MicroserviceError(f"method {method} is not allowed on {path}; use "
                                        f"{' or '.join(sorted(route.methods))}", status_code=405,
                                        reason="MICROSERVICE_BAD_METHOD")
            ctype, length, hlen = "", None, None
            for key, value in scope["headers"]:
                if key == b"content-type":
                    ctype = value.decode("latin-1")
                elif key == b"content-length":
                    length = value
                elif key == b"inference-header-content-length":
                    hlen = value
            limit = self.max_body
            if length is not None:
                try:
                    n = int(length)
                except ValueError:
                    raise MicroserviceError(f"Content-Length {length.decode('latin-1')!r} is not a number") from None
                if n > limit:
                    raise self._too_large(n)
            message = await receive()
            if message["type"] == "http.request" and not message.get("more_body", False):
                body = message.get("body", b"")  # the whole body in one chunk: the common case
                if len(body) > limit:
                    raise self._too_large(len(body))
            else:
                body = await self._read_body(receive, message)
            header_length = None
            if hlen is not None:
                try:
                    header_length = int(hlen)
                except ValueError:
                    raise MicroserviceError(f"Inference-Header-Content-Length: {hlen.decode('latin-1')!r} "
                                            "is not an integer") from None
            state = route.state
            req = Request(method, path, scope.get("query_string", b""), ctype, body, params, header_length, state)
            work = route.work
            if work is None:
                reply = await route.handler(req)
            else:
                # Runner.run without its coroutine: an inline call costs no await and no thread hop
                runner = self.runner
                if runner.inline_now(state):
                    reply = runner.call_inline(state, work, req)
                else:
                    reply = await runner.run_in_pool(state, work, req)
            status = reply[0]
        except Exception as exc:  # one seam: every failure becomes the protocol's error body
            err = to_microservice_error(exc, "request")
            # user-code errors are logged by the data plane with their traceback; log the rest here
            if err.status_code >= 500 and not isinstance(err, (NotReady, UserCodeError)) and err.status_code != 504:
                log.error("%s %s -> %s: %s", method, path, err.status_code, err.message,
                          exc_info=err.__cause__ or (exc if err is not exc else None))
            status = err.status_code
            close = status == 413  # the rest of the body is not read: the connection cannot be reused
            protocol = route.protocol if route else ("v1" if path.startswith("/v1/") else
                                                     "v2" if path.startswith("/v2") else "seldon")
            body_obj = seldon_error_body(err) if protocol == "seldon" else v2_error_body(err)
            if isinstance(err, NotReady) and protocol != "seldon":
                body_obj["ready"] = False
            reply = (status, JSON, dumps(body_obj), [(b"allow", ",".join(sorted(route.methods)).encode())]
                     if status == 405 and route else ())
        body = reply[2]
        headers = [(b"content-type", reply[1]), (b"content-length", b"%d" % len(body)), _CORS]
        if len(reply) > 3 and reply[3]:
            headers.extend(reply[3])
        if close:
            headers.append((b"connection", b"close"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        if route is not None and route.counted and self.metrics is not None:
            samples = route.samples.get(status)
            if samples is None:
                samples = route.samples[status] = self.metrics.samples(route.protocol, route.template, status)
            samples.append(perf_counter() - start)
            if not self._flushing:
                self._flushing = True
                asyncio.get_running_loop().call_later(FLUSH_INTERVAL, self._flush_tick)

    async def _read_body(self, receive: Callable, message: dict) -> bytes:
        """The body from its first ASGI message on (a body in several chunks, or a disconnect)."""
        limit = self.max_body
        chunks: list[bytes] = []
        total = 0
        while True:
            if message["type"] == "http.disconnect":
                raise MicroserviceError("the client disconnected before sending the whole body")
            chunk = message.get("body", b"")
            if chunk:
                total += len(chunk)
                if total > limit:
                    raise self._too_large(total)
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
            message = await receive()
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def _too_large(self, size: int) -> MicroserviceError:
        return MicroserviceError(f"request body of {size} bytes is larger than the limit of {self.max_body} "
                                 "bytes; raise it with --max-body-size or MODELPACK_MAX_BODY_SIZE",
                                 status_code=413, reason="MICROSERVICE_PAYLOAD_TOO_LARGE")

    async def _preflight(self, scope: dict, route: Route, send: Callable) -> None:
        requested = b"*"
        for key, value in scope["headers"]:
            if key == b"access-control-request-headers":
                requested = value
        methods = ", ".join(sorted(route.methods | {"OPTIONS"})).encode()
        await send({"type": "http.response.start", "status": 200, "headers": [
            _CORS, (b"access-control-allow-methods", methods), (b"access-control-allow-headers", requested),
            (b"access-control-max-age", b"600"), (b"allow", methods), (b"content-length", b"0")]})
        await send({"type": "http.response.body", "body": b""})

    # Seldon ---------------------------------------------------------------------------------------
    def _seldon(self, method: str, passthrough: bool = False) -> Work:
        dp = self.dp
        large = fastjson.LARGE

        def work(req: Request) -> Reply:
            body = req.body
            if passthrough:
                out = dp.seldon_passthrough(multipart.seldon_message(req.content_type, req.query, body, True))
                return 200, JSON, out.encode("utf-8") if isinstance(out, str) else bytes(out)
            if body and not req.query and req.content_type.startswith("application/json"):
                # what seldon_message does for a JSON body without ?json=, without its checks
                msg = None
                if len(body) >= large and method in dp.seldon_array_methods:
                    msg = fastjson.loads(body, "seldon")
                if msg is None:
                    msg = multipart.loads(body, "the request body")
            else:
                msg = multipart.seldon_message(req.content_type, req.query, body, False)
            result = dp.seldon(method, msg)
            return _status_of(result), JSON, dumps(result)

        return work

    async def _ping(self, req: Request) -> Reply:
        self.dp.check_ready()
        return 200, b"text/html; charset=utf-8", b"pong"

    async def _health_status(self, req: Request) -> Reply:
        result = await self._call(req, self.dp.seldon_health_status)
        return _status_of(result), JSON, dumps(result)

    async def _metadata(self, req: Request) -> Reply:
        return 200, JSON, dumps(await self._call(req, self.dp.seldon_metadata))

    async def _openapi(self, req: Request) -> Reply:
        if self._seldon_json is None:
            self._seldon_json = OPENAPI.read_bytes()
        return 200, JSON, self._seldon_json

    async def _call(self, req: Request, fn: Callable[..., Any], *args: Any) -> Any:
        return await self.runner.run(req.state, fn, *args)

    # KServe V1 --------------------------------------------------------------------------------------
    async def _v1_list(self, req: Request) -> Reply:
        return 200, JSON, dumps({"models": [self.settings.served_model_name]})

    async def _v1_ready(self, req: Request) -> Reply:
        result = self.dp.v1_ready(req.params["name"])
        return (200 if result.get("ready") else 503), JSON, dumps(result)

    def _v1_predict_work(self, req: Request) -> Reply:
        body = req.body
        doc = fastjson.loads(body, "v1") if len(body) >= fastjson.LARGE else None
        if doc is None:
            doc = multipart.json_body(body)
        return 200, JSON, dumps(self.dp.v1_predict(req.params["name"], doc))

    # Open Inference V2 --------------------------------------------------------------------------------
    async def _v2_live(self, req: Request) -> Reply:
        return 200, JSON, b'{"live":true}'

    async def _v2_ready(self, req: Request) -> Reply:
        self.dp.check_ready()
        return 200, JSON, b'{"ready":true}'

    async def _v2_server_metadata(self, req: Request) -> Reply:
        return 200, JSON, dumps(self.dp.v2_server_metadata())

    async def _v2_model_metadata(self, req: Request) -> Reply:
        p = req.params
        return 200, JSON, dumps(self.dp.v2_model_metadata(p["name"], p.get("version")))

    async def _v2_model_ready(self, req: Request) -> Reply:
        p = req.params
        ready = self.dp.v2_model_ready(p["name"], p.get("version"))
        body = {"name": p["name"], "ready": bool(ready)}
        if not ready:
            body["error"] = f"model is not ready: {self.dp.failure}"
        return (200 if ready else 503), JSON, dumps(body)

    def _v2_infer_work(self, req: Request) -> Reply:
        if not req.body:
            raise MicroserviceError("Empty request body: send an inference request JSON object")
        request = v2_codec.decode_request(req.body, req.header_length)
        response = self.dp.v2_infer(req.params["name"], req.params.get("version"), request)
        body, json_length = v2_codec.encode_response(response)  # v2_infer set response.binary
        if json_length is None:
            return 200, JSON, body
        return 200, b"application/octet-stream", body, [(b"inference-header-content-length",
                                                         str(json_length).encode())]

    def _flush_tick(self) -> None:
        # Re-armed by the next counted request, so an idle worker's loop has no timer to run.
        self._flushing = False
        try:
            self.metrics.flush()
        except Exception:  # noqa: BLE001 - metrics must never take the worker down
            log.exception("writing request metrics failed")

    def close(self) -> None:
        """At worker exit: write the last batched metrics, stop the predict threads."""
        if self.metrics is not None:
            self.metrics.flush()
        self.runner.shutdown()


def _status_of(result: Any) -> int:
    """A response dict carrying status.code sets the HTTP status (C.8, used by predict_raw)."""
    if type(result) is dict:
        st = result.get("status")
        if type(st) is dict:
            code = st.get("code")
            if type(code) is int and 100 <= code <= 599:
                return code
    return 200
