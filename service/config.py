"""Every serving knob, read once from the environment, with its documented default.

The BentoML decorators need some of these (traffic, batching) when service.py is imported,
so they are plain module-level reads rather than something resolved per request.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2

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
    ort_threads: int  # intra-op threads per model call; 0: onnxruntime's own choice (all cores)
    opencv_threads: int  # threads per detection call; 0: OpenCV's own choice (all cores)
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
        cpus = available_cpus()
        detect_threads = _required_int("EMOTION_DETECT_THREADS", min(4, cpus), minimum=1)
        classify_in_api = _bool("EMOTION_CLASSIFY_IN_API", not serves_on_gpu(device))
        per_call = call_threads(cpus, detect_threads)
        return cls(
            model_path=model_path_from_env(),
            detector=detector,
            device=device,
            # The classifier process (EMOTION_CLASSIFY_IN_API=0) runs one batch at a time: all cores.
            ort_threads=_required_int("EMOTION_ORT_THREADS", per_call if classify_in_api else 0),
            opencv_threads=_required_int("EMOTION_OPENCV_THREADS", 0),
            detect_threads=detect_threads,
            max_batch_size=_required_int("EMOTION_MAX_BATCH_SIZE", 64, minimum=1),
            max_latency_ms=_required_int("EMOTION_MAX_LATENCY_MS", 1000, minimum=1),
            max_upload_bytes=_required_int("EMOTION_MAX_UPLOAD_BYTES", 20 * 1024 * 1024, minimum=1),
            max_pixels=_required_int("EMOTION_MAX_PIXELS", DEFAULT_MAX_PIXELS, minimum=1),
            max_batch_images=_required_int("EMOTION_MAX_BATCH_IMAGES", 16, minimum=1),
            api_workers=_required_int("EMOTION_API_WORKERS", 1, minimum=1),
            max_concurrency=_required_int("EMOTION_MAX_CONCURRENCY", 32, minimum=1),
            timeout_s=_required_int("EMOTION_TIMEOUT_S", 30, minimum=1),
            classify_in_api=classify_in_api,
        )

    def apply_opencv_threads(self) -> None:
        """Per process: each detection call's own parallelism, on top of ``detect_threads`` calls at once."""
        if self.opencv_threads:
            cv2.setNumThreads(self.opencv_threads)


def available_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The cores this process may use: its CPU affinity, capped by a cgroup CPU limit (a container's
    ``--cpus``, Kubernetes' ``limits.cpu``). ``os.cpu_count()`` sees neither: in a 2-CPU pod on a 64-core
    node it says 64, and sizing threads by it would throttle the pod."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    limit = cgroup_cpu_limit(cgroup)
    return cpus if limit is None else max(1, min(cpus, math.ceil(limit)))


def cgroup_cpu_limit(cgroup: Path) -> float | None:
    """Cores allowed by cgroup v2 (``cpu.max``: quota period) or v1 (``cpu.cfs_quota_us`` /
    ``cpu.cfs_period_us``); None without a limit or a readable cgroup."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return None
    try:
        return None if quota in ("max", "-1") else int(quota) / int(period)
    except (ValueError, ZeroDivisionError):
        return None


def call_threads(cpus: int, calls_at_once: int) -> int:
    """onnxruntime threads for one model call when ``calls_at_once`` calls run in parallel: the cores
    shared among them, instead of onnxruntime's default of every core the host has for every call. On
    2 cores the two measure the same (docs/performance.md, "Threads per call"); the share keeps many
    concurrent calls on a many-core host, or in a pod limited below its node, from oversubscribing the
    cores. OpenCV keeps its own default: Viola-Jones does gain from more threads."""
    return max(1, cpus // calls_at_once)


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
