"""Viola-Jones face detection (OpenCV Haar cascade), boxes in original-image pixels."""

from __future__ import annotations

import threading
from typing import NamedTuple

import cv2
import numpy as np

from face_pipeline.params import DetectorParams


class Box(NamedTuple):
    x: int
    y: int
    width: int
    height: int

    @property
    def area(self) -> int:
        return self.width * self.height


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
    height, width = rgb.shape[:2]
    scale = min(1.0, params.max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return cv2.equalizeHist(grey), scale


def detect_faces(rgb: np.ndarray, params: DetectorParams, min_size: int | None = None) -> list[Box]:
    """All faces in an RGB image, largest first, as boxes in the image's own pixels.

    ``min_size`` (original pixels) overrides ``params.min_size`` for one call, e.g. when a
    client asks for larger faces only.
    """
    grey, scale = detection_grey(rgb, params)
    wanted = params.min_size if min_size is None else min_size
    # The cascade's own window is 24x24, so nothing smaller can be found anyway.
    scaled_min = max(1, round(wanted * scale))
    if min(grey.shape) < max(scaled_min, 24):
        return []
    found = cascade(params.cascade).detectMultiScale(
        grey,
        scaleFactor=params.scale_factor,
        minNeighbors=params.min_neighbors,
        minSize=(scaled_min, scaled_min),
    )
    height, width = rgb.shape[:2]
    boxes = []
    for x, y, w, h in np.asarray(found).reshape(-1, 4):
        x0, y0 = int(round(x / scale)), int(round(y / scale))
        x1, y1 = min(width, int(round((x + w) / scale))), min(height, int(round((y + h) / scale)))
        if x1 - x0 >= wanted and y1 - y0 >= wanted:
            boxes.append(Box(x0, y0, x1 - x0, y1 - y0))
    # Ties broken by position so the order is deterministic.
    return sorted(boxes, key=lambda b: (-b.area, b.y, b.x))


def iou(a: Box, b: Box) -> float:
    ix = max(0, min(a.x + a.width, b.x + b.width) - max(a.x, b.x))
    iy = max(0, min(a.y + a.height, b.y + b.height) - max(a.y, b.y))
    inter = ix * iy
    union = a.area + b.area - inter
    return inter / union if union else 0.0
