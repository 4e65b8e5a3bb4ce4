"""Distillation: a FER-2013 stage that learns from an ensemble's soft labels as well as the hard ones.

Averaging several networks beats the best of them by about 1.5 points on FER-2013 but costs each
network's time per face at serving. A student trained towards the ensemble's class probabilities
(Hinton et al. 2015) keeps part of that gain at one network's cost. The teachers are committed
FER-2013 stages; their targets are computed once per training set (each teacher through its own
preprocessing, on the face and its mirror image) and cached, so an epoch costs what it did.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from face_pipeline import PreprocessParams
from training.faces import Split
from training.loop import DISTILL_TEMPERATURE, logits
from training.models import load_net

CACHE_DIR = Path(".cache") / "distill"


def teacher_logits(stages: list[Path] | list[str], crops: np.ndarray) -> np.ndarray:
    """The mean logits of the ``stages`` (FER-2013 stage checkpoints) over each face and its mirror."""
    outputs = []
    for stage in stages:
        record, net = load_net(Path(stage))
        params = PreprocessParams.from_dict(record["preprocess"])
        faces = Split(crops, np.zeros(len(crops), np.int64)).resized(params.input_size).crops
        mirrored = np.ascontiguousarray(faces[:, :, ::-1])
        outputs += [logits(net, faces, params, "cpu"), logits(net, mirrored, params, "cpu")]
        print(f"teacher {stage}: done", flush=True)
    return np.mean(outputs, axis=0)


def soft_targets(teacher: np.ndarray, temperature: float = DISTILL_TEMPERATURE) -> np.ndarray:
    """Teacher logits -> probabilities at ``temperature`` (float32, rows sum to 1)."""
    return torch.softmax(torch.from_numpy(teacher).float() / temperature, dim=1).numpy()


def with_teacher_targets(train: Split, stages: list[str], cache_dir: Path = CACHE_DIR) -> Split:
    """``train`` with its ``soft`` targets from the ``stages``, computed once and cached on disk."""
    # Keyed by the faces and the teachers' weights: a retrained teacher never reuses old targets.
    digest = hashlib.sha256(train.crops.tobytes()[::997])
    for stage in stages:
        digest.update(Path(stage).read_bytes())
    key = digest.hexdigest()[:16]
    cache = cache_dir / f"teacher-logits-{key}.npy"
    if cache.exists():
        teacher = np.load(cache)
    else:
        teacher = teacher_logits([Path(s) for s in stages], train.crops)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.save(cache, teacher)
    agree = float((teacher.argmax(1) == train.labels).mean())
    print(f"teachers agree with {100 * agree:.1f}% of the {len(train.labels)} training labels", flush=True)
    return Split(train.crops, train.labels, soft_targets(teacher))
