"""The contract between an exported model and whoever serves it: ONNX metadata keys.

Training writes ``metadata_props(...)`` into the ONNX file; serving calls
``params_from_metadata(session.get_modelmeta().custom_metadata_map)``. Nothing else carries
preprocessing parameters, so a model cannot be served with settings it was not trained on.
"""

from __future__ import annotations

import json
from typing import Any

from face_pipeline.params import PreprocessParams

# Where the shipped model lives, relative to the repository root (and to a Bento's src/).
SHIPPED_MODEL = "models/face_emotion.onnx"

PREPROCESS_KEY = "face_pipeline.preprocess"
MODEL_NAME_KEY = "model_name"
MODEL_VERSION_KEY = "model_version"
OUTPUT_KEY = "output"  # what the single output holds
PROVENANCE_KEY = "provenance"
METRICS_KEY = "metrics"
TEMPERATURE_KEY = "temperature"  # folded into the graph's softmax; recorded so that clients can see it
OUTPUT_PROBABILITIES = "probabilities"


class ModelMetadataError(ValueError):
    """The ONNX file lacks, or has unreadable, face-pipeline metadata."""


def metadata_props(
    params: PreprocessParams,
    model_name: str,
    model_version: str,
    provenance: dict[str, Any] | None = None,
    metrics: dict[str, Any] | None = None,
    temperature: float = 1.0,
) -> dict[str, str]:
    return {
        TEMPERATURE_KEY: repr(float(temperature)),
        PREPROCESS_KEY: json.dumps(params.to_dict(), sort_keys=True),
        MODEL_NAME_KEY: model_name,
        MODEL_VERSION_KEY: model_version,
        OUTPUT_KEY: OUTPUT_PROBABILITIES,
        PROVENANCE_KEY: json.dumps(provenance or {}, sort_keys=True),
        METRICS_KEY: json.dumps(metrics or {}, sort_keys=True),
    }


def params_from_metadata(props: dict[str, str]) -> PreprocessParams:
    if PREPROCESS_KEY not in props:
        raise ModelMetadataError(
            f"the model has no '{PREPROCESS_KEY}' metadata: export it with `python -m training export`"
        )
    try:
        return PreprocessParams.from_dict(json.loads(props[PREPROCESS_KEY]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelMetadataError(f"the model's '{PREPROCESS_KEY}' metadata is unreadable: {exc}") from exc


def temperature_from_metadata(props: dict[str, str]) -> float:
    """The softmax temperature folded into the model (1.0 for models exported before calibration)."""
    try:
        return float(props.get(TEMPERATURE_KEY, "1.0"))
    except ValueError as exc:
        raise ModelMetadataError(f"the model's '{TEMPERATURE_KEY}' metadata is not a number: {exc}") from exc


def json_field(props: dict[str, str], key: str) -> dict[str, Any]:
    try:
        value = json.loads(props.get(key, "{}"))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
