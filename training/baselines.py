"""The paper's hand-crafted baselines, computed by us: an SVM on the LPQ or PHOG features.

The feature file ships with the SFEW subset (first 5 principal components of each
descriptor per frame). The SVM sees every frame of the split (the features describe whole
frames, so no face detection is involved); C and gamma are chosen by 5-fold cross-validation
on the training side only.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from training.sfew import read_manifest


def load_features(path: Path) -> dict[tuple[str, int], dict[str, np.ndarray]]:
    """(frame stem, label index) -> {"lpq": 5 values, "phog": 5 values}."""
    out = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = (Path(row["name"]).stem, int(row["label"]) - 1)
            out[key] = {d: np.array([float(row[f"{d}_pc{i}"]) for i in range(1, 6)]) for d in ("lpq", "phog")}
    return out


def svm_baseline(features_csv: Path, descriptor: str, split: str, seed: int = 0) -> dict:
    features = load_features(features_csv)
    samples = read_manifest()
    rows = [
        (features[(s.name, s.label)][descriptor], s.label, s.split(split))
        for s in samples
        if (s.name, s.label) in features
    ]
    # Some frames have no PHOG value (NaN in the file): they are left out and counted.
    n_missing = sum(not np.isfinite(r[0]).all() for r in rows)
    rows = [r for r in rows if np.isfinite(r[0]).all()]
    x = np.stack([r[0] for r in rows])
    y = np.array([r[1] for r in rows])
    side = np.array([r[2] for r in rows])
    search = GridSearchCV(
        make_pipeline(StandardScaler(), SVC(kernel="rbf")),
        {"svc__C": [0.1, 1, 10, 100], "svc__gamma": ["scale", 0.01, 0.1, 1]},
        cv=StratifiedKFold(5, shuffle=True, random_state=seed),
    )
    search.fit(x[side == "train"], y[side == "train"])
    pred = search.predict(x[side == "test"])
    return {
        "descriptor": descriptor,
        "split": split,
        "n_train": int((side == "train").sum()),
        "n_test": int((side == "test").sum()),
        "n_missing_features": n_missing,
        "best_params": {k: str(v) for k, v in search.best_params_.items()},
        "train_acc": float(search.score(x[side == "train"], y[side == "train"])),
        "test_acc": float((pred == y[side == "test"]).mean()),
        "test_labels": y[side == "test"].tolist(),
        "test_pred": pred.tolist(),
    }
