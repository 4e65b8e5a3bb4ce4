"""The load-test kit works without a server: images, request bodies, locustfile import, runner parsing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from face_pipeline import PAPER_DETECTOR, decode_image, detect_faces
from loadtests.images import BOUNDARY, KINDS, multipart, synth_images
from loadtests.run import (
    Scenario,
    against_fer,
    build_parser,
    client_env,
    duration_s,
    fer_summary,
    main,
    markdown,
    parse_scenario,
    run_fer,
    summarise,
)

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


def test_phase_durations_read_as_locust_reads_them() -> None:
    assert [duration_s(t) for t in ("45s", "10m", "1h30m", "30")] == [45, 600, 5400, 30]
    with pytest.raises(ValueError, match="not a duration"):
        duration_s("soon")


class FakeFer:
    """Stands in for benchmarks.fer_library.FerWorker: 50 ms and one face per frame."""

    info: ClassVar[dict[str, str]] = {"fer": "25.10.3", "tensorflow": "2.21.0"}

    def __init__(self) -> None:
        self.asked: list[tuple[int, int]] = []

    def run(self, start: int, end: int) -> dict:
        self.asked.append((start, end))
        return {"seconds": 0.05 * (end - start), "faces": end - start}


def test_a_fer_phase_goes_round_the_frames_for_as_long_as_a_phase() -> None:
    fer = FakeFer()
    got = run_fer(fer, frames=30, seconds=2.0)  # type: ignore[arg-type]
    assert fer.asked == [(0, 20), (20, 30), (0, 20)]  # 1.0 s, 1.5 s, then 2.5 s >= 2 s: stop
    assert got == {
        "frames": 50,
        "faces": 50,
        "seconds": pytest.approx(2.5),
        "frames_per_s": pytest.approx(20.0),
        "next_start": 20,
    }
    run_fer(fer, frames=30, seconds=0.5, start=got["next_start"])  # type: ignore[arg-type]
    assert fer.asked[3:] == [(20, 30)]  # the next round goes on where this one stopped


def _phase(images: int, seconds: float) -> dict:
    return {
        "requests": images,
        "seconds": seconds,
        "exit_code": 0,
        "p50_ms": 50.0,
        "p95_ms": 80.0,
        "p99_ms": 90.0,
        "tally": {"images": images, "faces": images, "status": {"200": images}, "ok_ms": [50.0] * images},
    }


def test_the_service_is_set_against_fer_pooled_and_round_by_round() -> None:
    scenario = Scenario("yunet", {}, phases=[_phase(800, 10.0), _phase(450, 10.0)])
    rounds = [{"frames": 200, "faces": 200, "seconds": 10.0, "frames_per_s": 20.0}] * 2
    rounds[1] = {"frames": 150, "faces": 140, "seconds": 10.0, "frames_per_s": 15.0}
    fer = fer_summary(rounds, FakeFer.info)
    assert fer["frames_per_s"] == pytest.approx(17.5) and fer["faces_per_s"] == pytest.approx(17.0)
    row = summarise(scenario, 0)
    vs = against_fer(scenario, row["images_per_s"], rounds, fer["frames_per_s"])
    assert vs["ratio"] == pytest.approx(62.5 / 17.5)  # the pooled rates, not the mean of the rounds' ratios
    assert vs["per_round"] == pytest.approx([4.0, 3.0])
    row |= {"vs_fer": vs}
    summary = {"name": "t", "command": "c", "users": 4, "profile": "frames", "duration": "10s", "rounds": 2}
    text = markdown(summary | {"frames": "f", "cpus": 2, "scenarios": [row], "fer": fer})
    assert "fer 25.10.3 (TensorFlow 2.21.0), one process" in text and "17.50 frames/s (20.00, 15.00 by round)" in text
    assert "| yunet | 62.50 | 3.57x | 4.00x, 3.00x |" in text


def test_fer_needs_frames_to_compare_with(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--name", "t", "--fer", str(tmp_path)])  # no --sfew, no --profile frames
    with pytest.raises(SystemExit):
        main(["--name", "t", "--profile", "frames", "--sfew", str(tmp_path), "--fer", str(tmp_path)])  # no venv
