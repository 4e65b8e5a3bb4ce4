"""Viola-Jones face detection (OpenCV Haar cascade), boxes in original-image pixels."""

from __future__ import annotations

import threading
from typing import NamedTuple

import cv2
import numpy as np

from face_pipeline.image_io import shrink
from face_pipeline.largest_first import scan_largest_first
from face_pipeline.params import YUNET, DetectorParams
from face_pipeline.yunet import mapped_boxes, yunet_raw


class Box(NamedTuple):
    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height


# Up to this many faces, a limit is served by scanning largest windows first; beyond it the
# scan rarely stops early and its per-level grouping costs 2-3% (SFEW, one thread:
# limit 1 1.82x less detection, 2 1.05x, 3 0.98x; `python -m benchmarks.largest_first`).
LARGEST_FIRST_UP_TO = 2

# A CascadeClassifier is not safe to share between threads that call it at once, and loading
# one costs ~30 ms, so each thread keeps its own per cascade file.
_local = threading.local()


def cascade(name: str) -> cv2.CascadeClassifier:
    cache: dict[str, cv2.CascadeClassifier] = _local.__dict__.setdefault("cascades", {})
    if name not in cache:
        classifier = cv2.CascadeClassifier(cv2.data.haarcascades + name)
        if classifier.empty():
            raise RuntimeError(f"OpenCV could not load the cascade {name} from {cv2.data.haarcascades}")
        cache[name] = classifier
    return cache[name]


def detection_grey(rgb: np.ndarray, params: DetectorParams) -> tuple[np.ndarray, float]:
    """The grey, histogram-equalised, possibly shrunk copy the cascade runs on, and its scale."""
    rgb, scale = shrink(rgb, params.max_side)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.equalizeHist(grey), scale


def detect_faces(
    rgb: np.ndarray, params: DetectorParams, min_size: int | None = None, limit: int | None = None
) -> list[Box]:
    """All faces in an RGB image, largest first, as boxes in the image's own pixels.

    ``min_size`` (original pixels) overrides ``params.min_size`` for one call, e.g. when a
    client asks for larger faces only. ``limit`` returns only that many largest faces, exactly
    ``detect_faces(...)[:limit]``; for one or two faces without scanning the small windows
    when the large faces settle the answer (see ``face_pipeline.largest_first``).
    """
    wanted = params.min_size if min_size is None else min_size
    if params.kind == YUNET:
        height, width = rgb.shape[:2]
        found = [Box(*b) for b in mapped_boxes(yunet_raw(rgb, params, wanted), params, width, height)]
        return sorted((b for b in found if min(b.width, b.height) >= wanted), key=_largest_first)[:limit]
    grey, scale = detection_grey(rgb, params)
    # The cascade's own window is 24x24, so nothing smaller can be found anyway.
    scaled_min = max(1, round(wanted * scale))
    if min(grey.shape) < max(scaled_min, 24):
        return []
    classifier = cascade(params.cascade)
    height, width = rgb.shape[:2]
    window_width, window_height = classifier.getOriginalWindowSize()
    # The largest-first scan selects pyramid levels by a square window side.
    if limit is None or limit > LARGEST_FIRST_UP_TO or window_width != window_height:
        found = classifier.detectMultiScale(
            grey,
            scaleFactor=params.scale_factor,
            minNeighbors=params.min_neighbors,
            minSize=(scaled_min, scaled_min),
        )
        return image_boxes(found, scale, width, height, wanted)[:limit]
    levels = scan_largest_first(classifier, grey, params.scale_factor, params.min_neighbors, scaled_min, limit)
    for found, settled in levels:
        boxes = image_boxes(found, scale, width, height, wanted)
        # Boxes not yet final have a side <= settled, i.e. <= settled / scale + 1 once mapped back.
        if not settled or (len(boxes) >= limit and boxes[limit - 1].area > (settled / scale + 1) ** 2):
            return boxes[:limit]
    raise AssertionError("the last pyramid level always settles every box")


def image_boxes(found: np.ndarray, scale: float, width: int, height: int, wanted: int) -> list[Box]:
    """Detections on the (possibly shrunk) grey copy -> boxes in original pixels of at least
    ``wanted`` pixels, largest first."""
    boxes = []
    for x, y, w, h in np.asarray(found).reshape(-1, 4):
        x0, y0 = int(round(x / scale)), int(round(y / scale))
        x1, y1 = min(width, int(round((x + w) / scale))), min(height, int(round((y + h) / scale)))
        if x1 - x0 >= wanted and y1 - y0 >= wanted:
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
    return sorted(boxes, key=_largest_first)


def _largest_first(box: Box) -> tuple[int, int, int]:
    # Ties broken by position so the order is deterministic.
    return (-box.area, box.y, box.x)


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union else 0.0
