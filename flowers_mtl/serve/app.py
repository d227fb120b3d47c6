"""The server: TF Serving's REST routes over any kind of model, and the page at /.

Starlette on uvicorn rather than hand-written HTTP: both are well kept, uvicorn finishes in-flight
requests on SIGTERM or Ctrl-C, and Starlette runs the blocking work (decoding, inference) in a
bounded thread pool so that many clients are served at once. Decoding runs in parallel; the model
runs one batch at a time under a lock (a TFLite interpreter is not thread-safe, and TensorFlow
already uses every core on one batch).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from .. import signature
from ..data import images
from . import protocol

log = logging.getLogger("flowers_mtl.serve")
PAGE = Path(__file__).with_name("page.html")


class Service:
    """The loaded model (inference.load_predictor) and the limits every request is held to."""

    def __init__(self, predictor, name: str, max_instances: int = protocol.MAX_INSTANCES,
                 max_body_bytes: int = protocol.MAX_BODY_BYTES, max_pixels: int = images.MAX_PIXELS):
        self.predictor, self.name = predictor, name
        self.max_instances, self.max_body_bytes, self.max_pixels = max_instances, max_body_bytes, max_pixels
        self.lock = threading.Lock()

    def predict(self, request: protocol.PredictRequest) -> list[dict]:
        pixels = protocol.decode_all(request, self.predictor.spec, self.max_pixels)  # outside the lock
        with self.lock:
            outputs = self._outputs(request, pixels)
        return protocol.predictions(outputs, self.predictor.classes)

    def _outputs(self, request: protocol.PredictRequest, pixels: np.ndarray) -> dict:
        """A SavedModel answers photos with its own serving_default, exactly as TF Serving would;
        the other kinds from the contract's pixels."""
        if self.predictor.kind == "savedmodel" and request.signature_name == signature.BYTES_SIGNATURE:
            import tensorflow as tf

            try:
                return self.predictor.outputs(signature.BYTES_SIGNATURE,
                                              **{signature.BYTES_INPUT: np.array(request.instances, dtype=object)})
            except tf.errors.InvalidArgumentError as err:  # a format Pillow reads and TF's decoders do not
                raise protocol.RequestError(400, f"the SavedModel cannot decode a photo: {err.message.splitlines()[0]}") from None
        return protocol.outputs_from_probabilities(self.predictor.probabilities(pixels), self.predictor.classes)

    def status(self) -> dict:
        """TF Serving's GET /v1/models/<name> answer."""
        return {"model_version_status": [{"version": signature.SAVEDMODEL_VERSION, "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}


def build_app(service: Service) -> Starlette:
    async def page(request: Request):
        about = {"name": service.name, "kind": service.predictor.kind, "classes": service.predictor.classes.to_json(),
                 "max_instances": service.max_instances}
        return HTMLResponse(PAGE.read_text().replace("/*MODEL*/null", json.dumps(about)))

    async def status(request: Request):
        _known(request.path_params["name"], service)
        return JSONResponse(service.status())

    async def predict(request: Request):
        _known(request.path_params["name"], service)
        body = await _body(request, service.max_body_bytes)
        parsed = protocol.parse(body, service.predictor.image_size, service.max_instances)
        request.state.instances = len(parsed.instances)
        return JSONResponse({"predictions": await run_in_threadpool(service.predict, parsed)})

    routes = [
        Route("/", page, methods=["GET"]),
        Route("/v1/models/{name}:predict", predict, methods=["POST"]),
        Route("/v1/models/{name}", status, methods=["GET"]),
    ]
    return Starlette(routes=routes, middleware=[Middleware(RequestLog)],
                     exception_handlers={protocol.RequestError: _error, 404: _not_found, 405: _not_allowed})


def _known(name: str, service: Service) -> None:
    if name != service.name:
        raise protocol.RequestError(404, f"no model named {name!r} (this server has {service.name!r})")


async def _body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise protocol.RequestError(413, f"body of {int(declared):,} bytes; the limit is {limit:,}")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise protocol.RequestError(413, f"body over the limit of {limit:,} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _error(request: Request, err: protocol.RequestError):
    return JSONResponse({"error": str(err)}, status_code=err.status)


async def _not_found(request: Request, err):
    return JSONResponse({"error": f"no such route: {request.method} {request.url.path}"}, status_code=404)


async def _not_allowed(request: Request, err):
    return JSONResponse({"error": f"{request.method} is not allowed on {request.url.path}"}, status_code=405)


class RequestLog(BaseHTTPMiddleware):
    """One line per request: method, path, status, instances, milliseconds."""

    async def dispatch(self, request: Request, call_next):
        start = time.perf_counter()
        request.state.instances = 0
        try:
            response = await call_next(request)
        except Exception:
            log.exception("%s %s 500 (a server fault, not the request's)", request.method, request.url.path)
            response = JSONResponse({"error": "internal error"}, status_code=500)
        log.info("%s %s %d instances=%d %.1f ms", request.method, request.url.path, response.status_code,
                 request.state.instances, (time.perf_counter() - start) * 1000)
        return response
