"""serve.py: answer TF Serving's REST API and a page to try photos, over any model kind."""

from __future__ import annotations

import argparse
import logging
import signal
import socket
from pathlib import Path

from ..errors import UserInputError
from .common import MODEL_HELP, add_max_pixels, add_verbose, quiet_tensorflow

MB = 1024 * 1024


def parser() -> argparse.ArgumentParser:
    from ..serve import protocol

    p = argparse.ArgumentParser(prog="serve.py", description="Serve a model over HTTP: POST /v1/models/NAME:predict "
                                "as TF Serving's REST API, GET /v1/models/NAME, and a page to try photos at /.")
    p.add_argument("--model", type=Path, required=True, help=MODEL_HELP)
    p.add_argument("--host", default="127.0.0.1", help="address to listen on; default 127.0.0.1 (this machine only)")
    p.add_argument("--port", type=int, default=8501, help="default 8501, TF Serving's REST port")
    p.add_argument("--name", default="flowers", help="the model's name in the URLs; default flowers")
    p.add_argument("--max-instances", type=int, default=protocol.MAX_INSTANCES,
                   help=f"photos per request; default {protocol.MAX_INSTANCES}")
    p.add_argument("--max-body-mb", type=float, default=protocol.MAX_BODY_BYTES / MB,
                   help=f"request body limit in MB (larger: 413); default {protocol.MAX_BODY_BYTES // MB}")
    add_max_pixels(p)
    add_verbose(p)
    return p


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    if min(args.max_instances, args.max_body_mb, args.max_pixels) <= 0:
        raise UserInputError("--max-instances, --max-body-mb and --max-pixels must be positive")
    _check_port_free(args.host, args.port)
    quiet_tensorflow()
    import uvicorn

    from ..inference import load_predictor
    from ..serve.app import Service, build_app

    predictor = load_predictor(args.model)
    service = Service(predictor, args.name, args.max_instances, int(args.max_body_mb * MB), args.max_pixels)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    print(f"serving {args.model} ({predictor.kind}) at http://{args.host}:{args.port}/ "
          f"(POST /v1/models/{args.name}:predict); Ctrl-C stops after the requests in flight", flush=True)
    config = uvicorn.Config(build_app(service), host=args.host, port=args.port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=30)
    stopped_by = []
    for sig in (signal.SIGINT, signal.SIGTERM):  # uvicorn re-raises the signal it stopped on, to these
        signal.signal(sig, lambda number, _frame: stopped_by.append(number))
    uvicorn.Server(config).run()
    if stopped_by:
        print(f"stopped by {signal.Signals(stopped_by[0]).name} after the requests in flight", flush=True)
    return 0


def _check_port_free(host: str, port: int) -> None:
    with socket.socket() as probe:
        try:
            probe.bind((host, port))
        except OSError as err:
            raise UserInputError(f"cannot listen on {host}:{port} ({err.strerror}); give another --port") from None
