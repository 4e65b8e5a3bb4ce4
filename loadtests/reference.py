"""The in-process time of one request's work, on the images the load test sends.

Decode, detect, crop and classify each image with the face pipeline and an ONNX Runtime
session made as the service makes it, one image at a time, OpenCV and ONNX Runtime with the
threads the service would give each call (``service.config``, from the same EMOTION_* variables):
what one request costs an idle service minus the serving. The runner calls
this between locust phases (``--reference``) to put the 1-user latency against it.

    python -m loadtests.reference --model models/face_emotion.onnx --detector '{"kind": "yunet", "max_side": 320}'
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from face_pipeline import DetectorParams, decode_image
from face_pipeline.metadata import params_from_metadata
from face_pipeline.preprocess import face_crops, normalize
from loadtests.images import cached_synth_images, sfew_images
from service.config import Settings
from service.model import session_options


def measure(
    model: Path, detector: dict[str, Any] | None, blobs: list[bytes], repeat: int = 1, max_faces: int = 20
) -> dict[str, float]:
    settings = Settings.from_env()
    settings.apply_opencv_threads()
    session = ort.InferenceSession(
        str(model), session_options(settings.ort_threads), providers=["CPUExecutionProvider"]
    )
    params = params_from_metadata(session.get_modelmeta().custom_metadata_map)
    if detector:
        merged = params.detector.to_dict() | detector
        params = type(params)(**{**params.__dict__, "detector": DetectorParams.from_dict(merged)})

    def one(blob: bytes) -> None:
        rgb = decode_image(blob)
        _, crops = face_crops(rgb, params, max_faces=max_faces)
        if len(crops):
            session.run(["probabilities"], {"input": normalize(crops, params)})

    for blob in blobs[:2]:
        one(blob)  # warm-up
    times = []
    for _ in range(repeat):
        for blob in blobs:
            start = time.perf_counter()
            one(blob)
            times.append((time.perf_counter() - start) * 1000)
    return {
        "median_ms": statistics.median(times),
        "mean_ms": statistics.fmean(times),
        "p95_ms": float(np.percentile(times, 95)),
        "images": len(times),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--detector", default="", help="JSON of DetectorParams fields overriding the model's")
    parser.add_argument("--sfew", help="real frames instead of the synthetic 720x576 ones")
    parser.add_argument("--sfew-limit", type=int, default=0)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--max-faces", type=int, default=20, help="as /predict's max_faces (its default: 20)")
    args = parser.parse_args(argv)
    blobs = sfew_images(args.sfew, args.sfew_limit or None) if args.sfew else cached_synth_images()["frame"]
    detector = json.loads(args.detector) if args.detector else None
    print(json.dumps(measure(args.model, detector, blobs, args.repeat, args.max_faces)))


if __name__ == "__main__":
    main()
