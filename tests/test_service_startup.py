"""Servers started with other settings: the EMOTION_* knobs, load shedding, and a missing model.

Each needs its own server, so these run after the tests that share the default one
(pytest runs files in name order, and conftest's Servers keeps one server at a time).
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from conftest import Server, Servers
from PIL import Image

pytestmark = pytest.mark.slow


@pytest.fixture
def tuned(servers: Servers, model_path: Path) -> Server:
    return servers.start(
        {
            "EMOTION_MODEL_PATH": str(model_path),
            "EMOTION_DETECTOR": "yunet",
            "EMOTION_MAX_BATCH_SIZE": "1",
            "EMOTION_MAX_UPLOAD_BYTES": "100000",
            "EMOTION_MAX_PIXELS": "150000",
            "EMOTION_MAX_BATCH_IMAGES": "2",
            "EMOTION_MAX_CONCURRENCY": "1",
            "EMOTION_CLASSIFY_IN_API": "0",  # the classifier process, unbatched
        }
    )


def test_detector_knob_and_unbatched_classifier(tuned: Server, two_faces_jpg: bytes) -> None:
    info = tuned.client.get("/model").json()
    assert info["preprocess"]["detector"]["kind"] == "yunet"  # the model says viola-jones
    response = tuned.client.post("/predict", files={"image": ("x.jpg", two_faces_jpg)})
    assert response.status_code == 200, response.text
    assert len(response.json()["faces"]) >= 1


def test_configured_limits(tuned: Server, face_jpg: bytes) -> None:
    big = tuned.client.post("/predict", files={"image": ("x.bin", b"\0" * 100_001)})
    assert big.status_code == 413 and "100000 bytes" in big.json()["error"]

    def chunked() -> object:  # no Content-Length: the limit must cut the stream itself
        yield b'--b\r\nContent-Disposition: form-data; name="image"; filename="x"\r\n\r\n'
        for _ in range(20):
            yield b"\0" * 10_000
        yield b"\r\n--b--\r\n"

    streamed = tuned.client.post(
        "/predict", content=chunked(), headers={"content-type": "multipart/form-data; boundary=b"}
    )
    assert streamed.status_code == 413 and "100000 bytes" in streamed.json()["error"]

    buffer = io.BytesIO()
    Image.new("RGB", (500, 400)).save(buffer, format="PNG")  # 200 000 pixels, a 1 kB file
    pixels = tuned.client.post("/predict", files={"image": ("x.png", buffer.getvalue())})
    assert pixels.status_code == 413 and "150000" in pixels.json()["error"]

    three = [("images", (f"{i}.jpg", face_jpg)) for i in range(3)]
    assert tuned.client.post("/predict_batch", files=three).status_code == 400
    assert tuned.client.post("/predict", files={"image": ("x.jpg", face_jpg)}).status_code == 200


def test_overload_is_shed_with_429_not_queued(tuned: Server, two_faces_jpg: bytes) -> None:
    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=tuned.url, timeout=60) as client:
            return client.post("/predict", files={"image": ("x.jpg", two_faces_jpg)})

    with ThreadPoolExecutor(max_workers=12) as pool:
        responses = list(pool.map(one, range(24)))
    statuses = [r.status_code for r in responses]
    assert set(statuses) <= {200, 429} and 200 in statuses and 429 in statuses, statuses
    shed = next(r for r in responses if r.status_code == 429)
    assert shed.headers["retry-after"] == "1"
    assert "busy" in shed.json()["error"] and "EMOTION_MAX_CONCURRENCY" in shed.json()["error"]
    assert tuned.status("/readyz") == 200  # probes bypass the limit
    assert "status=5" not in tuned.log()


def test_classify_in_api_gives_the_same_answers_without_a_classifier_process(
    servers: Servers, model_path: Path, two_faces_jpg: bytes
) -> None:
    from face_pipeline import decode_image
    from service.model import load_model
    from service.pipeline import Options, face_crops

    model = load_model(model_path, "cpu")
    params = model.params
    boxes, crops = face_crops(decode_image(two_faces_jpg), params, Options())
    expected = model.predict_crops(crops)

    server = servers.start({"EMOTION_MODEL_PATH": str(model_path), "EMOTION_CLASSIFY_IN_API": "1"})
    body = server.client.post("/predict", files={"image": ("x.jpg", two_faces_jpg)}).json()
    assert [[f["box"][k] for k in ("x", "y", "width", "height")] for f in body["faces"]] == [list(b) for b in boxes]
    got = np.array([list(f["probabilities"].values()) for f in body["faces"]])
    np.testing.assert_allclose(got, expected, atol=1e-5)
    batch = server.client.post("/predict_batch", files=[("images", ("a.jpg", two_faces_jpg))] * 2).json()
    assert [len(r["result"]["faces"]) for r in batch["results"]] == [len(boxes)] * 2
    assert server.client.get("/model").json()["name"] == "test-model"
    assert "EmotionClassifier" not in server.log()


@pytest.mark.parametrize("in_api", ["0", "1"])
def test_missing_model_never_becomes_ready(servers: Servers, tmp_path: Path, in_api: str) -> None:
    missing = tmp_path / "no_such_model.onnx"
    server = servers.start({"EMOTION_MODEL_PATH": str(missing), "EMOTION_CLASSIFY_IN_API": in_api}, wait_ready=False)
    for _ in range(6):
        assert server.status("/readyz") == 503
        time.sleep(0.5)
    assert server.status("/livez") == 200 and server.alive()
    log = server.log()
    assert "MODEL NOT LOADED" in log and f"no model file at {missing}" in log
    model = server.client.get("/model")
    assert model.status_code == 503 and "not loaded" in model.json()["error"]
    predict = server.client.post("/predict", files={"image": ("x.jpg", b"...")})
    assert predict.status_code == 503
    servers.stop()
