"""Face crops of the SFEW frames, built once and cached on disk.

For each frame the paper's pipeline runs once: decode, detect, take the largest box, crop
with the margin, resize. The cache file's name is a hash of the split manifest and every
pipeline parameter, so changing either builds a new one.
"""

from __future__ import annotations

import hashlib
import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from face_pipeline import (
    FAST_DETECTOR,
    Box,
    PreprocessParams,
    crop_face,
    detect_faces,
    iou,
    read_image_file,
)
from face_pipeline.detect import cascade
from training.sfew import MANIFEST_PATH, Sample, manifest_hash

CACHE_DIR = Path(".cache") / "crops"
NO_BOX = (-1, -1, -1, -1)


@dataclass
class CropSet:
    """Parallel arrays over the manifest's samples (crop is zeros where no face was found)."""

    samples: list[Sample]
    crops: np.ndarray  # (N, S, S, 3) uint8
    boxes: np.ndarray  # (N, 4) x, y, w, h of the largest box, NO_BOX if none
    n_boxes: np.ndarray  # (N,) number of boxes found
    eyes: np.ndarray  # (N,) eyes found inside the largest box (false-positive check)
    fast_iou: np.ndarray  # (N,) IoU of the largest box with FAST_DETECTOR's largest (-1 if none)

    @property
    def detected(self) -> np.ndarray:
        return self.n_boxes > 0


def _cache_key(params: PreprocessParams) -> str:
    key = {
        "manifest": manifest_hash(MANIFEST_PATH),
        "input_size": params.input_size,
        "margin": params.margin_px,
        "detector": params.detector.to_dict(),
        "fast": FAST_DETECTOR.to_dict(),
        "version": 1,
    }
    if params.margin_cap:  # only then, so that the caches made before it existed stay valid
        key["margin_cap"] = params.margin_cap
    blob = json.dumps(key, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def count_eyes(rgb: np.ndarray, box: Box) -> int:
    """Eyes the OpenCV eye cascade finds in the upper 60% of a face box.

    A real frontal face almost always shows at least one; a box on a shirt, hand or
    background texture rarely does. Used to flag doubtful detections for review.
    """
    top = rgb[box.y : box.y + int(box.height * 0.6), box.x : box.x + box.width]
    grey = cv2.equalizeHist(cv2.cvtColor(top, cv2.COLOR_RGB2GRAY))
    side = max(8, box.width // 10)
    return len(cascade("haarcascade_eye.xml").detectMultiScale(grey, 1.1, 3, minSize=(side, side)))


def _process(root: Path, sample: Sample, params: PreprocessParams) -> tuple:
    rgb = read_image_file(str(root / sample.relpath))
    boxes = detect_faces(rgb, params.detector)
    if not boxes:
        size = params.input_size
        return np.zeros((size, size, 3), np.uint8), NO_BOX, 0, 0, -1.0
    largest = boxes[0]
    fast = detect_faces(rgb, FAST_DETECTOR)
    agreement = iou(largest, fast[0]) if fast else 0.0
    return crop_face(rgb, largest, params), tuple(largest), len(boxes), count_eyes(rgb, largest), agreement


def build_crops(root: Path, samples: list[Sample], params: PreprocessParams, workers: int = 2) -> CropSet:
    """Load the cached crops for these parameters, or build them (with a progress bar)."""
    path = CACHE_DIR / f"sfew-{_cache_key(params)}.npz"
    if path.exists():
        data = np.load(path)
        return CropSet(samples, data["crops"], data["boxes"], data["n_boxes"], data["eyes"], data["fast_iou"])
    # OpenCV releases the GIL inside detectMultiScale, so threads use every core.
    with ThreadPoolExecutor(workers) as pool:
        results = list(
            tqdm(
                pool.map(lambda s: _process(root, s, params), samples),
                total=len(samples),
                desc="detect+crop",
                unit="img",
            )
        )
    crops, boxes, n_boxes, eyes, fast_iou = (np.array(col) for col in zip(*results, strict=False))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, crops=crops, boxes=boxes, n_boxes=n_boxes, eyes=eyes, fast_iou=fast_iou)
    return CropSet(samples, crops, boxes, n_boxes, eyes, fast_iou)
