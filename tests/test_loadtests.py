"""The load-test kit works without a server: images, request bodies, locustfile import, runner parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from face_pipeline import PAPER_DETECTOR, decode_image, detect_faces
from loadtests.images import BOUNDARY, KINDS, multipart, synth_images
from loadtests.run import build_parser, client_env, parse_scenario

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def images() -> dict[str, list[bytes]]:
    return synth_images(per_kind=2, seed=3)


def test_synthetic_images_have_the_promised_sizes_and_faces(images: dict[str, list[bytes]]) -> None:
    sizes = {
        "frame": (576, 720),
        "multi": (768, 1024),
        "noface": (576, 720),
        "small": (180, 240),
        "large": (1536, 2048),
    }
    assert set(images) == set(KINDS)
    for kind, blobs in images.items():
        assert len(blobs) == 2
        for blob in blobs:
            assert blob[:2] == b"\xff\xd8"  # JPEG
            rgb = decode_image(blob)
            assert rgb.shape[:2] == sizes[kind]
    # The pasted faces are found by the paper-faithful detector; the empty scenes have none.
    frame_faces = [len(detect_faces(decode_image(b), PAPER_DETECTOR)) for b in images["frame"]]
    assert all(n >= 1 for n in frame_faces)
    assert sum(len(detect_faces(decode_image(b), PAPER_DETECTOR)) for b in images["multi"]) >= 3


def test_synthetic_images_are_reproducible() -> None:
    assert synth_images(1, seed=5)["small"] == synth_images(1, seed=5)["small"]


def test_multipart_body_repeats_the_field_per_image() -> None:
    body = multipart("images", [b"one", b"two"])
    assert body.count(b'name="images"') == 2
    assert body.endswith(f"--{BOUNDARY}--\r\n".encode())
    assert b"\r\n\r\none\r\n" in body


def test_locustfile_imports_and_defines_the_mix() -> None:
    # In a subprocess: importing locust monkey-patches the whole interpreter with gevent.
    code = (
        "import loadtests.locustfile as lf; "
        "print(sorted(t.__name__ for t in lf.EmotionUser.tasks)); "
        "print(sorted(lf.build_payloads(per_kind=1)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    ).stdout
    assert "predict_batch" in out and "predict_frame" in out and "predict_large" in out
    assert "'batch'" in out and "'noface'" in out


def test_a_scenarios_client_settings_reach_locust_and_its_bodies(tmp_path: Path) -> None:
    scenario = parse_scenario("largest:EMOTION_DETECTOR=viola-jones,LOADTEST_MAX_FACES=1")
    args = build_parser().parse_args(["--name", "t"])
    env = client_env(scenario, args, tmp_path)
    assert env["LOADTEST_MAX_FACES"] == "1" and env["LOADTEST_PROFILE"] == "mixed"
    args = build_parser().parse_args(["--name", "t", "--env", "LOADTEST_MAX_FACES=2"])
    assert client_env(parse_scenario("plain"), args, tmp_path)["LOADTEST_MAX_FACES"] == "2"
    code = (
        "import loadtests.locustfile as lf; p = lf.build_payloads(per_kind=1); "
        "print(all(b'name=\"max_faces\"\\r\\n\\r\\n1\\r\\n' in x.body for v in p.values() for x in v))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
        env={**os.environ, "LOADTEST_MAX_FACES": "1"},
    ).stdout
    assert out.strip() == "True"


def test_scenario_parsing() -> None:
    s = parse_scenario("paper:EMOTION_DETECTOR=viola-jones,EMOTION_MAX_BATCH_SIZE=1")
    assert s.name == "paper"
    assert s.env == {"EMOTION_DETECTOR": "viola-jones", "EMOTION_MAX_BATCH_SIZE": "1"}
    assert parse_scenario("plain").env == {}
