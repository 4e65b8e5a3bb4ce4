"""FER-2013's held-out part: stratified, deterministic, committed, and checked against the data."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import cv2
import numpy as np
import pytest

from training.fer2013 import VAL_MANIFEST, choose_val, load_fer, read_val_manifest

# Per-class image counts of the sharp copy (../shared/data/README.md).
KEPT = {"angry": 3597, "disgust": 330, "fear": 3570, "happy": 7095, "neutral": 4784, "sad": 4531, "surprise": 2552}


def test_choose_val_is_stratified_and_deterministic() -> None:
    names = [f"{c}/Training_{i}.png" for c, n in (("happy", 1000), ("disgust", 45), ("sad", 7)) for i in range(n)]
    val = choose_val(names)
    counts = Counter(n.split("/")[0] for n in val)
    assert counts == {"happy": 100, "disgust": 4, "sad": 1}  # round(10%) of every class, however small
    assert choose_val(list(reversed(names))) == val  # the order of the listing does not matter
    # A new image of one class leaves every other class's held-out images as they were.
    extended = choose_val([*names, "sad/Training_new.png"])
    assert [n for n in extended if not n.startswith("sad/")] == [n for n in val if not n.startswith("sad/")]


def test_committed_manifest_holds_out_ten_percent_of_each_class() -> None:
    val = read_val_manifest()
    assert len(val) == len(set(val)) == 2646
    counts = Counter(n.split("/")[0] for n in val)
    assert counts == {c: round(0.1 * n) for c, n in KEPT.items()}
    assert val == sorted(val) and all(n.startswith(tuple(KEPT)) and n.endswith(".png") for n in val)


def write_folder(root: Path, per_class: int) -> list[str]:
    rng = np.random.default_rng(0)
    names = []
    for c in ("angry", "happy"):
        (root / c).mkdir(parents=True)
        for i in range(per_class):
            cv2.imwrite(str(root / c / f"img{i}.png"), rng.integers(0, 255, (48, 48), dtype=np.uint8))
            names.append(f"{c}/img{i}.png")
    return names


def test_load_fer_splits_by_the_manifest_and_caches(tmp_path: Path) -> None:
    names = write_folder(tmp_path / "train", 10)
    manifest = tmp_path / "val.txt"
    manifest.write_text("angry/img3.png\nhappy/img7.png\n")
    train, val = load_fer(tmp_path / "train", manifest, tmp_path / "cache")
    assert (len(train.labels), len(val.labels)) == (18, 2)
    assert train.crops.shape[1:] == (48, 48, 3) and train.crops.dtype == np.uint8
    assert np.array_equal(train.crops[..., 0], train.crops[..., 2])  # grey, replicated
    expected = cv2.imread(str(tmp_path / "train" / "happy/img7.png"), cv2.IMREAD_GRAYSCALE)
    assert np.array_equal(val.crops[1, ..., 0], expected) and list(val.labels) == [0, 3]
    assert len(list((tmp_path / "cache").iterdir())) == 1
    again_train, _ = load_fer(tmp_path / "train", manifest, tmp_path / "cache")  # from the cache
    assert np.array_equal(again_train.crops, train.crops) and len(names) == 20


def test_load_fer_refuses_a_folder_without_the_held_out_images(tmp_path: Path) -> None:
    write_folder(tmp_path / "train", 3)
    with pytest.raises(ValueError, match=r"held-out images of .* are not under"):
        load_fer(tmp_path / "train", VAL_MANIFEST, tmp_path / "cache")
    with pytest.raises(FileNotFoundError, match="expected the FER-2013 train folder"):
        load_fer(tmp_path / "missing", VAL_MANIFEST, tmp_path / "cache")
