"""Load the exported ONNX model, check it is one this service can serve, and run it.

Everything the pipeline needs (classes, input size, normalisation, detector settings) comes
from the model's own metadata, so a model is always served with the settings it was
trained with.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from face_pipeline.metadata import (
    METRICS_KEY,
    MODEL_NAME_KEY,
    MODEL_VERSION_KEY,
    PROVENANCE_KEY,
    ModelMetadataError,
    json_field,
    params_from_metadata,
)
from face_pipeline.params import PreprocessParams
from face_pipeline.preprocess import normalize

logger = logging.getLogger("bentoml.emotion")

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"
# cuDNN's default exhaustive search benchmarks every convolution again for each new input shape,
# which took over a second per new batch size on an H100 and timed requests out; the heuristic
# choice is within noise for this small network.
CUDA_OPTIONS = {"cudnn_conv_algo_search": "HEURISTIC"}
# On CUDA a batch is padded up to a power of two, so only these few shapes ever reach the GPU
# (each warmed up at start); CPU runs the exact batch, where padding would cost real work.
CUDA_WARM_BATCHES = (1, 2, 4, 8, 16, 32, 64, 128, 256)


class ModelLoadError(RuntimeError):
    """The model file is missing, unreadable, or not a face-emotion model."""


@dataclass
class EmotionModel:
    session: ort.InferenceSession
    params: PreprocessParams
    name: str
    version: str
    path: Path
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)

    @property
    def providers(self) -> list[str]:
        """The execution providers the session really uses, best first (not just those asked for)."""
        return list(self.session.get_providers())

    @cached_property
    def on_cuda(self) -> bool:
        """Whether the session really runs on CUDA: read once, not on every inference."""
        return self.providers[0] == CUDA

    def predict_crops(self, crops: np.ndarray) -> np.ndarray:
        """uint8 (N,S,S,3) face crops -> float32 (N,classes) probabilities, normalised as trained."""
        size = self.params.input_size
        if crops.dtype != np.uint8 or crops.shape[1:] != (size, size, 3):
            raise ValueError(f"expected uint8 crops of shape (N, {size}, {size}, 3), got {crops.dtype} {crops.shape}")
        return self.predict(normalize(crops, self.params))

    def predict(self, faces: np.ndarray) -> np.ndarray:
        """float32 (N,3,S,S) normalised faces -> float32 (N,classes) probabilities."""
        n = len(faces)
        if n == 0:
            return np.empty((0, len(self.params.classes)), np.float32)
        faces = np.ascontiguousarray(faces, dtype=np.float32)
        if self.on_cuda:
            padded = padded_batch_size(n)
            if padded != n:
                faces = np.concatenate([faces, np.zeros((padded - n, *faces.shape[1:]), np.float32)])
        return self.session.run(["probabilities"], {"input": faces})[0][:n]


def padded_batch_size(n: int) -> int:
    """The power of two at or above n."""
    return 1 << (n - 1).bit_length()


def cuda_available() -> bool:
    """Whether this onnxruntime build has the CUDA provider (onnxruntime-gpu), not whether a GPU works."""
    return CUDA in ort.get_available_providers()


def choose_providers(device: str) -> list[str]:
    available = ort.get_available_providers()
    if device == "cpu":
        return [CPU]
    if device == "cuda" and CUDA not in available:
        raise ModelLoadError(
            f"EMOTION_DEVICE=cuda but this onnxruntime ({ort.__version__}) has no CUDA provider: "
            "install onnxruntime-gpu instead of onnxruntime"
        )
    # CPU stays in the list so operators CUDA lacks still run.
    return [CUDA, CPU] if CUDA in available else [CPU]


def session_options(threads: int = 0) -> ort.SessionOptions:
    """The service's session options, also used by the in-process references it is compared with."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    # Idle workers otherwise busy-wait after each run, on the cores face detection needs
    # (1.40x fewer frames/s with spinning on 2 cores: docs/performance.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def load_model(path: Path, device: str = "auto", threads: int = 0) -> EmotionModel:
    """Open, validate and warm up the model; raise ModelLoadError saying what is wrong."""
    if not path.is_file():
        raise ModelLoadError(
            f"no model file at {path}: export one with `python -m training export` or set EMOTION_MODEL_PATH"
        )
    options = session_options(threads)
    try:
        providers = [(p, CUDA_OPTIONS) if p == CUDA else p for p in choose_providers(device)]
        session = ort.InferenceSession(str(path), options, providers=providers)
    except ModelLoadError:
        raise
    except Exception as exc:  # onnxruntime raises its own types for protobuf and graph errors
        raise ModelLoadError(f"{path} is not a loadable ONNX model: {exc}") from exc
    if device == "cuda" and session.get_providers()[0] != CUDA:
        raise ModelLoadError(
            f"EMOTION_DEVICE=cuda but the CUDA provider did not start (active: {session.get_providers()})"
        )

    props = session.get_modelmeta().custom_metadata_map
    try:
        params = params_from_metadata(props)
    except ModelMetadataError as exc:
        raise ModelLoadError(f"{path}: {exc}") from exc
    model = EmotionModel(
        session=session,
        params=params,
        name=props.get(MODEL_NAME_KEY, path.stem),
        version=props.get(MODEL_VERSION_KEY, "unknown"),
        path=path,
        provenance=json_field(props, PROVENANCE_KEY),
        metrics=json_field(props, METRICS_KEY),
    )
    check_signature(model)
    warm_up(model)
    return model


def check_signature(model: EmotionModel) -> None:
    inputs = {i.name: i for i in model.session.get_inputs()}
    outputs = {o.name: o for o in model.session.get_outputs()}
    size = model.params.input_size
    if "input" not in inputs or "probabilities" not in outputs:
        raise ModelLoadError(
            f"{model.path} has inputs {sorted(inputs)} and outputs {sorted(outputs)}; "
            "expected input 'input' and output 'probabilities'"
        )
    shape = inputs["input"].shape
    if len(shape) != 4 or list(shape[1:]) != [3, size, size]:
        raise ModelLoadError(f"{model.path}: input shape {shape} does not match (batch, 3, {size}, {size})")


def warm_up(model: EmotionModel) -> None:
    """Real inferences, so no request pays for lazy initialisation (CUDA: every padded shape)."""
    size = model.params.input_size
    try:
        if model.on_cuda:
            for batch in CUDA_WARM_BATCHES[1:]:
                model.predict(np.zeros((batch, 3, size, size), np.float32))
        out = model.predict(np.zeros((1, 3, size, size), np.float32))
    except Exception as exc:
        raise ModelLoadError(f"{model.path}: the warm-up inference failed: {exc}") from exc
    classes = len(model.params.classes)
    if out.shape != (1, classes) or not np.all(np.isfinite(out)) or abs(float(out.sum()) - 1.0) > 1e-3:
        raise ModelLoadError(
            f"{model.path}: the warm-up output {out.shape} is not {classes} probabilities summing to 1"
        )
