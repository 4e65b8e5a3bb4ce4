"""FER-2013 (training split only): 48x48 grey face crops, with a fixed held-out part.

The images are already faces, so they skip detection and take the serving path for cropped
faces (``face_pipeline.preprocess.resize_face``). 10% of each class, chosen by a hash of the
file name, is held out as validation and never trained on.
"""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from tqdm import tqdm

from face_pipeline import read_image_file
from face_pipeline.preprocess import resize_face
from training.loop import Split
from training.sfew import IMAGE_EXTENSIONS, class_index

CACHE_DIR = Path(".cache") / "fer2013"
VAL_FRACTION = 0.10


def _is_val(name: str) -> bool:
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < VAL_FRACTION


def load_fer(root: Path, size: int = 48) -> tuple[Split, Split]:
    """(train, val) crops at ``size`` px, cached on disk after the first read."""
    cache = CACHE_DIR / f"fer-{size}.npz"
    if cache.exists():
        data = np.load(cache)
        crops, labels, val = data["crops"], data["labels"], data["val"]
    else:
        files = [
            (p, class_index(d.name))
            for d in sorted(root.iterdir())
            if d.is_dir()
            for p in sorted(d.iterdir())
            if p.suffix.lower() in IMAGE_EXTENSIONS
        ]
        if not files:
            raise FileNotFoundError(f"no images under {root}/<class>/")
        with ThreadPoolExecutor(2) as pool:
            crops = np.stack(
                list(
                    tqdm(
                        pool.map(lambda f: resize_face(read_image_file(str(f[0])), size), files),
                        total=len(files),
                        desc=f"FER-2013 at {size}px",
                        unit="img",
                        mininterval=5,
                    )
                )
            )
        labels = np.array([label for _, label in files], dtype=np.int64)
        val = np.array([_is_val(f"{p.parent.name}/{p.name}") for p, _ in files])
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, crops=crops, labels=labels, val=val)
    return Split(crops[~val], labels[~val]), Split(crops[val], labels[val])


def resized(split: Split, size: int) -> Split:
    if split.crops.shape[1] == size:
        return split
    return Split(np.stack([resize_face(c, size) for c in split.crops]), split.labels)
