"""serve.py against a running server on a free loopback port: each endpoint, each bad-request
kind (a 4xx, and the server keeps answering), parity with the SavedModel, a bounded load test,
graceful shutdown, and the page in headless Chromium."""

import base64
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import ROOT, SHARED, chromium

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def call(url: str, body=None, method: str | None = None) -> tuple[int, dict | str]:
    """(status, JSON answer). http.client rather than urllib: a server may answer 413 before it
    has read a large body, and the answer must still be read after the send fails."""
    from urllib.parse import urlsplit

    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        try:
            connection.request(method or ("GET" if data is None else "POST"), parts.path, body=data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        response = connection.getresponse()
        status, text = response.status, response.read().decode()
    finally:
        connection.close()
    try:
        return status, json.loads(text)
    except ValueError:
        return status, text


def b64_of(path) -> dict:
    return {"b64": base64.b64encode(Path(path).read_bytes()).decode()}


@pytest.fixture(scope="module")
def photos(trained_model):
    from flowers_mtl.config import TrainConfig
    from flowers_mtl.data.splits import load_classes, read_split

    config = TrainConfig.load(trained_model)
    return list(read_split(config.test, load_classes(config.classes)).paths[:6])


def start_server(model_path, **limits):
    import uvicorn

    from flowers_mtl.inference import load_predictor
    from flowers_mtl.serve.app import Service, build_app

    service = Service(load_predictor(model_path), "flowers", **limits)
    server = uvicorn.Server(uvicorn.Config(build_app(service), host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{server.config.port}"


@pytest.fixture(scope="module")
def saved_server(exported):
    server, thread, url = start_server(exported / "savedmodel", max_instances=8, max_body_bytes=2_000_000,
                                       max_pixels=1_000_000)
    yield url
    server.should_exit = True
    thread.join(timeout=30)


def test_status_has_tf_servings_shape(saved_server):
    status, answer = call(f"{saved_server}/v1/models/flowers")
    assert status == 200
    assert answer == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                                "status": {"error_code": "OK", "error_message": ""}}]}


def test_the_served_answer_is_the_savedmodels(saved_server, exported, photos):
    from flowers_mtl.inference import load_predictor

    status, answer = call(f"{saved_server}/v1/models/flowers:predict", {"instances": [b64_of(p) for p in photos]})
    assert status == 200 and len(answer["predictions"]) == len(photos)
    direct = load_predictor(exported / "savedmodel").outputs(
        "serving_default", image_bytes=np.array([Path(p).read_bytes() for p in photos], dtype=object))
    for i, row in enumerate(answer["predictions"]):
        assert set(row) == {"type_label", "type_probs", "colour_label", "colour_probs"}
        for name, value in row.items():
            expected = direct[name][i]
            assert value == (str(expected) if name.endswith("_label") else pytest.approx(expected.tolist(), abs=1e-7))


def test_a_tflite_server_answers_as_its_model(exported, photos):
    from flowers_mtl.eval.prediction import predict_paths
    from flowers_mtl.inference import load_predictor

    path = exported / "model-float32.tflite"
    server, thread, url = start_server(path)
    try:
        status, answer = call(f"{url}/v1/models/flowers:predict", {"instances": [b64_of(p) for p in photos]})
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert status == 200
    expected = list(predict_paths(load_predictor(path), photos))
    for row, prediction in zip(answer["predictions"], expected):
        assert row["type_label"] == prediction.top["type"][0][0]
        assert row["colour_label"] == prediction.top["colour"][0][0]


def big_png(tmp_path) -> Path:
    from PIL import Image

    path = tmp_path / "big.png"
    Image.new("RGB", (1200, 1000)).save(path)
    return path


