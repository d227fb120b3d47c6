"""Load test of a running serve.py (or TF Serving): C concurrent clients send R requests in all,
each with B photos as b64 instances; prints status counts, latency p50/p95 and throughput.

    python -m tools.load --url http://127.0.0.1:8501/v1/models/flowers:predict --photos DIR_OR_SPLIT
        [--clients 8] [--requests 120] [--batch 1]
"""

from __future__ import annotations

import argparse
import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path

import numpy as np

from flowers_mtl.cli.common import run


def request_body(photos: list[Path], start: int, batch: int) -> bytes:
    chosen = [photos[(start + i) % len(photos)] for i in range(batch)]
    return json.dumps({"instances": [{"b64": base64.b64encode(p.read_bytes()).decode()} for p in chosen]}).encode()


def post(url: str, body: bytes, timeout: float = 120) -> tuple[int, float]:
    start = time.perf_counter()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as err:
        status = err.code
    return status, (time.perf_counter() - start) * 1000


def load(url: str, photos: list[Path], clients: int, requests: int, batch: int) -> dict:
    """Bodies are built before the clock starts, so the figures are the server's."""
    bodies = [request_body(photos, i * batch, batch) for i in range(requests)]
    results: list[tuple[int, float]] = []
    lock, next_index = threading.Lock(), iter(range(requests))

    def client():
        while True:
            with lock:
                i = next(next_index, None)
            if i is None:
                return
            outcome = post(url, bodies[i])
            with lock:
                results.append(outcome)

    start = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    latencies = [ms for _, ms in results]
    return {"clients": clients, "requests": requests, "batch": batch, "statuses": dict(Counter(s for s, _ in results)),
            "latency_ms_p50": float(np.percentile(latencies, 50)), "latency_ms_p95": float(np.percentile(latencies, 95)),
            "photos_per_s": requests * batch / seconds, "seconds": seconds}


def photo_list(source: Path, limit: int = 200) -> list[Path]:
    """The first `limit` photos of a folder (recursively) or of a split file (classes.json beside it)."""
    from flowers_mtl.data.splits import load_classes, read_split
    from flowers_mtl.spec import CLASSES_FILE

    if source.is_dir():
        return sorted(p for p in source.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))[:limit]
    return [Path(p) for p in read_split(source, load_classes(source.parent / CLASSES_FILE)).paths[:limit]]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.load", description=__doc__.split("\n\n")[0])
    p.add_argument("--url", required=True, help="the predict URL")
    p.add_argument("--photos", type=Path, required=True, help="a folder of photos, or a split file")
    p.add_argument("--clients", type=int, default=8, help="concurrent clients; default 8")
    p.add_argument("--requests", type=int, default=120, help="requests in all; default 120")
    p.add_argument("--batch", type=int, default=1, help="photos per request; default 1")
    args = p.parse_args(argv)
    print(json.dumps(load(args.url, photo_list(args.photos), args.clients, args.requests, args.batch)))
    return 0


if __name__ == "__main__":
    raise SystemExit(run(main))
