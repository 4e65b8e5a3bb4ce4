"""Export one finished trial as the shipped model, with its model card.

The shipped trial is fixed in advance (seed 0 of the shipped recipe on the fixed split), not
picked by test accuracy; the card reports that trial's own figures next to the recipe's
medians over all seeds.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import torch

from face_pipeline import EMOTIONS, PreprocessParams
from training.export import export_onnx
from training.models import build_model
from training.table2 import summarise

SHIPPED_RUN = Path("runs/cascade-mobilenet/random/seed0")
MODEL_PATH = Path("models/face_emotion.onnx")


def per_class_accuracy(labels: list[int], preds: list[int]) -> dict[str, float]:
    labels_arr, preds_arr = np.array(labels), np.array(preds)
    return {
        name: round(float((preds_arr[labels_arr == i] == i).mean()), 3)
        for i, name in enumerate(EMOTIONS)
        if (labels_arr == i).any()
    }


def ship(run: Path = SHIPPED_RUN, out: Path = MODEL_PATH) -> dict:
    record = json.loads((run / "metrics.json").read_text())
    config = record["config"]
    params = PreprocessParams.from_dict(record["preprocess"])
    net = build_model(config["arch"], "none", len(params.classes), config["input_size"])
    net.load_state_dict(torch.load(run / "model.pt", map_location="cpu", weights_only=True))
    net.eval()
    recipe = summarise(record["name"])
    metrics = {
        "sfew_fixed_split_test_acc": round(record["test_acc_stable"], 4),
        "sfew_fixed_split_train_acc": round(record["train_acc_eval"], 4),
        "fer2013_heldout_acc": round(record.get("fer_val_acc", float("nan")), 4),
        "sfew_test_acc_per_class": per_class_accuracy(record["test_labels"], record["test_pred"]),
        "recipe_median_fixed_split": recipe["random"]["test_median"],
        "recipe_median_film_split": recipe["film"]["test_median"],
        "recipe_trials": [recipe["random"]["trials"], recipe["film"]["trials"]],
    }
    provenance = {
        "recipe": record["preset"],
        "run": str(run),
        "seed": record["seed"],
        "split": record["split"],
        "config": config,
        "manifest_hash": record["manifest_hash"],
        "git_commit": record["git_commit"],
        "data": "SFEW 675 (fixed 80/20 split, train side) + FER-2013 train (90%)",
        "exported": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    version = f"1.0.0+{record['preset']}.seed{record['seed']}"
    worst = export_onnx(net, params, out, f"{config['arch']}-emotion", version, provenance, metrics)
    card = {
        "model": str(out),
        "version": version,
        "parity_max_abs_diff": worst,
        "metrics": metrics,
        "provenance": provenance,
        "preprocess": params.to_dict(),
        "size_bytes": out.stat().st_size,
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=1))
    print(json.dumps(card, indent=1))
    return card
