"""Two-stage Viola-Jones: find candidates cheaply on a shrunk copy, then redo the paper-faithful
detector's own work, window for window, only around each candidate.

Why not simply re-run ``detectMultiScale`` on a region around each candidate: the cascade
decides on windows laid on a grid (every 2 pixels of each scaled image, every pixel from scale
2 up, skipping the next position after a first-stage rejection) over an image pyramid resized
from the whole frame. A region cut out of the frame is resized with another phase and scanned
on another grid, so borderline faces come and go: measured here, the paper-faithful detector
run on the frame shifted by a single pixel picks another largest face on about 9% of the SFEW
frames. Reproducing the paper's boxes needs the paper's windows, so stage two rebuilds them:

- for each pyramid scale f the paper scans (scale factor 1.1 from 1, windows >= 30 px), the
  frame is resized exactly as OpenCV does (``round(size / f)``, INTER_LINEAR_EXACT);
- on that scaled image, a cut-out around the candidate is scanned at the cascade's native
  window size only (``minSize == maxSize``), aligned to the paper's grid; from scale 2 up,
  where the paper steps one pixel, the cut-out is first doubled with nearest-neighbour so
  that OpenCV scans it at its internal scale 2, which steps one pixel and resizes back to
  exactly the same pixels;
- the scan starts a few positions left of the region so that the skip-after-rejection
  pattern falls in step with the paper's row scan before the region begins;
- the windows of all regions are grouped with the paper's neighbour count, as
  detectMultiScale groups them.

Checked on the whole frame (``paper_windows`` vs ``detectMultiScale(..., minNeighbors=0)``):
the windows are identical. Inside regions they are identical whenever the row scan is in
step (``benchmarks.detector_agreement`` counts the exact box matches).

A prototype for the benchmarks: ``face_pipeline.DetectorParams`` has no field for it yet, so
the service cannot use it until the pipeline adopts it.
"""

from __future__ import annotations

import math
import os
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import cv2
import numpy as np

from face_pipeline.detect import Box, cascade, image_boxes
from face_pipeline.largest_first import GROUP_EPS, group, pyramid_factors
from face_pipeline.params import PAPER_DETECTOR, DetectorParams

WINDOW = 24  # the frontal-face Haar cascades' native window
TRUNCATED_DIR = Path(__file__).resolve().parent.parent / ".cache" / "benchmarks" / "cascades"


@dataclass(frozen=True)
class TwoStageParams:
    """``final``: the detector whose boxes are reproduced; ``coarse_*``: the cheap first pass.

    ``pad``: how far around a candidate (a fraction of its side, on every side) faces are
    looked for again. ``min_ratio``/``max_ratio``: the window sizes re-scanned, relative to the
    candidate's side. ``sync``: positions scanned left of a region so the row scan falls in step.
    """

    final: DetectorParams = field(default_factory=lambda: PAPER_DETECTOR)
    coarse_max_side: int = 288
    coarse_scale_factor: float = 1.2
    coarse_min_neighbors: int = 1
    coarse_stages: int | None = None  # keep only the cascade's first stages (more candidates)
    pad: float = 0.5
    min_ratio: float = 0.5
    max_ratio: float = 2.0
    sync: int = 8

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def label(self) -> str:
        return (
            f"two-stage: coarse {self.coarse_max_side}/{self.coarse_scale_factor}/{self.coarse_min_neighbors}"
            + (f" {self.coarse_stages} stages" if self.coarse_stages else "")
            + ","
            f" pad {self.pad}, windows {self.min_ratio}-{self.max_ratio}x"
        )


def equalized_grey(rgb: np.ndarray) -> np.ndarray:
    """The full-resolution grey, equalised copy the paper-faithful detector scans."""
    return cv2.equalizeHist(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY))


