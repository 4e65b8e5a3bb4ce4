"""A copy of an exported model whose metadata asks for other detector settings (same weights).

The served detector comes from the model's metadata (``face_pipeline.metadata``); the
environment can only override its ``max_side``. To load-test other settings (scale factor,
neighbours) with the very same network, write a copy with those settings in its metadata:

    python -m loadtests.model_variant --model .cache/dev_mobilenet.onnx \\
        --detector '{"max_side": 360, "scale_factor": 1.2, "min_neighbors": 3}' --out .cache/dev_fast.onnx

Needs the ``onnx`` package (the training extra). Never commit the output.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import onnx

from face_pipeline.metadata import PREPROCESS_KEY, params_from_metadata
from face_pipeline.params import DetectorParams


def write_variant(model: Path, detector: dict[str, Any], out: Path) -> DetectorParams:
    proto = onnx.load_model(str(model))
    props = {p.key: p.value for p in proto.metadata_props}
    params = params_from_metadata(props)
    new = DetectorParams.from_dict(params.detector.to_dict() | detector)
    data = params.to_dict()
    data["detector"] = new.to_dict()
    props[PREPROCESS_KEY] = json.dumps(data, sort_keys=True)
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    out.parent.mkdir(parents=True, exist_ok=True)
    onnx.save_model(proto, str(out))
    return new


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--detector", required=True, help="JSON of DetectorParams fields to change")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    print(write_variant(args.model, json.loads(args.detector), args.out))


if __name__ == "__main__":
    main()
