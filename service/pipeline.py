"""The CPU side of a request: decode, detect and crop with the shared face pipeline.

These run in worker threads: Pillow's decoder and OpenCV's detectors release the GIL, so
several uploads are detected at once while the event loop keeps accepting requests.

Crops leave here as uint8 (N,S,S,3) and are normalised by the classifier
(``face_pipeline.normalize``): a quarter of the bytes of the float32 tensors, which is most of
what it costs to hand faces to the classifier process (service/README.md, "Crossing cost").
``face_crops`` is ``face_pipeline.face_crops`` with a request's options (its detector included).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from face_pipeline import preprocess
from face_pipeline.detect import Box
from face_pipeline.image_io import read_upload
from face_pipeline.params import PreprocessParams, with_detector
from face_pipeline.preprocess import resize_face


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pixels: int


@dataclass(frozen=True)
class Options:
    max_faces: int = 20
    min_face_size: int | None = None
    whole_image_fallback: bool = False
    detector: str | None = None  # a name of face_pipeline.params.DETECTOR_PRESETS; None: the deployment's


@dataclass(frozen=True)
class Detected:
    rgb: np.ndarray
    boxes: list[Box]
    crops: np.ndarray  # uint8 (N,S,S,3), what the classifier takes

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


def face_crops(rgb: np.ndarray, params: PreprocessParams, options: Options) -> tuple[list[Box], np.ndarray]:
    """Boxes (largest first) and uint8 (N,S,S,3) crops, with the request's options."""
    params = with_detector(params, options.detector)
    return preprocess.face_crops(rgb, params, options.max_faces, options.min_face_size, options.whole_image_fallback)


def detect(path: Path, params: PreprocessParams, options: Options, limits: Limits) -> Detected:
    rgb = read_upload(str(path), limits.max_bytes, limits.max_pixels)
    return Detected(rgb, *face_crops(rgb, params, options))


def face_crop(
    path: Path, params: PreprocessParams, limits: Limits, find_face: bool, detector: str | None
) -> tuple[Box | None, np.ndarray]:
    """An upload that is already a face, as one uint8 (S,S,3) crop: framed around the face found in it
    (``face_pipeline.framed_face``), or with ``find_face`` off the whole image resized, no margin."""
    rgb = read_upload(str(path), limits.max_bytes, limits.max_pixels)
    if not find_face:
        return None, resize_face(rgb, params.input_size)
    return preprocess.framed_face(rgb, with_detector(params, detector))
