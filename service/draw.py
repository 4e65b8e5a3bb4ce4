"""Boxes and labels drawn onto the image for /annotate."""

from __future__ import annotations

import cv2
import numpy as np

from service.schemas import Face

# One colour per class, in EMOTIONS order (Angry, Disgust, Fear, Happy, Neutral, Sad, Surprise), RGB.
PALETTE = [(230, 25, 75), (60, 180, 75), (145, 30, 180), (255, 225, 25), (200, 200, 200), (0, 130, 200), (245, 130, 48)]


def annotate(rgb: np.ndarray, faces: list[Face], classes: list[str]) -> np.ndarray:
    """A copy of the image with each face boxed and labelled 'Emotion 0.87'."""
    out = rgb.copy()
    # Line and text scale with the image so labels stay legible on both thumbnails and photos.
    thickness = max(1, round(max(out.shape[:2]) / 400))
    scale = max(0.4, max(out.shape[:2]) / 1000)
    for face in faces:
        colour = PALETTE[classes.index(face.emotion) % len(PALETTE)] if face.emotion in classes else PALETTE[4]
        b = face.box
        cv2.rectangle(out, (b.x, b.y), (b.x + b.width - 1, b.y + b.height - 1), colour, thickness)
        label = f"{face.emotion} {face.confidence:.2f}"
        (tw, th), base = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        # Above the box when there is room, otherwise inside its top edge.
        top = b.y - th - base - 2 if b.y - th - base - 2 >= 0 else b.y
        cv2.rectangle(out, (b.x, top), (b.x + tw + 2, top + th + base + 2), colour, cv2.FILLED)
        cv2.putText(out, label, (b.x + 1, top + th + 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness)
    return out


def encode(rgb: np.ndarray, image_format: str) -> bytes:
    """JPEG (quality 90) or PNG bytes."""
    bgr = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    if image_format == "png":
        ok, data = cv2.imencode(".png", bgr)
    else:
        ok, data = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 90])
    if not ok:
        raise RuntimeError(f"OpenCV could not encode a {rgb.shape} image as {image_format}")
    return data.tobytes()
