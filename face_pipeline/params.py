"""Every number that decides what a face crop looks like, in one place.

Training writes these into the exported ONNX model's metadata and serving reads them back
from there, so the two can never disagree (see ``face_pipeline.metadata``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

# Fixed class order: index i of every model output is EMOTIONS[i].
EMOTIONS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


VIOLA_JONES = "viola-jones"
YUNET = "yunet"


@dataclass(frozen=True)
class DetectorParams:
    """Which face detector runs, and with what settings.

    ``kind`` ``viola-jones``: OpenCV's Haar cascade with the paper's settings (section 2).
    ``kind`` ``yunet``: the YuNet CNN (``face_pipeline/yunet/``), whose boxes are then mapped to
    the box Viola-Jones draws around the same face (``box_scale``, ``box_dx``, ``box_dy``: a square
    of side ``box_scale * sqrt(w * h)`` centred ``box_dx * w`` right and ``box_dy * h`` below
    YuNet's centre, fitted on SFEW by ``python -m training box-map``), so a face becomes the same
    kind of crop whichever detector found it.

    ``max_side`` caps the longer image side the detector sees, and ``min_side`` (0: off) enlarges
    a smaller image to it first, since YuNet misses faces that fill a small image; boxes are mapped
    back to the original pixels. For Viola-Jones 1280 leaves a 720x576 SFEW frame untouched (paper-faithful)
    and only protects against huge uploads. ``min_size`` is in original-image pixels and applies
    to the (mapped) box.

    ``min_face_px`` (0: off) keeps a large photo from being shrunk so far that a face of ``min_size``
    original pixels falls under that many pixels: such a photo is seen at the side that keeps it there,
    past ``max_side`` but never past ``largest_side``, and at ``max_side`` too, for the close-ups YuNet misses
    when a face fills what it sees (the two passes' faces merged). A group photo's small faces are then found
    as a SFEW frame's are, while an image up to 720 px is seen once, as before (``face_pipeline.yunet``).
    """

    kind: str = VIOLA_JONES
    cascade: str = "haarcascade_frontalface_default.xml"
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 30
    max_side: int = 1280
    min_side: int = 0
    score_threshold: float = 0.6
    box_scale: float = 1.0
    box_dx: float = 0.0
    box_dy: float = 0.0
    min_face_px: float = 0.0
    largest_side: int = 1280

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PAPER_DETECTOR = DetectorParams()
# Viola-Jones speed preset: a 720x576 frame detected at 320x256, scale factor 1.2, 2 neighbours:
# 5.9x less detection CPU than PAPER_DETECTOR (24.6 vs 144 ms/frame on one core), the same largest
# face on 78.6% of the 556 SFEW frames with a paper face (docs/performance.md, detector study).
FAST_DETECTOR = DetectorParams(max_side=320, scale_factor=1.2, min_neighbors=2)
# YuNet at 320 px on the longer side (7.6 ms per SFEW frame on one core; 480 and 640 px find one
# more face of 484 at 2x and 3.4x the cost). The box mapping is fitted on SFEW by
# `python -m training box-map` (reports/detectors/box_map.json). Images under 160 px are enlarged to
# it: YuNet finds the face in 76% of FER-2013's held-out 48 px faces as they are, 96% at 160 px
# (`python -m training end-to-end`, reports/detectors/end_to_end.md); 224 px found 0.7 points more in
# a one-off check, for 40% more time on them. A face of min_size (30 px) in a 720-px SFEW frame seen at
# 320 px is 13.3 px: larger photos are not shrunk further than that, up to 1280 px, so a group photo's
# small faces are found too (faces found in mosaics of SFEW frames: `python -m benchmarks.group_photos`).
YUNET_DETECTOR = DetectorParams(
    kind=YUNET,
    max_side=320,
    min_side=160,
    box_scale=1.01,
    box_dx=-0.0004,
    box_dy=-0.0281,
    min_face_px=320 * 30 / 720,
    largest_side=1280,
)


@dataclass(frozen=True)
class PreprocessParams:
    """How a detected box becomes the network's input tensor."""

    classes: tuple[str, ...] = EMOTIONS
    input_size: int = 120
    margin_px: int = 20
    # 0: the paper's fixed margin. Otherwise the margin is at most this fraction of the box's side, so a
    # small face is not cut out with as much background as face (20 px around a 40-px face).
    margin_cap: float = 0.0
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    detector: DetectorParams = field(default_factory=DetectorParams)
    # Luma replicated to three channels before normalising: colour and greyscale photos (and the
    # greyscale FER-2013 faces a model was trained on) then look alike to the network.
    grayscale: bool = False

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["classes"] = list(self.classes)
        out["mean"] = list(self.mean)
        out["std"] = list(self.std)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PreprocessParams:
        return cls(
            classes=tuple(data["classes"]),
            input_size=int(data["input_size"]),
            margin_px=int(data["margin_px"]),
            margin_cap=float(data.get("margin_cap", 0.0)),  # absent in models exported before it existed
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            detector=DetectorParams.from_dict(data["detector"]),
            grayscale=bool(data.get("grayscale", False)),  # absent in models exported before it existed
        )


# The detectors a client or an operator may choose by name; "model" keeps the model's own.
DETECTOR_PRESETS: dict[str, DetectorParams] = {
    VIOLA_JONES: PAPER_DETECTOR,
    YUNET: YUNET_DETECTOR,
    "fast": FAST_DETECTOR,
}
MODEL_DETECTOR = "model"


def with_detector(params: PreprocessParams, name: str | None) -> PreprocessParams:
    """``params`` detecting with the named preset; None or "model" keeps the model's own detector.

    Only detection changes: margin, crop size and normalisation always stay the model's, and every
    detector's boxes are framed alike (DetectorParams), so the crops stay what the model was trained on.
    """
    if name is None or name == MODEL_DETECTOR:
        return params
    if name not in DETECTOR_PRESETS:
        raise ValueError(f"unknown detector {name!r}: use {', '.join([MODEL_DETECTOR, *DETECTOR_PRESETS])}")
    return replace(params, detector=DETECTOR_PRESETS[name])
