"""The k largest faces of ``detectMultiScale``, exactly, without scanning the small windows.

Most of Viola-Jones's time goes to small windows (from 2x the cascade's window up, OpenCV
steps one pixel instead of two). A client that wants only the largest face, as the paper
classifies one face per frame, does not need them once the largest faces are settled, so
this scans the pyramid from the largest window down and stops when no smaller window can
change the answer. What makes that exact rather than approximate:

- each pyramid level is resized from the full image on its own, and ``minSize == maxSize``
  selects one level with the very scale factor the full scan uses (both multiply up from 1),
  so the raw windows (``minNeighbors=0``) of each level are those of the full scan;
- the windows are then grouped by ``cv2.groupRectangles`` as ``detectMultiScale`` groups them:
  a window of side ``w`` joins a cluster only through a member of side at most ``1.4 w``
  (corners within ``eps * w`` on both sides), and a grouped box of side ``X`` can only be
  dropped as "inside a larger box" by one of side at least ``(X - 1) / 1.4``.

So once every cluster that a smaller window could still join is itself small, boxes well
above it are final. ``tests/test_largest_first.py`` checks the result against the full scan,
and ``python -m benchmarks.largest_first`` over the 675 SFEW frames.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import cv2
import numpy as np

GROUP_EPS = 0.2  # what detectMultiScale groups with
JOIN_RATIO = 1.0 + 2 * GROUP_EPS  # the largest side ratio of two windows that can join


def pyramid_factors(
    cascade_side: int, scale_factor: float, min_side: int, image_shape: tuple[int, ...]
) -> list[tuple[float, int]]:
    """(scale factor, window side) of each level detectMultiScale scans, smallest first (OpenCV's loop)."""
    height, width = image_shape[:2]
    levels, factor = [], 1.0
    while True:
        # Python's round() and cvRound() both round half to even.
        side = round(cascade_side * factor)
        if side > width or side > height:
            return levels
        if side >= min_side:
            levels.append((factor, side))
        factor *= scale_factor


def window_sides(cascade_side: int, scale_factor: float, min_side: int, image_shape: tuple[int, ...]) -> list[int]:
    """The window sides detectMultiScale scans on this image, smallest first."""
    return [side for _, side in pyramid_factors(cascade_side, scale_factor, min_side, image_shape)]


def group(windows: np.ndarray, min_neighbors: int) -> np.ndarray:
    """What detectMultiScale returns for ``min_neighbors``, from its raw (unclipped) windows, before clipping."""
    if min_neighbors <= 0 or len(windows) == 0:
        return windows
    grouped, _ = cv2.groupRectangles(windows.tolist(), min_neighbors, GROUP_EPS)
    return np.asarray(grouped, dtype=np.int32).reshape(-1, 4)


def _cluster_labels(rects: np.ndarray) -> np.ndarray:
    """Connected components of OpenCV's ``SimilarRects`` relation (as ``cv::partition``)."""
    x0, y0 = rects[:, 0], rects[:, 1]
    x1, y1 = x0 + rects[:, 2], y0 + rects[:, 3]
    delta = GROUP_EPS * (np.minimum.outer(rects[:, 2], rects[:, 2]) + np.minimum.outer(rects[:, 3], rects[:, 3])) * 0.5
    similar = np.ones(delta.shape, bool)
    for edge in (x0, y0, x1, y1):
        similar &= np.abs(np.subtract.outer(edge, edge)) <= delta
    labels = np.arange(len(rects))
    while True:  # propagate the smallest label through each component
        spread = np.where(similar, labels[None, :], len(rects)).min(axis=1)
        if np.array_equal(spread, labels):
            return labels
        labels = spread[spread]


def settled_side(rects: np.ndarray, next_side: int) -> float:
    """Grouped boxes with a side above this are final whatever windows of side <= ``next_side`` add.

    A cluster with a member of side <= 1.4 * next_side may still grow (and shrink its average)
    and new clusters stay below ``next_side``; a box of side X is only dropped by one of side
    >= (X - 1) / 1.4. So anything above 1.4 * (the largest such side) + 1 is out of reach.
    """
    if next_side <= 0:
        return 0.0
    reach = float(next_side)
    if len(rects):
        labels = _cluster_labels(rects)
        open_clusters = np.unique(labels[rects[:, 2] <= JOIN_RATIO * next_side])
        if len(open_clusters):
            reach = max(reach, float(rects[np.isin(labels, open_clusters), 2].max()))
    return JOIN_RATIO * reach + 1


def _clip(boxes: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Boxes cut to the image, as detectMultiScale returns them."""
    x0, y0 = np.maximum(boxes[:, 0], 0), np.maximum(boxes[:, 1], 0)
    x1 = np.minimum(boxes[:, 0] + boxes[:, 2], shape[1])
    y1 = np.minimum(boxes[:, 1] + boxes[:, 3], shape[0])
    keep = (x1 > x0) & (y1 > y0)
    return np.stack([x0, y0, x1 - x0, y1 - y0], axis=1)[keep].astype(np.int32)


def scan_largest_first(
    classifier: cv2.CascadeClassifier,
    grey: np.ndarray,
    scale_factor: float,
    min_neighbors: int,
    min_side: int,
    count: int,
) -> Iterator[tuple[np.ndarray, float]]:
    """After each pyramid level, largest window first: the grouped boxes (x, y, w, h) so far and
    the side above which they are final (infinite while fewer than ``count`` boxes could be).
    The last level yields 0: the full scan's result.
    """
    cascade_side = int(classifier.getOriginalWindowSize()[0])
    sides = window_sides(cascade_side, scale_factor, min_side, grey.shape)[::-1]
    raw: list[np.ndarray] = []
    for scanned, side in enumerate(sides, start=1):
        found = classifier.detectMultiScale(grey, scale_factor, 0, minSize=(side, side), maxSize=(side, side))
        level = np.asarray(found, np.int32).reshape(-1, 4).copy()
        # Without grouping, OpenCV clips windows that poke out of the image by a rounding pixel;
        # it groups them unclipped and clips the grouped boxes, so undo the clipping first.
        level[:, 2:] = side
        raw.append(level)
        windows = np.concatenate(raw)
        next_side = sides[scanned] if scanned < len(sides) else 0
        grouped = group(windows, min_neighbors)
        sides_found = np.sort(grouped[:, 2])[::-1]
        clipped = _clip(grouped, grey.shape)
        # The cheap bound first: clustering is only worth it when the count-th box could be final.
        if next_side and (len(sides_found) < count or sides_found[count - 1] <= JOIN_RATIO * next_side + 1):
            yield clipped, math.inf
        else:
            yield clipped, settled_side(windows, next_side)
    if not sides:
        yield np.empty((0, 4), np.int32), 0.0
