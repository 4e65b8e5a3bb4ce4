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
# Speed preset: a 720x576 frame detected at 320x256, scale factor 1.2, 2 neighbours. Measured
# against PAPER_DETECTOR on the 675 SFEW frames (`python -m benchmarks.detector_agreement`,
# benchmarks/results/detector_agreement.md): 5.9x less detection CPU (24.6 vs 144 ms/frame on
# one core), the same largest face on 78.6% of the 556 frames with a paper face (360 px with the
# paper's other settings: 83.1% at 2.8x). No single-pass setting reaches 97% (best 86.2%, below
# the 88.8% the paper detector itself keeps when the frame shifts by one pixel); only the exact
# two-stage detector in benchmarks/two_stage.py does (97.8% at 1.7x), which DetectorParams
# cannot express yet. The lead decides what the served model's metadata carries.
FAST_DETECTOR = DetectorParams(max_side=320, scale_factor=1.2, min_neighbors=2)


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
