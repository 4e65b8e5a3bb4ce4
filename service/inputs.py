"""Request parsing and every way an upload can be wrong -> a 4xx a person can read.

The request forms are parsed here rather than by BentoML's generic multipart reader, which
answers a misnamed file field with a 500 and fetches any URL sent as text in a file field.
Image bytes are never trusted: the format is sniffed from the bytes (the client's
Content-Type is ignored), sizes are checked before decoding, and each failure is an
``ImageError`` whose ``status`` is the HTTP code.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import bentoml
from pydantic import Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.responses import JSONResponse

from face_pipeline.image_io import ImageError
from service.config import SETTINGS
from service.schemas import ErrorDetail

if TYPE_CHECKING:
    from starlette.requests import Request

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")

MaxFaces = Annotated[
    int,
    Field(
        ge=1,
        le=100,
        description="Report at most this many faces (the largest). 1 or 2 also detects faster, with the same boxes",
    ),
]
MinFaceSize = Annotated[
    Annotated[int, Field(ge=1, le=100_000)] | None,
    Field(description="Ignore faces smaller than this many pixels (original image); default: the model's"),
]
WholeImageFallback = Annotated[
    bool, Field(description="When no face is found, classify the whole image as one face instead of returning none")
]
Detector = Annotated[
    Literal["viola-jones", "yunet"] | None,
    Field(
        description="Face detector for this request: 'yunet' (CNN, fast) or 'viola-jones' (the paper's); "
        "default: the deployment's (EMOTION_DETECTOR)"
    ),
]
Images = Annotated[
    list[Path],
    Field(min_length=1, max_length=SETTINGS.max_batch_images, description="Repeat the field once per image"),
]


def request_error(field: str | None, message: str) -> ValidationError:
    """A 400 with BentoML's usual validation-error body, pointing at ``field``."""
    detail = InitErrorDetails(
        type=PydanticCustomError("bad_request", message), loc=(field,) if field else (), input=None
    )
    return ValidationError.from_exception_data("request", [detail])


class FormInput(bentoml.IODescriptor):
    """A multipart form whose file fields must be uploads and whose other fields must be text."""

    @classmethod
    async def from_http_request(cls, request: Request, serde: Any) -> bentoml.IODescriptor:
        files = [f for f in cls.model_fields if f in cls.multipart_fields]
        example = " ".join(f"-F {f}=@photo.jpg" for f in files)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type not in FORM_TYPES:
            raise request_error(None, f"send multipart/form-data with the image in '{files[0]}' (curl {example})")
        try:
            form = await request.form(max_files=SETTINGS.max_batch_images, max_fields=len(cls.model_fields) + 8)
        except (HTTPException, MultiPartException) as exc:
            raise request_error(None, f"the form could not be read: {getattr(exc, 'detail', None) or exc}") from None
        data: dict[str, Any] = {}
        for key in dict.fromkeys(form.keys()):
            values = form.getlist(key)
            if key not in cls.model_fields:
                raise request_error(key, f"unknown field '{key}'; this endpoint takes {', '.join(cls.model_fields)}")
            if key in files:
                if not all(isinstance(v, UploadFile) for v in values):
                    raise request_error(key, f"'{key}' must be a file upload (curl {example}), not text")
                data[key] = values if _is_list(cls, key) else values[0]
                if len(values) > 1 and not _is_list(cls, key):
                    raise request_error(key, f"send one file in '{key}'; /predict_batch takes several")
            else:
                if len(values) > 1 or isinstance(values[0], UploadFile):
                    raise request_error(key, f"'{key}' must be a single text value")
                data[key] = _form_value(values[0])
        for key in files:
            if key not in data and cls.model_fields[key].is_required():
                raise request_error(key, f"no '{key}' field: send the image as a multipart file (curl {example})")
        return cls.model_validate(data)


def _is_list(cls: type[FormInput], key: str) -> bool:
    return getattr(cls.model_fields[key].annotation, "__origin__", None) is list


def _form_value(text: str) -> Any:
    # As BentoML's own client sends them: JSON-encoded (20, true, null), or a bare string.
    try:
        return json.loads(text)
    except ValueError:
        return text


class PredictInput(FormInput):
    image: Path
    max_faces: MaxFaces = 20
    min_face_size: MinFaceSize = None
    whole_image_fallback: WholeImageFallback = False
    detector: Detector = None


class AnnotateInput(PredictInput):
    format: Literal["jpeg", "png"] = "jpeg"


class BatchInput(FormInput):
    images: Images
    max_faces: MaxFaces = 20
    min_face_size: MinFaceSize = None
    whole_image_fallback: WholeImageFallback = False
    detector: Detector = None


FindFace = Annotated[
    bool,
    Field(
        description="Frame each crop around the largest face found in it, as /predict frames faces (the whole "
        "crop when none is found); false: classify each whole crop as it is"
    ),
]


class FacesInput(FormInput):
    images: Images
    find_face: FindFace = True
    detector: Detector = None


def error_detail(exc: ImageError) -> ErrorDetail:
    return ErrorDetail(status=exc.status, error=str(exc))


def error_response(exc: ImageError) -> JSONResponse:
    # Returned rather than raised: BentoML 1.4 wraps a raised 4xx's body in a list
    # (bentoml/BentoML#4232), and clients should get the same {"error": ...} shape everywhere.
    return JSONResponse({"error": str(exc)}, status_code=exc.status)
