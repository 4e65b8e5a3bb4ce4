"""What int8 would buy: the shipped model quantised by ONNX Runtime, against itself in float32.

Static quantisation (QDQ, per-channel int8 weights, uint8 activations) of everything before the
calibrated softmax, calibrated on 512 FER-2013 training faces, then, side by side on the same
inputs: ms per face at batch 1 and 8 (the fastest of several rounds, float32 and int8 alternating),
and on the FER-2013 held-out part (never trained on, the shipped model's validation data) the
accuracy of each, how often their labels agree and the largest change of a probability. A
measurement, not a shipping step: the service serves the float32 file that training exported.
Results: benchmarks/results/int8.{json,md}.

    python -m benchmarks.int8 --fer ../shared/data/fer2013/train
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

from benchmarks.results_io import save_results
from benchmarks.sfew import RESULTS
from face_pipeline import normalize
from face_pipeline.metadata import SHIPPED_MODEL, params_from_metadata
from service.model import session_options
from training.fer2013 import load_fer
from training.ship import fastest_ms_per_face

CALIBRATION_FACES = 512
SOFTMAX = ("Div", "Softmax")  # the exported graph's last two nodes: logits / temperature, softmax


class _Faces(CalibrationDataReader):
    def __init__(self, batches: list[np.ndarray]) -> None:
        self._batches = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self._batches, None)
        return None if batch is None else {"input": batch}


def quantise(model: Path, out: Path, calibration: np.ndarray) -> None:
    """``model`` as int8 QDQ, calibrated on ``calibration`` (normalised faces, N x 3 x H x W)."""
    prepared = out.with_name("prepared.onnx")
    quant_pre_process(str(model), str(prepared))
    batches = [calibration[i : i + 32] for i in range(0, len(calibration), 32)]
    quantize_static(
        str(prepared),
        str(out),
        _Faces(batches),
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=QuantType.QUInt8,
        weight_type=QuantType.QInt8,
        # Everything but the calibrated softmax (the temperature's Div and the Softmax): quantised, it
        # would round every probability to a multiple of 1/255.
        nodes_to_exclude=[node.name for node in onnx.load(str(prepared)).graph.node if node.op_type in SOFTMAX],
    )


def probabilities(session: ort.InferenceSession, faces: np.ndarray) -> np.ndarray:
    return np.concatenate([session.run(None, {"input": faces[i : i + 256]})[0] for i in range(0, len(faces), 256)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path(SHIPPED_MODEL))
    parser.add_argument("--fer", type=Path, default=Path("../shared/data/fer2013/train"))
    parser.add_argument("--out", type=Path, default=RESULTS / "int8")
    args = parser.parse_args(argv)

    fp32 = ort.InferenceSession(str(args.model), session_options(), providers=["CPUExecutionProvider"])
    params = params_from_metadata(fp32.get_modelmeta().custom_metadata_map)
    train, val = (split.resized(params.input_size) for split in load_fer(args.fer))
    rng = np.random.default_rng(0)
    calibration = normalize(train.crops[rng.choice(len(train.crops), CALIBRATION_FACES, replace=False)], params)
    with tempfile.TemporaryDirectory() as tmp:
        int8_path = Path(tmp) / "int8.onnx"
        quantise(args.model, int8_path, calibration)
        int8 = ort.InferenceSession(str(int8_path), session_options(), providers=["CPUExecutionProvider"])
        sizes = {"float32": args.model.stat().st_size / 1e6, "int8": int8_path.stat().st_size / 1e6}
        sessions = {"float32": fp32, "int8": int8}
        faces = normalize(val.crops, params)
        probs = {name: probabilities(s, faces) for name, s in sessions.items()}
        timing = {batch: fastest_ms_per_face(sessions, faces[:batch], rounds=7) for batch in (1, 8)}

    labels = {name: p.argmax(1) for name, p in probs.items()}
    summary = {
        "model": str(args.model),
        "version": fp32.get_modelmeta().custom_metadata_map.get("model_version"),
        "fer2013_heldout_faces": len(val.labels),
        "accuracy": {name: float((pred == val.labels).mean()) for name, pred in labels.items()},
        "label_agreement": float((labels["float32"] == labels["int8"]).mean()),
        "max_abs_probability_change": float(np.abs(probs["float32"] - probs["int8"]).max()),
        "ms_per_face": {str(batch): t for batch, t in timing.items()},
        "size_mb": sizes,
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
    }
    rows = "\n".join(
        f"| {name} | {100 * summary['accuracy'][name]:.2f}% | {timing[1][name]:.2f} | {timing[8][name]:.2f} "
        f"| {sizes[name]:.1f} |"
        for name in sessions
    )
    text = f"""# int8 against float32: the shipped model

Command: `python -m benchmarks.int8`. Model {summary["version"]}; static int8 (QDQ, per-channel;
the softmax left in float), calibrated on {CALIBRATION_FACES} FER-2013 training faces; {os.cpu_count()} CPU cores,
ONNX Runtime {ort.__version__}.

| model | FER-2013 held-out ({len(val.labels)} faces) | ms per face, batch 1 | ms per face, batch 8 | MB |
|---|---|---|---|---|
{rows}

Labels agree on {100 * summary["label_agreement"]:.1f}% of the held-out faces; the largest change of one
probability is {summary["max_abs_probability_change"]:.3f}. Speed-up at batch 8:
{timing[8]["float32"] / timing[8]["int8"]:.2f}x, at batch 1: {timing[1]["float32"] / timing[1]["int8"]:.2f}x.
"""
    save_results(summary, args.out, text)


if __name__ == "__main__":
    main()
