"""Every endpoint of the real server over HTTP, with real photos, odd images and bad input."""

from __future__ import annotations

import io
import math
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FIXTURES, Server
from PIL import Image

from service.model import CUDA, cuda_available

CLASSES = ["Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise"]
pytestmark = pytest.mark.slow


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def predict(server: Server, data: bytes, name: str = "photo.jpg", **options: object) -> tuple[int, dict]:
    response = server.client.post(
        "/predict", files={"image": (name, data)}, data={k: str(v) for k, v in options.items()}
    )
    return response.status_code, response.json()


def check_face(face: dict, width: int, height: int) -> None:
    box = face["box"]
    assert 0 <= box["x"] < box["x"] + box["width"] <= width
    assert 0 <= box["y"] < box["y"] + box["height"] <= height
    assert list(face["probabilities"]) == CLASSES
    assert math.isclose(sum(face["probabilities"].values()), 1.0, abs_tol=1e-4)
    assert face["emotion"] == max(face["probabilities"], key=face["probabilities"].get)
    assert face["confidence"] == face["probabilities"][face["emotion"]]


# --- the happy paths -------------------------------------------------------------------


def test_health_endpoints(server: Server) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        assert server.status(path) == 200, path
    metrics = server.client.get("/metrics")
    assert metrics.status_code == 200 and "bentoml_service" in metrics.text


def test_predict_one_face(server: Server, face_jpg: bytes) -> None:
    status, body = predict(server, face_jpg)
    assert status == 200, body
    assert (body["width"], body["height"]) == (256, 256)
    assert body["model"] == {"name": "test-model", "version": "0.0.0-test"}
    assert len(body["faces"]) == 1
    check_face(body["faces"][0], 256, 256)
    box = body["faces"][0]["box"]
    # The astronaut's face is in the upper middle of the photo.
    assert 60 < box["x"] + box["width"] / 2 < 160 and box["y"] + box["height"] / 2 < 110


def test_predict_two_faces_largest_first(server: Server, two_faces_jpg: bytes) -> None:
    status, body = predict(server, two_faces_jpg)
    assert status == 200, body
    assert (body["width"], body["height"]) == (448, 256)
    faces = body["faces"]
    assert len(faces) == 2
    for face in faces:
        check_face(face, 448, 256)
    areas = [f["box"]["width"] * f["box"]["height"] for f in faces]
    assert areas[0] > areas[1]
    assert faces[0]["box"]["x"] > 192 > faces[1]["box"]["x"]  # the larger copy is on the right


def test_predict_options(server: Server, two_faces_jpg: bytes, no_face_jpg: bytes) -> None:
    status, body = predict(server, two_faces_jpg, max_faces=1)
    assert status == 200 and len(body["faces"]) == 1 and body["faces"][0]["box"]["x"] > 192
    # Only the larger face (about 52 px) is at least 45 px.
    status, body = predict(server, two_faces_jpg, min_face_size=45)
    assert status == 200 and len(body["faces"]) == 1
    status, body = predict(server, no_face_jpg, whole_image_fallback="true")
    assert status == 200 and len(body["faces"]) == 1
    assert body["faces"][0]["box"] == {"x": 0, "y": 0, "width": body["width"], "height": body["height"]}


