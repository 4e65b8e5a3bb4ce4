"""Box -> crop -> normalised tensor: the one path every face takes, in training and serving."""

from __future__ import annotations

import cv2
import numpy as np

from face_pipeline.detect import Box, detect_faces
from face_pipeline.params import YUNET, PreprocessParams
from face_pipeline.yunet import likeliest_face

# A crop the caller says holds one face: when YuNet finds none at its usual threshold, its best
# candidate down to this score is still the likeliest place of that face. On FER-2013's held-out faces
# padded to twice their size, faces found 2,220 -> 2,515 of 2,646 and right 62.0% -> 63.8% with v3.3 (0.05: 64.1%,
# but there the fixtures' background already scores 0.05-0.09); as they are, unchanged (67.5%).
ONE_FACE_SCORE = 0.1


def grow_box(box: Box, margin_px: int, image_width: int, image_height: int) -> Box:
    """The paper's margin: ``margin_px`` more on every side, clamped to the image."""
    x0 = max(0, box.x - margin_px)
    y0 = max(0, box.y - margin_px)
    x1 = min(image_width, box.x + box.width + margin_px)
    y1 = min(image_height, box.y + box.height + margin_px)
    return Box(x0, y0, x1 - x0, y1 - y0)


def resize_face(rgb: np.ndarray, size: int) -> np.ndarray:
    """Any RGB face image to size x size uint8 (area filter to shrink, bilinear to enlarge)."""
    height, width = rgb.shape[:2]
    if (height, width) == (size, size):
        return np.ascontiguousarray(rgb)
    shrinking = height >= size and width >= size
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(rgb, (size, size), interpolation=interpolation)


def margin_for(box: Box, params: PreprocessParams) -> int:
    """The margin grown around ``box``: the paper's ``margin_px``, capped by ``margin_cap`` of the box's side."""
    if params.margin_cap <= 0:
        return params.margin_px
    return min(params.margin_px, round(params.margin_cap * min(box.width, box.height)))


def crop_face(rgb: np.ndarray, box: Box, params: PreprocessParams) -> np.ndarray:
    """The grown box cut out of the image and resized: input_size x input_size x 3 uint8."""
    height, width = rgb.shape[:2]
    grown = grow_box(box, margin_for(box, params), width, height)
    patch = rgb[grown.y : grown.y + grown.height, grown.x : grown.x + grown.width]
    return resize_face(patch, params.input_size)


# ITU-R BT.601 luma, the weights of OpenCV's and Pillow's RGB -> grey conversion.
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def normalize(crops: np.ndarray, params: PreprocessParams) -> np.ndarray:
    """uint8 crops (N,H,W,3) or (H,W,3) -> float32 (N,3,H,W) or (3,H,W), per-channel standardised.

    With ``params.grayscale`` every channel first becomes the pixel's luma.
    """
    mean = np.asarray(params.mean, dtype=np.float32) * 255.0
    inv_std = 1.0 / (np.asarray(params.std, dtype=np.float32) * 255.0)
    pixels = crops.astype(np.float32)
    if params.grayscale:
        pixels = np.repeat(pixels @ LUMA[:, None], 3, axis=-1)
    out = (pixels - mean) * inv_std
    return np.ascontiguousarray(np.moveaxis(out, -1, -3))


def face_crops(
    rgb: np.ndarray,
    params: PreprocessParams,
    max_faces: int | None = None,
    min_size: int | None = None,
    whole_image_fallback: bool = False,
) -> tuple[list[Box], np.ndarray]:
    """Detect and crop every face in an image, largest first: boxes and uint8 (N,S,S,3) crops.

    With no face found, ``whole_image_fallback`` treats the whole image as one face (the
    margin then clamps away); otherwise N is 0. Serving sends these uint8 crops to the
    classifier (a quarter of the bytes of float32) and normalises there.
    """
    boxes = detect_faces(rgb, params.detector, min_size=min_size, limit=max_faces)
    if not boxes and whole_image_fallback:
        height, width = rgb.shape[:2]
        boxes = [Box(0, 0, width, height)]
    size = params.input_size
    crops = [crop_face(rgb, box, params) for box in boxes]
    return boxes, np.stack(crops) if crops else np.empty((0, size, size, 3), np.uint8)


def framed_face(rgb: np.ndarray, params: PreprocessParams) -> tuple[Box | None, np.ndarray]:
    """An image that is already one face, as one uint8 (S,S,3) crop: framed around the largest face
    the detector finds in it, like every detected face (YuNet looking again down to ``ONE_FACE_SCORE``
    when it finds none), or the whole image when it still finds none.

    A loose crop (hair, shoulders, background) then reaches the network framed as in training; a tight
    one changes little (FER-2013's held-out faces as they are and padded to twice their size, framed
    and whole: reports/detectors/end_to_end.md).
    """
    boxes = detect_faces(rgb, params.detector, limit=1)
    detector = params.detector
    if not boxes and detector.kind == YUNET and detector.score_threshold > ONE_FACE_SCORE:
        likeliest = likeliest_face(rgb, detector, ONE_FACE_SCORE)
        boxes = [Box(*likeliest)] if likeliest else []
    if not boxes:
        return None, resize_face(rgb, params.input_size)
    return boxes[0], crop_face(rgb, boxes[0], params)


def face_tensors(
    rgb: np.ndarray,
    params: PreprocessParams,
    max_faces: int | None = None,
    min_size: int | None = None,
    whole_image_fallback: bool = False,
) -> tuple[list[Box], np.ndarray]:
    """``face_crops`` normalised: boxes and the float32 (N,3,S,S) network input."""
    boxes, crops = face_crops(rgb, params, max_faces, min_size, whole_image_fallback)
    return boxes, normalize(crops, params)
