"""Largest faces first: exactly the full scan's largest boxes, with fewer pyramid levels scanned."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from face_pipeline import FAST_DETECTOR, PAPER_DETECTOR, DetectorParams, decode_image, detect_faces
from face_pipeline import detect as detect_module
from face_pipeline.detect import cascade, detection_grey
from face_pipeline.largest_first import settled_side, window_sides

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return decode_image((FIXTURES / "astronaut.png").read_bytes())


@pytest.fixture(scope="module", autouse=True)
def scan_every_limit() -> Iterator[None]:
    """The service scans largest first for 1-2 faces only (cost); here every limit exercises the scan."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(detect_module, "LARGEST_FIRST_UP_TO", 1000)
        yield


@pytest.fixture(scope="module")
def film_frame(astronaut: np.ndarray) -> np.ndarray:
    """An SFEW-sized 720x576 frame: the photo at 2x (a ~95 px face) and three small copies."""
    frame = np.full((576, 720, 3), 70, np.uint8)
    frame[40:552, 180:692] = cv2.resize(astronaut, (512, 512), interpolation=cv2.INTER_CUBIC)
    small = cv2.resize(astronaut, (150, 150), interpolation=cv2.INTER_AREA)
    for y in (10, 210, 410):
        frame[y : y + 150, 10:160] = small
    return frame


def test_each_level_alone_gives_the_full_scans_raw_windows(film_frame: np.ndarray) -> None:
    # The premise of the scan: detectMultiScale with minSize == maxSize scans one pyramid level
    # exactly as the full scan does, and window_sides lists the full scan's levels.
    grey, _ = detection_grey(film_frame, PAPER_DETECTOR)
    classifier = cascade(PAPER_DETECTOR.cascade)
    full = classifier.detectMultiScale(grey, 1.1, 0, minSize=(30, 30))
    per_level = [
        classifier.detectMultiScale(grey, 1.1, 0, minSize=(side, side), maxSize=(side, side))
        for side in window_sides(24, 1.1, 30, grey.shape)
    ]
    rows = lambda found: sorted(map(tuple, np.asarray(found).reshape(-1, 4).tolist()))  # noqa: E731
    assert len(full) > 50
    assert rows(full) == rows(np.concatenate([np.asarray(f).reshape(-1, 4) for f in per_level]))


@pytest.mark.parametrize("params", [PAPER_DETECTOR, FAST_DETECTOR], ids=["paper", "fast"])
@pytest.mark.parametrize("limit", [1, 2, 3, 4, 20])
def test_limit_is_the_full_scans_head(film_frame: np.ndarray, params: DetectorParams, limit: int) -> None:
    full = detect_faces(film_frame, params)
    assert detect_faces(film_frame, params, limit=limit) == full[:limit]


@pytest.mark.parametrize(("pad", "side"), [(0, 150), (3, 330)])
def test_a_face_filling_the_image(astronaut: np.ndarray, pad: int, side: int) -> None:
    # The largest windows poke a pixel out of the image here; OpenCV groups them unclipped
    # (grouping the clipped ones gives a box a pixel short).
    face = detect_faces(astronaut, PAPER_DETECTOR)[0]
    crop = astronaut[face.y - pad : face.y + face.height + pad, face.x - pad : face.x + face.width + pad]
    image = cv2.resize(crop, (side, side), interpolation=cv2.INTER_CUBIC)
    full = detect_faces(image, PAPER_DETECTOR)
    assert len(full) == 1 and full[0].width > side * 0.75
    assert detect_faces(image, PAPER_DETECTOR, limit=1) == full


class RecordingCascade:
    """The paper's cascade, recording the keyword arguments of every detectMultiScale call."""

    def __init__(self) -> None:
        self.real = cascade(PAPER_DETECTOR.cascade)
        self.calls: list[dict] = []

    def getOriginalWindowSize(self) -> tuple[int, int]:
        return self.real.getOriginalWindowSize()

    def detectMultiScale(self, grey: np.ndarray, *args: object, **kwargs: object) -> np.ndarray:
        self.calls.append(kwargs)
        return self.real.detectMultiScale(grey, *args, **kwargs)


def test_the_largest_face_skips_the_small_windows(film_frame: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = RecordingCascade()
    monkeypatch.setattr(detect_module, "cascade", lambda name: recording)
    boxes = detect_faces(film_frame, PAPER_DETECTOR, limit=1)
    assert len(boxes) == 1 and boxes[0].width > 80
    levels = window_sides(24, 1.1, 30, film_frame.shape)
    seen = [call["minSize"][0] for call in recording.calls]
    # Largest first, and it stops before the small windows where the small faces are found.
    assert seen == sorted(seen, reverse=True) and len(seen) < len(levels)
    full = detect_faces(film_frame, PAPER_DETECTOR)
    assert full[0] == boxes[0] and len(full) >= 2
    assert full[-1].width < min(seen) - 5


def test_larger_limits_use_one_full_scan(film_frame: np.ndarray, monkeypatch: pytest.MonkeyPatch) -> None:
    recording = RecordingCascade()
    monkeypatch.setattr(detect_module, "LARGEST_FIRST_UP_TO", 2)
    monkeypatch.setattr(detect_module, "cascade", lambda name: recording)
    boxes = detect_faces(film_frame, PAPER_DETECTOR, limit=3)
    calls = recording.calls
    assert len(calls) == 1 and calls[0]["minNeighbors"] == 5 and len(boxes) == 2


@pytest.mark.parametrize("name", ["haarcascade_upperbody.xml", "haarcascade_frontalface_alt2.xml"])
def test_other_cascades(film_frame: np.ndarray, name: str) -> None:
    # A non-square window (upper body, 22x18) cannot be selected by one side: one full scan.
    params = DetectorParams(cascade=name, min_neighbors=3)
    assert detect_faces(film_frame, params, limit=1) == detect_faces(film_frame, params)[:1]


def test_settled_side_follows_chains_of_similar_windows() -> None:
    # One window per size from 60 to 100 px, each sharing its top-left corner with the next:
    # one cluster, still open to 50 px windows through its 60 px member.
    chain = np.array([[10, 10, s, s] for s in (60, 66, 73, 80, 88, 97, 100)], np.int32)
    assert settled_side(chain, 50) == pytest.approx(1.4 * 100 + 1)
    # The same big box alone, and a small cluster far away: only the small one is open.
    apart = np.array([[10, 10, 100, 100], [10, 10, 97, 97], [400, 400, 60, 60]], np.int32)
    assert settled_side(apart, 50) == pytest.approx(1.4 * 60 + 1)
    assert settled_side(np.empty((0, 4), np.int32), 50) == pytest.approx(1.4 * 50 + 1)
    assert settled_side(chain, 0) == 0.0


@settings(max_examples=25, deadline=None)
@given(
    scale=st.floats(0.3, 1.6),
    left=st.integers(0, 120),
    top=st.integers(0, 100),
    limit=st.integers(1, 4),
    shrink=st.sampled_from([1280, 300]),
)
def test_limit_matches_the_full_scan_on_any_crop_and_scale(
    film_frame: np.ndarray, scale: float, left: int, top: int, limit: int, shrink: int
) -> None:
    image = film_frame[top:, left:]
    image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    params = DetectorParams(max_side=shrink)
    assert detect_faces(image, params, limit=limit) == detect_faces(image, params)[:limit]
