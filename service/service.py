"""Facial emotion recognition over HTTP: `bentoml serve service.service:EmotionService`.

EmotionService (the API) decodes uploads and finds the faces (YuNet or Viola-Jones) in threads; the face crops go
to EmotionClassifier, which batches them across requests (adaptive batching) into one ONNX
Runtime session, on the GPU when there is one. Every setting is an EMOTION_* environment
variable (service/config.py, service/README.md).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import aiohttp
import anyio
import bentoml
import numpy as np
from bentoml.exceptions import ServiceUnavailable
from bentoml.validators import ContentType
from starlette.responses import JSONResponse, Response

from face_pipeline.image_io import ImageError
from face_pipeline.params import PreprocessParams, with_detector
from service import logs, pipeline, schemas
from service.config import SETTINGS
from service.draw import annotate, encode
from service.inputs import (
    AnnotateInput,
    BatchInput,
    FacesInput,
    PredictInput,
    error_detail,
    error_response,
)
from service.limits import UploadLimitMiddleware
from service.model import EmotionModel, ModelLoadError, cuda_available, load_model
from service.page import PageMiddleware
from service.routes import model_app
from service.schemas import BatchResponse, ClassifyFacesResponse, ModelInfo, PredictResponse
from service.shedding import ShedLoadMiddleware

logger = logging.getLogger("bentoml.emotion")
logs.install()
T = TypeVar("T")
GPU = SETTINGS.device != "cpu" and cuda_available()
CLASSIFIER_MAX_CONCURRENCY = 256
# One classifier call normally takes well under a second (EMOTION_MAX_LATENCY_MS of batching
# included); a third of the request's timeout leaves room for one retry and the answer.
CLASSIFY_ATTEMPT_S = SETTINGS.timeout_s / 3


def _image_file() -> Annotated[Path, ContentType("image/*")]: ...  # only its annotation is used, for OpenAPI


def load_served_model() -> tuple[EmotionModel | None, str]:
    """The model per EMOTION_*, or None and why. A bad model never crashes the process: it stays
    alive but never ready, and the cause shows in the log and /readyz, not as a crash loop."""
    try:
        m = load_model(SETTINGS.model_path, SETTINGS.device, SETTINGS.ort_threads)
    except ModelLoadError as exc:
        logger.error("MODEL NOT LOADED, the service will not become ready: %s", exc)
        return None, str(exc)
    logger.info("Loaded %s %s from %s, providers %s, warm-up inference done", m.name, m.version, m.path, m.providers)
    return m, ""


@bentoml.service(
    resources={"gpu": 1} if GPU else {"cpu": "1"},
    # Internal calls only: the API's ShedLoadMiddleware bounds what reaches it.
    traffic={"timeout": SETTINGS.timeout_s, "max_concurrency": CLASSIFIER_MAX_CONCURRENCY},
)
class EmotionClassifier:
    """Owns the ONNX Runtime session: the only place the model runs."""

    def __init__(self) -> None:
        self.model, self.error = load_served_model()

    def __is_ready__(self) -> bool:
        return self.model is not None

    # EMOTION_MAX_BATCH_SIZE=1 turns adaptive batching off (BentoML requires a batch size > 1).
    @bentoml.api(
        batchable=SETTINGS.max_batch_size > 1,
        max_batch_size=max(2, SETTINGS.max_batch_size),
        max_latency_ms=SETTINGS.max_latency_ms,
    )
    def classify(self, crops: np.ndarray) -> np.ndarray:
        """uint8 (N,S,S,3) face crops -> float32 (N,classes) probabilities."""
        return self._loaded().predict_crops(crops)

    @bentoml.api
    def info(self) -> ModelInfo:
        return schemas.model_info(self._loaded())

    def _loaded(self) -> EmotionModel:
        if self.model is None:
            raise ServiceUnavailable(self.error)
        return self.model


@bentoml.asgi_app(model_app)
@bentoml.service(
    workers=SETTINGS.api_workers,
    traffic={"timeout": SETTINGS.timeout_s},  # the concurrency limit: ShedLoadMiddleware
)
class EmotionService:
    """The public API and face detection; classification is delegated to EmotionClassifier."""

    # On CPU (the default there, EMOTION_CLASSIFY_IN_API) no classifier process: each API worker runs
    # the model itself, which saves the hop; on a GPU the classifier process batches across requests.
    if not SETTINGS.classify_in_api:
        classifier = bentoml.depends(EmotionClassifier)

    def __init__(self) -> None:
        self.limits = pipeline.Limits(SETTINGS.max_upload_bytes, SETTINGS.max_pixels)
        self.threads = anyio.CapacityLimiter(SETTINGS.detect_threads)
        SETTINGS.apply_opencv_threads()
        self.served: tuple[ModelInfo, PreprocessParams] | None = None
        self.model: EmotionModel | None = None
        if SETTINGS.classify_in_api:
            self.model, _ = load_served_model()

    async def __is_ready__(self) -> bool:
        try:
            await self.served_info()
        except Exception:
            return False
        return True

    @bentoml.api(route="/model")
    async def model_info(self) -> ModelInfo:
        """Classes, input size, preprocessing, model version, active execution provider (also GET /model)."""
        return await self.served_info()

    @bentoml.api(input_spec=PredictInput, output_spec=PredictResponse)
    async def predict(
        self, image: Path, max_faces: int, min_face_size: int | None, whole_image_fallback: bool, detector: str | None
    ) -> PredictResponse | JSONResponse:
        """Every face in one image, largest first, with its emotion."""
        try:
            info, _, result = await self._analyse(
                image, pipeline.Options(max_faces, min_face_size, whole_image_fallback, detector)
            )
        except ImageError as exc:
            return error_response(exc)
        return PredictResponse(**dict(result), model=info.ref)

    @bentoml.api(input_spec=BatchInput, output_spec=BatchResponse)
    async def predict_batch(
        self,
        images: list[Path],
        max_faces: int,
        min_face_size: int | None,
        whole_image_fallback: bool,
        detector: str | None,
    ) -> BatchResponse:
        """/predict for several images at once; a bad image gets an error in its own slot."""
        info, params = await self._served()
        options = pipeline.Options(max_faces, min_face_size, whole_image_fallback, detector)
        found = await asyncio.gather(*(self._try(pipeline.detect, p, params, options, self.limits) for p in images))
        ok = [f for f in found if not isinstance(f, ImageError)]
        # One round trip to the classifier for all the faces of all the images.
        probabilities = iter(
            np.split(await self._classify([f.crops for f in ok]), np.cumsum([len(f.boxes) for f in ok]))
        )
        results = [
            schemas.BatchItem(index=i, error=error_detail(f))
            if isinstance(f, ImageError)
            else schemas.BatchItem(index=i, result=schemas.image_result(f, next(probabilities), info.classes))
            for i, f in enumerate(found)
        ]
        return BatchResponse(results=results, model=info.ref)

    @bentoml.api(input_spec=FacesInput, output_spec=ClassifyFacesResponse)
    async def classify_faces(self, images: list[Path], find_face: bool, detector: str | None) -> ClassifyFacesResponse:
        """Images that are already face crops, one face each: framed around the face found in each."""
        info, params = await self._served()
        framed = await asyncio.gather(
            *(self._try(pipeline.face_crop, p, params, self.limits, find_face, detector) for p in images)
        )
        probabilities = iter(await self._classify([f[1][None] for f in framed if not isinstance(f, ImageError)]))
        results = [
            schemas.FaceItem(index=i, error=error_detail(f))
            if isinstance(f, ImageError)
            else schemas.FaceItem(
                index=i,
                box=None if f[0] is None else schemas.FaceBox(**f[0]._asdict()),
                result=schemas.emotion(next(probabilities), info.classes),
            )
            for i, f in enumerate(framed)
        ]
        return ClassifyFacesResponse(results=results, model=info.ref)

    @bentoml.api(input_spec=AnnotateInput, output_spec=bentoml.IODescriptor.from_output(_image_file))
    async def annotate(
        self,
        image: Path,
        max_faces: int,
        min_face_size: int | None,
        whole_image_fallback: bool,
        detector: str | None,
        format: str,
    ) -> Response:
        """The image with every face boxed and labelled 'Emotion confidence', as JPEG or PNG."""
        try:
            info, found, result = await self._analyse(
                image, pipeline.Options(max_faces, min_face_size, whole_image_fallback, detector)
            )
        except ImageError as exc:
            return error_response(exc)
        data = await self._thread(lambda: encode(annotate(found.rgb, result.faces, info.classes), format))
        return Response(content=data, media_type=f"image/{format}")

    async def _analyse(
        self, image: Path, options: pipeline.Options
    ) -> tuple[ModelInfo, pipeline.Detected, schemas.ImageResult]:
        """Decode, detect and classify one upload; raises ImageError for a bad one."""
        info, params = await self._served()
        found = await self._thread(pipeline.detect, image, params, options, self.limits)
        return info, found, schemas.image_result(found, await self._classify([found.crops]), info.classes)

    async def served_info(self) -> ModelInfo:
        return (await self._served())[0]

    async def _served(self) -> tuple[ModelInfo, PreprocessParams]:
        """The model's info and parameters, asked of the classifier once it has a model."""
        if self.served is None:
            try:
                if not SETTINGS.classify_in_api:
                    info = await self.classifier.to_async.info()
                elif self.model is not None:
                    info = schemas.model_info(self.model)
                else:
                    raise ModelLoadError("no model in this API worker")
            except Exception as exc:
                # The cause (a path, a parse error) goes to the log, not to clients.
                raise ServiceUnavailable("the model is not loaded; the server log says why") from exc
            params = with_detector(PreprocessParams.from_dict(info.preprocess), SETTINGS.detector)
            self.served = (ModelInfo(**{**info.model_dump(), "preprocess": params.to_dict()}), params)
            logger.info("Serving %s %s with %s", info.name, info.version, params)
        return self.served

    async def _classify(self, crops: list[np.ndarray]) -> np.ndarray:
        """Probabilities for all the faces in ``crops``, in order, in one classifier call."""
        faces = [c for c in crops if len(c)]
        if not faces:  # no face, no round trip
            return np.empty((0, len((await self.served_info()).classes)), np.float32)
        batch = np.concatenate(faces)
        if self.model is not None:  # EMOTION_CLASSIFY_IN_API=1
            return await self._thread(self.model.predict_crops, batch)
        # BentoML can reuse a pooled connection the classifier has just closed (bentoml/BentoML#4971):
        # ~0.1% of calls under load. A call can also hang (two in a 10-minute soak, cause not
        # established). Classifying is idempotent, so either gets one more try on a fresh connection.
        try:
            return await self._classify_remote(batch)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            logger.warning("classifier call failed (%s); retrying once", type(exc).__name__)
        try:
            return await self._classify_remote(batch)
        except (aiohttp.ClientConnectionError, TimeoutError) as exc:
            raise ServiceUnavailable("the classifier did not answer, twice; retry shortly") from exc

    async def _classify_remote(self, batch: np.ndarray) -> np.ndarray:
        try:
            return await asyncio.wait_for(self.classifier.to_async.classify(batch), CLASSIFY_ATTEMPT_S)
        except ServiceUnavailable as exc:
            # The classifier cancels what it cannot batch within its latency budget.
            raise ServiceUnavailable(
                f"the classifier is overloaded: these faces could not be classified within "
                f"EMOTION_MAX_LATENCY_MS={SETTINGS.max_latency_ms} ms; retry shortly"
            ) from exc

    async def _thread(self, func: Callable[..., T], *args: object) -> T:
        return await anyio.to_thread.run_sync(func, *args, limiter=self.threads)

    async def _try(self, func: Callable[..., T], *args: object) -> T | ImageError:
        try:
            return await self._thread(func, *args)
        except ImageError as exc:
            return exc


# Outermost first: refuse when busy before reading any of the body.
EmotionService.add_asgi_middleware(
    ShedLoadMiddleware, max_in_flight=math.ceil(SETTINGS.max_concurrency / SETTINGS.api_workers)
)
EmotionService.add_asgi_middleware(UploadLimitMiddleware, max_bytes=SETTINGS.max_upload_bytes)
EmotionService.add_asgi_middleware(PageMiddleware)
