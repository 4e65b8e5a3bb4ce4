"""Export a trained network to one self-contained ONNX file that carries its preprocessing.

Input ``input`` float32 (batch, 3, S, S), normalised as the metadata says; output
``probabilities`` float32 (batch, 7). Verified on export: onnx.checker, and onnxruntime
against torch at batch sizes 1, 8 and 64 (max abs diff < 1e-4).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from face_pipeline import PreprocessParams
from face_pipeline.metadata import metadata_props
from training.models import Probabilities

PARITY_BATCHES = (1, 8, 64)
PARITY_TOLERANCE = 1e-4


def export_onnx(
    net: nn.Module,
    params: PreprocessParams,
    path: Path,
    model_name: str,
    model_version: str,
    provenance: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    temperature: float = 1.0,
) -> float:
    """Write the ONNX file; return the worst torch-vs-onnxruntime difference seen."""
    wrapped = Probabilities(net, temperature).eval()
    size = params.input_size
    example = torch.zeros(2, 3, size, size)  # batch 2: an example of 1 would pin the batch axis
    program = torch.onnx.export(
        wrapped,
        (example,),
        dynamo=True,
        input_names=["input"],
        output_names=["probabilities"],
        dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1, max=4096)}},
        opset_version=18,
        external_data=False,
        verbose=False,
    )
    model = program.model_proto
    props = metadata_props(params, model_name, model_version, provenance, metrics, temperature)
    onnx.helper.set_model_props(model, props)
    onnx.checker.check_model(model, full_check=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(path), save_as_external_data=False)
    return verify_parity(wrapped, path, size)


def verify_parity(wrapped: nn.Module, path: Path, size: int) -> float:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(0)
    worst = 0.0
    for batch in PARITY_BATCHES:
        x = torch.randn(batch, 3, size, size, generator=generator)
        with torch.no_grad():
            expected = wrapped(x).numpy()
        got = session.run(["probabilities"], {"input": x.numpy()})[0]
        worst = max(worst, float(np.abs(expected - got).max()))
    if worst >= PARITY_TOLERANCE:
        raise AssertionError(f"onnxruntime differs from torch by {worst:.2e} (limit {PARITY_TOLERANCE})")
    return worst
