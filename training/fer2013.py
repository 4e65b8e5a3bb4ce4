"""FER-2013 (training split only): 48x48 grey face crops, with a fixed, stratified held-out part.

The images are already faces, so they skip detection and take the serving path for cropped
faces (``face_pipeline.preprocess.resize_face``). The held-out part is the committed manifest
``training/splits/fer2013_val.txt`` (10% of each class, picked by a hash of the file name);
``python -m training fer-split`` rewrites it. The whole folder is decoded once into one uint8
array (about 60 MB) and cached; training never reads the files again.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from training.faces import Split
from training.sfew import IMAGE_EXTENSIONS, class_index

CACHE_DIR = Path(".cache") / "fer2013"
VAL_MANIFEST = Path(__file__).parent / "splits" / "fer2013_val.txt"
VAL_FRACTION = 0.10
SIDE = 48


def list_images(root: Path) -> list[str]:
    """Every image as ``<class>/<file>``, sorted; a clear error when the layout is wrong."""
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: expected the FER-2013 train folder, {root}/<class>/*.png")
    names = [
        f"{d.name}/{p.name}"
        for d in sorted(root.iterdir())
        if d.is_dir()
        for p in sorted(d.iterdir())
        if p.suffix.lower() in IMAGE_EXTENSIONS
    ]
    if not names:
        raise FileNotFoundError(f"no images under {root}/<class>/ (classes: angry, disgust, ... surprise)")
    for folder in {n.split("/")[0] for n in names}:
        class_index(folder)  # refuses a folder that is not one of the seven classes
    return names


def _rank(name: str) -> str:
    return hashlib.sha256(name.encode()).hexdigest()


def choose_val(names: list[str], fraction: float = VAL_FRACTION) -> list[str]:
    """Stratified and deterministic: per class, the ``fraction`` of names with the smallest hash."""
    by_class: dict[str, list[str]] = defaultdict(list)
    for name in names:
        by_class[name.split("/")[0].lower()].append(name)
    val = []
    for members in by_class.values():
        val += sorted(members, key=_rank)[: round(fraction * len(members))]
    return sorted(val)


def write_val_manifest(root: Path, path: Path = VAL_MANIFEST) -> list[str]:
    val = choose_val(list_images(root))
    path.write_text("".join(f"{name}\n" for name in val))
    return val


def read_val_manifest(path: Path = VAL_MANIFEST) -> list[str]:
    return [line for line in path.read_text().splitlines() if line]


def _read_grey(path: Path) -> np.ndarray:
    grey = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if grey is None:
        raise ValueError(f"{path} is not a readable image")
    if grey.shape != (SIDE, SIDE):
        grey = cv2.resize(grey, (SIDE, SIDE), interpolation=cv2.INTER_AREA)
    return grey


def load_fer(root: Path, manifest: Path = VAL_MANIFEST, cache_dir: Path = CACHE_DIR) -> tuple[Split, Split]:
    """(train, val) as 48x48 crops (grey replicated to RGB), decoded once and cached on disk."""
    names = list_images(root)
    val_names = set(read_val_manifest(manifest))
    missing = val_names - set(names)
    if missing:
        raise ValueError(
            f"{len(missing)} held-out images of {manifest} are not under {root} (e.g. {sorted(missing)[0]}); "
            "is this FER-2013's train folder? `python -m training fer-split` rewrites the manifest"
        )
    key = hashlib.sha256("\n".join(names).encode()).hexdigest()[:16]
    cache = cache_dir / f"fer-grey{SIDE}-{key}.npz"
    if cache.exists():
        grey = np.load(cache)["grey"]
    else:
        with ThreadPoolExecutor(2) as pool:
            images = pool.map(lambda n: _read_grey(root / n), names)
            grey = np.stack(list(tqdm(images, total=len(names), desc="FER-2013", unit="img", mininterval=5)))
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, grey=grey)
    labels = np.array([class_index(n.split("/")[0]) for n in names], dtype=np.int64)
    val = np.array([n in val_names for n in names])
    crops = np.repeat(grey[..., None], 3, axis=-1)
    return Split(crops[~val], labels[~val]), Split(crops[val], labels[val])
