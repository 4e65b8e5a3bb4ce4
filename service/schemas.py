"""Response bodies, as pydantic models so they appear in the OpenAPI page at /docs.

The top-level ones are IODescriptors so BentoML uses them as they are and the OpenAPI page
keeps their names (otherwise it derives a "...IODescriptor" copy of each).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from bentoml import IODescriptor
from pydantic import BaseModel, Field

from face_pipeline.detect import Box

if TYPE_CHECKING:
    from service.model import EmotionModel
    from service.pipeline import Detected


class FaceBox(BaseModel):
    """Where the face is, in pixels of the uploaded image after EXIF rotation."""

    x: int
    y: int
    width: int
    height: int


class Emotion(BaseModel):
    emotion: str = Field(description="The most likely class")
    confidence: float = Field(description="Its probability")
    probabilities: dict[str, float] = Field(description="Every class's probability, in the model's class order")


class Face(Emotion):
    box: FaceBox


class ModelRef(BaseModel):
    name: str
    version: str


class ImageResult(BaseModel):
    width: int
    height: int
    faces: list[Face] = Field(description="Every face found, largest first; empty when there is none")


class PredictResponse(ImageResult, IODescriptor):
    model: ModelRef


class ErrorDetail(BaseModel):
    status: int = Field(description="The HTTP status this error would have had on its own")
    error: str


class BatchItem(BaseModel):
    index: int
    result: ImageResult | None = None
    error: ErrorDetail | None = None


class BatchResponse(IODescriptor):
    results: list[BatchItem] = Field(description="One entry per uploaded image, in upload order")
    model: ModelRef


class FaceItem(BaseModel):
    index: int
    box: FaceBox | None = Field(
        default=None, description="The face the crop was framed around; null: the whole crop was classified"
    )
    result: Emotion | None = None
    error: ErrorDetail | None = None


class ClassifyFacesResponse(IODescriptor):
    results: list[FaceItem]
    model: ModelRef


class ModelInfo(IODescriptor):
    name: str
    version: str
    classes: list[str]
    input_size: int
    preprocess: dict[str, Any] = Field(
        description="face_pipeline.PreprocessParams as served (EMOTION_DETECTOR applied)"
    )
    providers: list[str] = Field(description="ONNX Runtime execution providers actually active, best first")
    provenance: dict[str, Any] = Field(default_factory=dict)
    metrics: dict[str, Any] = Field(default_factory=dict)

    @property
    def ref(self) -> ModelRef:
        return ModelRef(name=self.name, version=self.version)


def emotion(probabilities: np.ndarray, classes: list[str]) -> Emotion:
    best = int(np.argmax(probabilities))
    return Emotion(
        emotion=classes[best],
        confidence=float(probabilities[best]),
        probabilities={name: float(p) for name, p in zip(classes, probabilities, strict=True)},
    )


def faces(boxes: list[Box], probabilities: np.ndarray, classes: list[str]) -> list[Face]:
    return [
        Face(box=FaceBox(**box._asdict()), **emotion(p, classes).model_dump())
        for box, p in zip(boxes, probabilities, strict=True)
    ]


def image_result(found: Detected, probabilities: np.ndarray, classes: list[str]) -> ImageResult:
    return ImageResult(width=found.width, height=found.height, faces=faces(found.boxes, probabilities, classes))


def model_info(model: EmotionModel) -> ModelInfo:
    p = model.params
    return ModelInfo(
        name=model.name,
        version=model.version,
        classes=list(p.classes),
        input_size=p.input_size,
        preprocess=p.to_dict(),
        providers=model.providers,
        provenance=model.provenance,
        metrics=model.metrics,
    )