def shrink(grey: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    height, width = grey.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale >= 1.0:
        return grey, 1.0
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(grey, size, interpolation=cv2.INTER_AREA), scale


def raw_windows(
    grey: np.ndarray, cascade_name: str, scale_factor: float, min_window: int, clf: cv2.CascadeClassifier | None = None
) -> np.ndarray:
    """Every window the cascade accepts, ungrouped (minNeighbors=0), as (N,4) int32."""
    if min(grey.shape[:2]) < max(WINDOW, min_window):
        return np.empty((0, 4), np.int32)
    found = (clf or cascade(cascade_name)).detectMultiScale(
        grey, scaleFactor=scale_factor, minNeighbors=0, minSize=(min_window, min_window)
    )
    return np.asarray(found, dtype=np.int32).reshape(-1, 4)


def cluster(windows: np.ndarray, min_neighbors: int) -> np.ndarray:
    """Like ``group``, but 0 neighbours still merges similar windows (every window kept)."""
    if min_neighbors > 0 or len(windows) == 0:
        return group(windows, min_neighbors)
    # groupRectangles drops clusters of fewer than threshold + 1: doubling every window keeps all.
    grouped, _ = cv2.groupRectangles(np.concatenate([windows, windows]).tolist(), 1, GROUP_EPS)
    return np.asarray(grouped, dtype=np.int32).reshape(-1, 4)


def coarse_windows(grey: np.ndarray, params: TwoStageParams) -> tuple[np.ndarray, float]:
    """Stage one, ungrouped: the raw windows on the shrunk copy and the shrink factor."""
    small, scale = shrink(grey, params.coarse_max_side)
    min_window = max(1, round(params.final.min_size * scale))
    clf = _classifier(params.final.cascade, "coarse", params.coarse_stages)
    return raw_windows(small, params.final.cascade, params.coarse_scale_factor, min_window, clf), scale


def pyramid_scales(height: int, width: int, scale_factor: float, min_size: int) -> list[np.float32]:
    """The scales detectMultiScale scans, computed as it computes them (double steps, float kept)."""
    return [np.float32(factor) for factor, _ in pyramid_factors(WINDOW, scale_factor, min_size, (height, width))]


_local = threading.local()


def truncated_cascade(name: str, stages: int) -> Path:
    """A copy of an OpenCV cascade keeping its first ``stages`` stages (accepts more windows)."""
    path = TRUNCATED_DIR / f"{Path(name).stem}-{stages}.xml"
    if not path.exists():
        tree = ElementTree.parse(cv2.data.haarcascades + name)
        root = tree.find("cascade")
        assert root is not None
        kept = root.find("stages")
        count = root.find("stageNum")
        assert kept is not None and count is not None
        for stage in list(kept)[stages:]:
            kept.remove(stage)
        count.text = str(stages)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tree.write(tmp, xml_declaration=True, encoding="utf-8")  # OpenCV needs the declaration
        tmp.replace(path)
    return path


def _classifier(name: str, role: str, stages: int | None = None) -> cv2.CascadeClassifier:
    """A cascade per thread and per use: OpenCV recomputes a cascade's feature tables whenever
    it is asked for other scales or a larger image than last time, so the coarse pass and the
    two kinds of re-scan each keep their own, sized once for a whole frame."""
    cache: dict[tuple[str, str, int | None], cv2.CascadeClassifier] = _local.__dict__.setdefault("cascades", {})
    key = (name, role, stages)
    if key not in cache:
        path = truncated_cascade(name, stages) if stages else Path(cv2.data.haarcascades + name)
        clf = cv2.CascadeClassifier(str(path))
        if clf.empty():
            raise RuntimeError(f"OpenCV could not load the cascade {name}")
        if role != "coarse":
            # Size its buffers once (for frames up to 1280 px) so later calls never regrow them.
            side = WINDOW if role == "step2" else 2 * WINDOW
            clf.detectMultiScale(np.zeros((1280, 1280), np.uint8), 2.0, 0, minSize=(side, side), maxSize=(side, side))
        cache[key] = clf
    return cache[key]


class Pyramid:
    """One frame's scaled images, made on first use, exactly as OpenCV's cascade makes them."""

    def __init__(self, grey: np.ndarray, final: DetectorParams) -> None:
        self.grey = grey
        self.final = final
        self.height, self.width = grey.shape[:2]
        self.scales = pyramid_scales(self.height, self.width, final.scale_factor, final.min_size)
        self._images: dict[int, np.ndarray] = {}

    def image(self, index: int) -> np.ndarray:
        if index not in self._images:
            f = self.scales[index]
            size = (int(np.rint(np.float32(self.width) / f)), int(np.rint(np.float32(self.height) / f)))
            self._images[index] = cv2.resize(self.grey, size, interpolation=cv2.INTER_LINEAR_EXACT)
        return self._images[index]

    def windows(self, index: int, corners: Box, sync: int) -> list[tuple[int, int, int, int]]:
        """The paper's raw windows at scale ``index`` whose top-left corner lies in ``corners``
        (original pixels; the windows themselves may reach beyond it)."""
        f = self.scales[index]
        scaled = self.image(index)
        sh, sw = scaled.shape[:2]
        step = 1 if f >= 2 else 2
        # Corner positions in scaled pixels, on the paper's grid (multiples of the step).
        x0 = max(0, math.ceil(corners.x / f))
        y0 = max(0, math.ceil(corners.y / f))
        x1 = min(sw - WINDOW, math.floor((corners.x + corners.width) / f))
        y1 = min(sh - WINDOW, math.floor((corners.y + corners.height) / f))
        x0 += -x0 % step
        y0 += -y0 % step
        if x1 < x0 or y1 < y0:
            return []
        start = max(0, x0 - sync * step)
        cut = scaled[y0 : y1 + WINDOW, start : x1 + WINDOW]
        if step == 2:
            clf = _classifier(self.final.cascade, "step2")
            hits = clf.detectMultiScale(cut, 2.0, 0, minSize=(WINDOW, WINDOW), maxSize=(WINDOW, WINDOW))
            positions = np.asarray(hits, np.int32).reshape(-1, 4)[:, :2]
        else:
            clf = _classifier(self.final.cascade, "step1")
            doubled = cv2.resize(cut, (cut.shape[1] * 2, cut.shape[0] * 2), interpolation=cv2.INTER_NEAREST)
            big = 2 * WINDOW
            hits = clf.detectMultiScale(doubled, 2.0, 0, minSize=(big, big), maxSize=(big, big))
            positions = np.asarray(hits, np.int32).reshape(-1, 4)[:, :2] // 2
        size = int(np.rint(np.float32(WINDOW) * f))
        out = []
        for px, py in positions:
            px, py = int(px) + start, int(py) + y0
            if px < x0:
                continue  # in the lead-in, possibly off the paper's path
            x, y = int(np.rint(np.float32(px) * f)), int(np.rint(np.float32(py) * f))
            out.append((x, y, min(size, self.width - x), min(size, self.height - y)))
        return out

    def all_windows(self) -> np.ndarray:
        """Every scale over the whole frame: must equal detectMultiScale(minNeighbors=0)."""
        whole = Box(0, 0, self.width, self.height)
        found = [w for i in range(len(self.scales)) for w in self.windows(i, whole, 0)]
        return np.asarray(found, np.int32).reshape(-1, 4)


def refine(pyramid: Pyramid, candidates: list[Box], params: TwoStageParams) -> list[Box]:
    """Stage two: the paper's windows around every candidate, grouped as the paper groups them.

    At each window size w within [min_ratio, max_ratio] x a candidate's side, windows are
    re-scanned whose centre lies within ``pad`` x side of the candidate's centre; overlapping
    areas of several candidates are merged and scanned once.
    """
    wanted: dict[int, list[Box]] = {}
    for cand in candidates:
        side = max(cand.width, cand.height)
        cx, cy = cand.x + cand.width / 2, cand.y + cand.height / 2
        reach = params.pad * side
        lo, hi = params.min_ratio * side, params.max_ratio * side
        for index, f in enumerate(pyramid.scales):
            window = WINDOW * float(f)
            if lo <= window <= hi:
                corner = Box(
                    int(cx - reach - window / 2), int(cy - reach - window / 2), int(2 * reach) + 1, int(2 * reach) + 1
                )
                wanted.setdefault(index, []).append(corner)
    found: set[tuple[int, int, int, int]] = set()
    for index, corners in wanted.items():
        for corner in merge_overlapping(corners):
            found.update(pyramid.windows(index, corner, params.sync))
    windows = np.asarray(sorted(found), np.int32).reshape(-1, 4)
    boxes = group(windows, params.final.min_neighbors)
    return image_boxes(boxes, 1.0, pyramid.width, pyramid.height, params.final.min_size)


def merge_overlapping(boxes: list[Box]) -> list[Box]:
    """Replace boxes that overlap by their bounding box until none overlap."""
    merged = list(boxes)
    changed = True
    while changed and len(merged) > 1:
        changed = False
        for i in range(len(merged)):
            for j in range(i + 1, len(merged)):
                a, b = merged[i], merged[j]
                if a.x < b.x + b.width and b.x < a.x + a.width and a.y < b.y + b.height and b.y < a.y + a.height:
                    x0, y0 = min(a.x, b.x), min(a.y, b.y)
                    x1, y1 = max(a.x + a.width, b.x + b.width), max(a.y + a.height, b.y + b.height)
                    merged[i] = Box(x0, y0, x1 - x0, y1 - y0)
                    del merged[j]
                    changed = True
                    break
            if changed:
                break
    return merged


def candidates(grey: np.ndarray, params: TwoStageParams) -> list[Box]:
    """Stage one: faces on the shrunk copy, in full-resolution pixels."""
    windows, scale = coarse_windows(grey, params)
    height, width = grey.shape[:2]
    return image_boxes(cluster(windows, params.coarse_min_neighbors), scale, width, height, 1)


def detect_two_stage(rgb: np.ndarray, params: TwoStageParams) -> list[Box]:
    """All faces, largest first, in original pixels (like ``face_pipeline.detect_faces``)."""
    grey = equalized_grey(rgb)
    return refine(Pyramid(grey, params.final), candidates(grey, params), params)