@pytest.mark.parametrize("body, status, message", [
    (b"{oops", 400, "not valid JSON"),
    ({"inputs": []}, 400, '"instances"'),
    ({"instances": [{"b64": "@@@"}]}, 400, "instance 0: not valid base64"),
    ({"instances": [{"b64": base64.b64encode(b"not a photo").decode()}]}, 400, "instance 0: not an image"),
    ({"instances": [{"b64": "AAAA"}] * 9}, 413, "at most 8"),
    (b"{" + b" " * 2_100_000 + b"}", 413, "limit"),
    ({"instances": [[1, 2, 3]], "signature_name": "pixels"}, 400, "instance 0: expected"),
])
def test_each_bad_request_is_a_4xx_and_the_server_keeps_answering(saved_server, photos, body, status, message):
    got, answer = call(f"{saved_server}/v1/models/flowers:predict", body)
    assert got == status and message in answer["error"]
    assert call(f"{saved_server}/v1/models/flowers:predict", {"instances": [b64_of(photos[0])]})[0] == 200


def test_one_bad_instance_in_a_batch_is_named(saved_server, photos, tmp_path):
    instances = [b64_of(photos[0]), b64_of(big_png(tmp_path))]
    status, answer = call(f"{saved_server}/v1/models/flowers:predict", {"instances": instances})
    assert status == 400 and answer["error"].startswith("instance 1: image too large (1200 x 1000 pixels")


def test_wrong_model_route_and_method_are_4xx(saved_server):
    assert call(f"{saved_server}/v1/models/other:predict", {"instances": []})[0] == 404
    assert call(f"{saved_server}/v2/anything")[0] == 404
    assert call(f"{saved_server}/v1/models/flowers", method="DELETE")[0] == 405


def test_eight_clients_at_once_are_all_answered(saved_server, photos):
    from tools.load import load

    result = load(f"{saved_server}/v1/models/flowers:predict", [Path(p) for p in photos], clients=8, requests=24,
                  batch=2)
    assert result["statuses"] == {200: 24}


@pytest.mark.subprocess
def test_sigterm_finishes_the_request_in_flight_then_exits(exported, photos):
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--model", str(exported / "model-int8.tflite"),
                               "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1/models/flowers"
    for _ in range(300):
        try:
            if call(url)[0] == 200:
                break
        except OSError:
            time.sleep(0.1)
    answers = []
    client = threading.Thread(target=lambda: answers.append(call(f"{url}:predict", {"instances": [b64_of(p) for p in photos]})))
    client.start()
    time.sleep(0.05)
    server.send_signal(signal.SIGTERM)
    client.join(timeout=60)
    _, err = server.communicate(timeout=60)
    assert server.returncode == 0, err
    assert answers and answers[0][0] == 200
    assert "Traceback" not in err
    assert "POST /v1/models/flowers:predict 200 instances=6" in err


@pytest.mark.shared_data
@pytest.mark.skipif(chromium() is None and not os.environ.get("FLOWERS_MTL_REQUIRE_SHARED"),
                    reason="needs Debian's chromium (apt-get install -y chromium); CI installs it")
def test_the_page_in_headless_chromium_shows_each_photos_answer(saved_server, tmp_path):
    from playwright.sync_api import sync_playwright

    photo = SHARED / "datasets" / "flowers" / "images" / "rose" / "ro0123.jpg"
    _, api = call(f"{saved_server}/v1/models/flowers:predict", {"instances": [b64_of(photo)]})
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"])
        page = browser.new_page()
        page.goto(saved_server + "/")
        page.set_input_files("#files", str(photo))
        page.wait_for_selector(".card .answer.colour", timeout=60_000)
        shown = {task: page.inner_text(f".card .answer.{task}") for task in ("type", "colour")}
        page.screenshot(path=str(tmp_path / "page.png"))
        browser.close()
    assert shown == {"type": f"type: {api['predictions'][0]['type_label']}",
                     "colour": f"colour: {api['predictions'][0]['colour_label']}"}
    assert (tmp_path / "page.png").stat().st_size > 0


def test_a_format_pillow_reads_but_the_savedmodel_graph_does_not_is_a_400(saved_server, tmp_path):
    from PIL import Image

    path = tmp_path / "photo.webp"
    Image.new("RGB", (40, 40), (200, 30, 30)).save(path, "WEBP")
    status, answer = call(f"{saved_server}/v1/models/flowers:predict", {"instances": [b64_of(path)]})
    assert status == 400 and answer["error"].startswith("the SavedModel cannot decode a photo")
