"""Every number that decides what a face crop looks like, in one place.

Training writes these into the exported ONNX model's metadata and serving reads them back
from there, so the two can never disagree (see ``face_pipeline.metadata``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

# Fixed class order: index i of every model output is EMOTIONS[i].
EMOTIONS: tuple[str, ...] = ("Angry", "Disgust", "Fear", "Happy", "Neutral", "Sad", "Surprise")


@dataclass(frozen=True)
class DetectorParams:
    """Viola-Jones settings (paper, section 2) plus how far an image is shrunk first.

    ``max_side`` caps the longer image side the cascade sees; boxes are mapped back to the
    original pixels. 1280 leaves a 720x576 SFEW frame untouched (paper-faithful) and only
    protects against huge uploads; a smaller value trades recall on tiny faces for speed.
    ``min_size`` is in original-image pixels.
    """

    cascade: str = "haarcascade_frontalface_default.xml"
    scale_factor: float = 1.1
    min_neighbors: int = 5
    min_size: int = 30
    max_side: int = 1280

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DetectorParams:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PAPER_DETECTOR = DetectorParams()
# Serving preset: detection on a copy whose longer side is 360 px (a 720x576 frame at half
# size), measured against PAPER_DETECTOR by `python -m training agreement`.
FAST_DETECTOR = DetectorParams(max_side=360)


@dataclass(frozen=True)
class PreprocessParams:
    """How a detected box becomes the network's input tensor."""

    classes: tuple[str, ...] = EMOTIONS
    input_size: int = 120
    margin_px: int = 20
    mean: tuple[float, float, float] = (0.5, 0.5, 0.5)
    std: tuple[float, float, float] = (0.25, 0.25, 0.25)
    detector: DetectorParams = field(default_factory=DetectorParams)

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
            mean=tuple(float(v) for v in data["mean"]),  # type: ignore[arg-type]
            std=tuple(float(v) for v in data["std"]),  # type: ignore[arg-type]
            detector=DetectorParams.from_dict(data["detector"]),
        )
