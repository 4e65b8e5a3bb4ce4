"""YuNet face detection (OpenCV's ``FaceDetectorYN``), with boxes mapped to Viola-Jones framing.

The ONNX file is vendored in ``face_pipeline/weights/`` and checked against its sha256 before
OpenCV sees a byte of it; the checked bytes are the ones loaded.
"""

from __future__ import annotations

import hashlib
import math
import threading
from dataclasses import replace
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from face_pipeline.image_io import fit_sides
from face_pipeline.params import DetectorParams

YUNET_PATH = Path(__file__).parent / "weights" / "face_detection_yunet_2026may.onnx"
YUNET_SHA256 = "ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0"
NMS_THRESHOLD = 0.3
TOP_K = 5000


class DetectorFileError(RuntimeError):
    """The vendored detector file is missing or not the file it should be."""


@cache
def yunet_bytes(path: Path = YUNET_PATH, sha256: str = YUNET_SHA256) -> bytes:
    """The model file's bytes, once per process, refused unless the checksum matches."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DetectorFileError(f"the YuNet model {path} cannot be read: {exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        raise DetectorFileError(f"the YuNet model {path} has sha256 {digest}, expected {sha256}: the file is damaged")
    return data


# A FaceDetectorYN holds per-input-size state, so each thread keeps its own per threshold.
_local = threading.local()


def _detector(score_threshold: float, width: int, height: int) -> cv2.FaceDetectorYN:
    cache_: dict[float, cv2.FaceDetectorYN] = _local.__dict__.setdefault("yunet", {})
    if score_threshold not in cache_:
        model = np.frombuffer(yunet_bytes(), np.uint8)
        cache_[score_threshold] = cv2.FaceDetectorYN.create(
            "onnx", model, np.empty(0, np.uint8), (width, height), score_threshold, NMS_THRESHOLD, TOP_K
        )
    detector = cache_[score_threshold]
    detector.setInputSize((width, height))
    return detector


def detection_side(longer_side: int, params: DetectorParams, min_size: int | None = None) -> int:
    """The longest side YuNet may see an image of ``longer_side`` pixels at: ``max_side``, or more where a
    face of ``min_size`` (default ``params.min_size``) original pixels would fall under ``min_face_px``
    there, up to ``largest_side``."""
    if params.min_face_px <= 0:
        return params.max_side
    wanted = max(1, params.min_size if min_size is None else min_size)
    needed = math.ceil(longer_side * params.min_face_px / wanted - 1e-9)
    return max(params.max_side, min(needed, params.largest_side))


def yunet_raw(rgb: np.ndarray, params: DetectorParams, min_size: int | None = None) -> np.ndarray:
    """YuNet's own detections in original pixels: (N, 15) rows of x, y, w, h, 5 landmarks, score.

    ``min_size``: the smallest face wanted, in original pixels (default ``params.min_size``); with
    ``params.min_face_px`` it decides how far a large image may be shrunk (``detection_side``). A photo
    seen larger than ``max_side`` is also seen at ``max_side``, and the two passes' faces merged: YuNet
    misses a face that fills most of what it sees (a close-up seen at 456 px instead of 320), so the
    larger pass adds the small faces without losing the large ones.
    """
    fine = detection_side(max(rgb.shape[:2]), params, min_size)
    if fine <= params.max_side:
        return _yunet_at(rgb, params, params.max_side)
    both = np.concatenate([_yunet_at(rgb, params, params.max_side), _yunet_at(rgb, params, fine)])
    both = both[np.isfinite(both).all(axis=1)]
    if len(both) == 0:
        return both
    # One face found at both sizes is two overlapping rows: keep the better-scoring one, as YuNet's own NMS does.
    keep = cv2.dnn.NMSBoxes(both[:, :4].tolist(), both[:, -1].tolist(), 0.0, NMS_THRESHOLD)
    return both[np.asarray(keep, dtype=np.int64).reshape(-1)]


def _yunet_at(rgb: np.ndarray, params: DetectorParams, max_side: int) -> np.ndarray:
    rgb, scale = fit_sides(rgb, params.min_side, max_side)
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    _, faces = _detector(params.score_threshold, bgr.shape[1], bgr.shape[0]).detect(bgr)
    if faces is None:
        return np.empty((0, 15), np.float32)
    faces = faces.copy()
    faces[:, :14] /= scale
    return faces


def mapped_boxes(raw: np.ndarray, params: DetectorParams, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """YuNet boxes -> the square box Viola-Jones would draw around the same face, clamped to the image."""
    out = []
    # On images smaller than its coarsest stride YuNet can return garbage rows (NaN): drop them.
    for x, y, w, h in raw[np.isfinite(raw[:, :4]).all(axis=1), :4]:
        side = params.box_scale * math.sqrt(max(w, 0.0) * max(h, 0.0))
        cx = x + w / 2 + params.box_dx * w
        cy = y + h / 2 + params.box_dy * h
        x0, y0 = max(0, round(cx - side / 2)), max(0, round(cy - side / 2))
        x1, y1 = min(width, round(cx + side / 2)), min(height, round(cy + side / 2))
        if x1 > x0 and y1 > y0:
            out.append((x0, y0, x1 - x0, y1 - y0))
    return out


def likeliest_face(rgb: np.ndarray, params: DetectorParams, score_threshold: float) -> tuple[int, int, int, int] | None:
    """The mapped box of YuNet's highest-scoring candidate down to ``score_threshold``, or None.

    For an image the caller says holds one face: at a low threshold the largest candidate is often
    background around the face, the best-scoring one the face itself.
    """
    height, width = rgb.shape[:2]
    raw = yunet_raw(rgb, replace(params, score_threshold=score_threshold))
    for row in raw[np.argsort(-raw[:, -1])]:
        boxes = mapped_boxes(row[None], params, width, height)
        if boxes and min(boxes[0][2:]) >= params.min_size:
            return boxes[0]
    return None
