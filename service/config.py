"""Every serving knob, read once from the environment, with its documented default.

The BentoML decorators need some of these (traffic, batching) when service.py is imported,
so they are plain module-level reads rather than something resolved per request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from face_pipeline.image_io import DEFAULT_MAX_PIXELS
from face_pipeline.metadata import SHIPPED_MODEL
from face_pipeline.params import DETECTOR_PRESETS, MODEL_DETECTOR

# service/ sits in the repo root, and in a built Bento in src/ next to models/, so the
# default model path works from a checkout, a Bento and a container alike.
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_PATH = ROOT / SHIPPED_MODEL


# "model": the detector the model's metadata names; or a preset of face_pipeline.params.DETECTOR_PRESETS.
DETECTORS = (MODEL_DETECTOR, *DETECTOR_PRESETS)


class ConfigError(ValueError):
    """An EMOTION_* environment variable has a value the service cannot use."""


def _int(name: str, default: int | None, minimum: int = 0) -> int | None:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} is below the minimum {minimum}")
    return value


def _required_int(name: str, default: int, minimum: int = 0) -> int:
    value = _int(name, default, minimum)
    assert value is not None
    return value


def _bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("0", "false", "no", "off"):
        return False
    raise ConfigError(f"{name}={raw!r}: use 1 or 0")


@dataclass(frozen=True)
class Settings:
    model_path: Path
    device: str  # auto | cpu | cuda
    ort_threads: int  # 0: onnxruntime's own choice
    opencv_threads: int  # threads per detection call; 0: OpenCV's own choice
    detector: str  # model | viola-jones | yunet | fast: which DetectorParams serve (face_pipeline.params)
    detect_threads: int
    max_batch_size: int
    max_latency_ms: int
    max_upload_bytes: int
    max_pixels: int
    max_batch_images: int
    api_workers: int
    max_concurrency: int
    timeout_s: int
    classify_in_api: bool  # no classifier process: each API worker runs the model (the default on CPU)

    @classmethod
    def from_env(cls) -> Settings:
        device = os.environ.get("EMOTION_DEVICE", "auto").strip().lower() or "auto"
        if device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"EMOTION_DEVICE={device!r}: use auto, cpu or cuda")
        detector = os.environ.get("EMOTION_DETECTOR", "model").strip().lower() or "model"
        if detector not in DETECTORS:
            raise ConfigError(f"EMOTION_DETECTOR={detector!r}: use {', '.join(DETECTORS)}")
        return cls(
            model_path=model_path_from_env(),
            detector=detector,
            device=device,
            ort_threads=_required_int("EMOTION_ORT_THREADS", 0),
            opencv_threads=_required_int("EMOTION_OPENCV_THREADS", 0),
            detect_threads=_required_int("EMOTION_DETECT_THREADS", min(4, os.cpu_count() or 1), minimum=1),
            max_batch_size=_required_int("EMOTION_MAX_BATCH_SIZE", 64, minimum=1),
            max_latency_ms=_required_int("EMOTION_MAX_LATENCY_MS", 1000, minimum=1),
            max_upload_bytes=_required_int("EMOTION_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1),
            max_pixels=_required_int("EMOTION_MAX_PIXELS", DEFAULT_MAX_PIXELS, minimum=1),
            max_batch_images=_required_int("EMOTION_MAX_BATCH_IMAGES", 16, minimum=1),
            api_workers=_required_int("EMOTION_API_WORKERS", 1, minimum=1),
            max_concurrency=_required_int("EMOTION_MAX_CONCURRENCY", 32, minimum=1),
            timeout_s=_required_int("EMOTION_TIMEOUT_S", 30, minimum=1),
            classify_in_api=_bool("EMOTION_CLASSIFY_IN_API", not serves_on_gpu(device)),
        )


def serves_on_gpu(device: str) -> bool:
    """Whether the model will run on a GPU, where the classifier process pays: it batches faces
    across requests. On CPU the hop to it costs more than batching saves (docs/performance.md), so
    there each API worker classifies its own faces unless EMOTION_CLASSIFY_IN_API=0."""
    if device != "auto":
        return device == "cuda"
    from service.model import cuda_available  # onnxruntime: imported only when it decides

    return cuda_available()


def model_path_from_env() -> Path:
    """EMOTION_MODEL_PATH (relative to the working directory) or SHIPPED_MODEL under ROOT."""
    raw = os.environ.get("EMOTION_MODEL_PATH", "").strip()
    return Path(raw).expanduser().resolve() if raw else DEFAULT_MODEL_PATH


SETTINGS = Settings.from_env()