def test_each_detector_per_request(server: Server, two_faces_jpg: bytes, no_face_jpg: bytes) -> None:
    answers = {}
    for detector in ("viola-jones", "yunet"):
        status, body = predict(server, two_faces_jpg, detector=detector)
        assert status == 200, body
        assert len(body["faces"]) == 2 and body["faces"][0]["box"]["x"] > 192
        for face in body["faces"]:
            check_face(face, 448, 256)
        answers[detector] = body["faces"]
        status, body = predict(server, no_face_jpg, detector=detector)
        assert status == 200 and body["faces"] == []
    # Both boxes framed alike: the same faces, boxes within a few pixels.
    for vj, yu in zip(answers["viola-jones"], answers["yunet"], strict=True):
        assert abs(vj["box"]["x"] - yu["box"]["x"]) < 8 and abs(vj["box"]["width"] - yu["box"]["width"]) < 8
    batch = server.client.post(
        "/predict_batch", files=[("images", ("a.jpg", two_faces_jpg))], data={"detector": "yunet"}
    )
    assert batch.status_code == 200 and batch.json()["results"][0]["result"]["faces"] == answers["yunet"]
    png = server.client.post("/annotate", files={"image": ("a.jpg", two_faces_jpg)}, data={"detector": "yunet"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/jpeg"


def test_unknown_detector_is_a_clear_400(server: Server, face_jpg: bytes) -> None:
    for path in ("/predict", "/annotate"):
        response = server.client.post(path, files={"image": ("x.jpg", face_jpg)}, data={"detector": "turbo"})
        assert response.status_code == 400, response.text
        detail = str(response.json()["detail"])
        assert "detector" in detail and "viola-jones" in detail and "yunet" in detail


def test_largest_face_only_is_the_full_answers_first(server: Server, two_faces_jpg: bytes) -> None:
    # The body exactly as the load test sends it (loadtests.images.multipart), options included.
    from loadtests.images import CONTENT_TYPE, multipart

    answers = {}
    for options in (None, {"max_faces": "1"}):
        body = multipart("image", [two_faces_jpg], options)
        response = server.client.post("/predict", content=body, headers={"Content-Type": CONTENT_TYPE})
        assert response.status_code == 200
        answers[bool(options)] = response.json()["faces"]
    (largest,), (first, _) = answers[True], answers[False]
    assert largest["box"] == first["box"] and largest["box"]["x"] > 192
    assert largest["probabilities"] == pytest.approx(first["probabilities"], abs=1e-5)


def test_no_face_is_an_empty_list(server: Server, no_face_jpg: bytes) -> None:
    status, body = predict(server, no_face_jpg)
    assert status == 200 and body["faces"] == [] and body["width"] == 256


def test_predict_batch_keeps_order_and_isolates_a_bad_image(
    server: Server, face_jpg: bytes, two_faces_jpg: bytes, no_face_jpg: bytes
) -> None:
    files = [
        ("images", ("a.jpg", face_jpg)),
        ("images", ("b.txt", b"this is not an image")),
        ("images", ("c.jpg", two_faces_jpg)),
        ("images", ("d.jpg", no_face_jpg)),
        ("images", ("e.jpg", face_jpg[:3000])),
    ]
    response = server.client.post("/predict_batch", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert [len(r["result"]["faces"]) if r["result"] else None for r in results] == [1, None, 2, 0, None]
    assert results[1]["error"]["status"] == 400 and "not an image" in results[1]["error"]["error"]
    assert results[4]["error"]["status"] == 400 and "truncated" in results[4]["error"]["error"]
    # The same faces get the same answer alone and in a batch.
    _, alone = predict(server, two_faces_jpg)
    for in_batch, single in zip(results[2]["result"]["faces"], alone["faces"], strict=True):
        assert in_batch["box"] == single["box"]
        assert in_batch["probabilities"] == pytest.approx(single["probabilities"], abs=1e-5)
    assert response.json()["model"]["version"] == "0.0.0-test"


def test_classify_faces_frames_each_crop_around_its_face(server: Server, face_jpg: bytes) -> None:
    _, detected = predict(server, face_jpg)
    box = detected["faces"][0]["box"]
    photo = Image.open(io.BytesIO(face_jpg))
    crop = photo.crop((box["x"], box["y"], box["x"] + box["width"], box["y"] + box["height"]))
    files = [
        ("images", ("loose.jpg", face_jpg)),  # the whole photo: a loose crop of its face
        ("images", ("crop.png", encode(crop, "PNG"))),
        ("images", ("bad.bin", b"\x89PNG\r\n\x1a\n broken")),
        ("images", ("tiny.png", encode(Image.new("RGB", (8, 8), "gray"), "PNG"))),
    ]
    response = server.client.post("/classify_faces", files=files)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    # Framed exactly as /predict frames the face, so it gets /predict's answer.
    assert results[0]["box"] == box
    assert results[0]["result"]["probabilities"] == pytest.approx(detected["faces"][0]["probabilities"], abs=1e-5)
    assert results[1]["result"]["emotion"] in CLASSES
    assert math.isclose(sum(results[1]["result"]["probabilities"].values()), 1.0, abs_tol=1e-4)
    assert results[2]["error"]["status"] == 400 and results[2]["box"] is None
    assert results[3]["result"] is not None and results[3]["box"] is None  # no face in it: classified whole

    whole = server.client.post("/classify_faces", files=files[:1], data={"find_face": "false"}).json()["results"]
    assert whole[0]["box"] is None
    assert whole[0]["result"]["probabilities"] != pytest.approx(results[0]["result"]["probabilities"], abs=1e-3)


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_annotate_returns_the_image_with_boxes(server: Server, two_faces_jpg: bytes, fmt: str) -> None:
    response = server.client.post("/annotate", files={"image": ("x.jpg", two_faces_jpg)}, data={"format": fmt})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == f"image/{fmt}"
    annotated = Image.open(io.BytesIO(response.content))
    assert annotated.format == fmt.upper() and annotated.size == (448, 256)
    original = np.asarray(Image.open(io.BytesIO(two_faces_jpg)).convert("RGB"), dtype=np.int16)
    changed = np.abs(np.asarray(annotated.convert("RGB"), dtype=np.int16) - original).max(axis=2) > 60
    assert changed.sum() > 200  # two boxes and labels were drawn


def test_annotate_bad_image_is_a_clear_error(server: Server) -> None:
    response = server.client.post("/annotate", files={"image": ("x.jpg", b"nope")})
    assert response.status_code == 400 and "not an image" in response.json()["error"]


def test_model_endpoint(server: Server) -> None:
    response = server.client.get("/model")
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["name"] == "test-model" and info["version"] == "0.0.0-test"
    assert info["classes"] == CLASSES and info["input_size"] == 120
    assert info["preprocess"]["detector"]["max_side"] == 1280 and info["preprocess"]["margin_px"] == 20
    assert info["providers"][0] in ("CPUExecutionProvider", CUDA)
    assert server.client.post("/model").json() == info  # the same document, for clients and OpenAPI


def test_openapi_page_has_the_schemas(server: Server) -> None:
    spec = server.client.get("/docs.json").json()
    assert {"/predict", "/predict_batch", "/classify_faces", "/annotate", "/model"} <= set(spec["paths"])
    assert {"PredictResponse", "Face", "FaceBox", "BatchResponse", "ModelInfo"} <= set(spec["components"]["schemas"])


def test_python_client(server: Server) -> None:
    import bentoml

    with bentoml.SyncHTTPClient(server.url) as client:
        body = client.predict(image=FIXTURES / "two_faces.jpg", max_faces=5)
        batch = client.predict_batch(images=[FIXTURES / "face.jpg", FIXTURES / "no_face.jpg"])
        info = client.model_info()
    assert len(body["faces"]) == 2
    assert [len(r["result"]["faces"]) for r in batch["results"]] == [1, 0]
    assert info["version"] == "0.0.0-test"


@pytest.mark.gpu
@pytest.mark.skipif(not cuda_available(), reason="onnxruntime has no CUDA provider (install onnxruntime-gpu)")
def test_cuda_provider_is_really_active(server: Server) -> None:
    assert server.client.get("/model").json()["providers"][0] == CUDA


# --- odd but valid images --------------------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(FIXTURES / "face.jpg").convert("RGB")


def sixteen_bit(photo: Image.Image) -> Image.Image:
    grey = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    return Image.fromarray(grey.astype(np.uint16))


def animated(photo: Image.Image) -> bytes:
    noise = Image.fromarray(np.random.default_rng(0).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    return encode(photo, "GIF", save_all=True, append_images=[noise], duration=100, loop=0)


def rotated_with_exif(photo: Image.Image) -> bytes:
    # Pixels stored sideways with EXIF orientation 6 ("rotate 90 clockwise to view"), as phones do.
    exif = Image.Exif()
    exif[0x0112] = 6
    return encode(photo.transpose(Image.Transpose.ROTATE_90), "JPEG", exif=exif.tobytes())


ODD_WITH_FACE = {
    "greyscale": lambda p: encode(p.convert("L"), "PNG"),
    "rgba": lambda p: encode(p.convert("RGBA"), "PNG"),
    "palette": lambda p: encode(p.convert("P", palette=Image.Palette.ADAPTIVE), "PNG"),
    "16-bit": lambda p: encode(sixteen_bit(p), "PNG"),
    "cmyk": lambda p: encode(p.convert("CMYK"), "JPEG"),
    "exif-rotated": rotated_with_exif,
    "animated-gif": animated,
    "webp": lambda p: encode(p, "WEBP", quality=90),
    "bmp": lambda p: encode(p, "BMP"),
    "tiff": lambda p: encode(p, "TIFF"),
    "pgm": lambda p: encode(p.convert("L"), "PPM"),  # Pillow writes L as PGM: older face data sets
    "ppm": lambda p: encode(p, "PPM"),
}


@pytest.mark.parametrize("kind", list(ODD_WITH_FACE))
def test_odd_images_with_a_face(server: Server, photo: Image.Image, kind: str) -> None:
    status, body = predict(server, ODD_WITH_FACE[kind](photo), name=f"odd.{kind}")
    assert status == 200, body
    assert (body["width"], body["height"]) == (256, 256)
    assert len(body["faces"]) == 1, kind  # also proves the EXIF rotation was applied: the cascade wants upright faces


@pytest.mark.parametrize(
    ("kind", "size"),
    [("1x1", (1, 1)), ("very-wide", (8000, 40)), ("very-tall", (30, 5000)), ("2x2-transparent", (2, 2))],
)
def test_odd_sizes_work(server: Server, kind: str, size: tuple[int, int]) -> None:
    image = Image.new("RGBA" if "transparent" in kind else "RGB", size, (120, 80, 40, 0))
    status, body = predict(server, encode(image, "PNG"), whole_image_fallback="true")
    assert status == 200, body
    assert (body["width"], body["height"]) == size
    assert len(body["faces"]) == 1  # the whole-image fallback classifies even a single pixel


# --- bad input: a clear 4xx, never a 500 ----------------------------------------------


def error_text(response: object) -> str:
    body = response.json()
    details = " ".join(f"{d.get('loc')} {d.get('msg')}" for d in body.get("detail", []))
    return f"{body.get('error', '')} {details}".lower()


@pytest.mark.parametrize(
    ("data", "status", "words"),
    [
        (b"hello, I am a text file", 400, "not an image"),
        (b"", 400, "empty"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, 400, "image"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 8, 400, "image"),
    ],
)
def test_not_an_image(server: Server, data: bytes, status: int, words: str) -> None:
    response = server.client.post("/predict", files={"image": ("x.jpg", data)})
    assert response.status_code == status and words in error_text(response)


def test_truncated_image(server: Server, face_jpg: bytes) -> None:
    response = server.client.post("/predict", files={"image": ("x.jpg", face_jpg[: len(face_jpg) // 2])})
    assert response.status_code == 400 and "truncated or corrupt" in error_text(response)


def test_unsupported_format_is_415(server: Server, photo: Image.Image) -> None:
    for fmt in ("PCX", "TGA", "ICO"):
        response = server.client.post("/predict", files={"image": ("x.img", encode(photo, fmt))})
        assert response.status_code == 415, fmt
        assert "not supported" in error_text(response)


def test_too_many_pixels_is_413_before_decoding(server: Server) -> None:
    # 50 megapixels of one bit each: a 40 kB file that would be 150 MB decoded.
    bomb = encode(Image.new("1", (10_000, 5_000)), "PNG")
    assert len(bomb) < 100_000
    response = server.client.post("/predict", files={"image": ("bomb.png", bomb)})
    assert response.status_code == 413 and "pixels" in error_text(response)


def test_too_many_bytes_is_413(server: Server) -> None:
    body = b"\0" * (20 * 1024 * 1024 + 1)
    response = server.client.post("/predict", files={"image": ("big.jpg", body)})
    assert response.status_code == 413 and "emotion_max_upload_bytes" in error_text(response)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({}, "multipart/form-data"),
        ({"files": {"file": ("x.jpg", b"x")}}, "unknown field 'file'"),
        ({"files": {"photo": ("x.jpg", b"x")}, "data": {"max_faces": "2"}}, "unknown field 'photo'"),
        ({"data": {"image": "http://127.0.0.1/x.jpg"}}, "must be a file upload"),
        ({"content": b"\xff\xd8\xff", "headers": {"content-type": "image/jpeg"}}, "multipart/form-data"),
        ({"json": {"image": "x.jpg"}}, "multipart/form-data"),
        ({"content": b"--x\r\nbroken", "headers": {"content-type": "multipart/form-data; boundary=x"}}, "no 'image'"),
        ({"content": b"x", "headers": {"content-type": "multipart/form-data"}}, "form"),
    ],
)
def test_malformed_requests_are_400(server: Server, kwargs: dict, words: str) -> None:
    response = server.client.post("/predict", **kwargs)
    assert response.status_code == 400, response.text
    assert words in error_text(response)


def test_missing_image_field(server: Server) -> None:
    response = server.client.post("/predict", data={"max_faces": "3"})
    assert response.status_code == 400 and "image" in error_text(response)


@pytest.mark.parametrize(
    "options",
    [{"max_faces": "0"}, {"max_faces": "many"}, {"min_face_size": "-5"}, {"whole_image_fallback": "perhaps"}],
)
def test_bad_options_are_400(server: Server, face_jpg: bytes, options: dict) -> None:
    response = server.client.post("/predict", files={"image": ("x.jpg", face_jpg)}, data=options)
    assert response.status_code == 400
    assert next(iter(options)) in str(response.json()["detail"])


def test_a_client_error_is_one_warning_line(server: Server, face_jpg: bytes) -> None:
    before = len(server.log())
    response = server.client.post("/predict", files={"image": ("x.jpg", face_jpg)}, data={"max_faces": "0"})
    assert response.status_code == 400
    deadline = time.monotonic() + 5
    while "client error on /predict" not in server.log()[before:] and time.monotonic() < deadline:
        time.sleep(0.1)
    new = server.log()[before:]
    lines = [line for line in new.splitlines() if "client error on /predict" in line]
    assert len(lines) == 1 and "max_faces" in lines[0] and "WARNING" in lines[0]
    assert "Traceback" not in new and "Exception on" not in new


def test_bad_annotate_format(server: Server, face_jpg: bytes) -> None:
    response = server.client.post("/annotate", files={"image": ("x.jpg", face_jpg)}, data={"format": "gif"})
    assert response.status_code == 400 and "format" in str(response.json()["detail"])


def test_batch_limits(server: Server, face_jpg: bytes) -> None:
    assert server.client.post("/predict_batch").status_code == 400
    too_many = [("images", (f"{i}.jpg", face_jpg)) for i in range(17)]
    response = server.client.post("/predict_batch", files=too_many)
    assert response.status_code == 400 and "16" in error_text(response)
    two_in_one = [("image", ("a.jpg", face_jpg)), ("image", ("b.jpg", face_jpg))]
    response = server.client.post("/predict", files=two_in_one)
    assert response.status_code == 400 and "predict_batch" in error_text(response)


def test_wrong_method_and_path(server: Server) -> None:
    assert server.client.get("/predict").status_code == 405
    assert server.client.post("/nope").status_code == 404


def test_no_5xx_was_logged(server: Server) -> None:
    assert "status=5" not in server.log()


def test_fixture_images_are_small() -> None:
    for path in Path(FIXTURES).glob("*.jpg"):
        assert path.stat().st_size < 50_000, path
