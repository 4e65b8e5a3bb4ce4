"""The fixed SFEW split: committed manifest invariants, and the splitter on a synthetic tree."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face_pipeline import EMOTIONS
from training.sfew import (
    FOLDS,
    VALIDATION,
    film_of,
    fold_sides,
    make_manifest,
    read_manifest,
    validation_folds,
    validation_sides,
    write_manifest,
)


def test_film_is_the_name_before_the_frame_numbers() -> None:
    assert film_of("HarryPotter_Deathly_Hallows_1_001610960_00000028") == "HarryPotter_Deathly_Hallows_1"
    assert film_of("Airheads_000519240_00000005") == "Airheads"


def check_invariants(samples: list) -> None:
    by_hash = defaultdict(set)
    for s in samples:
        by_hash[s.sha256].add((s.split_random, s.split_film))
    assert all(len(sides) == 1 for sides in by_hash.values()), "identical images straddle a split"
    film_sides = defaultdict(set)
    for s in samples:
        film_sides[s.film].add(s.split_film)
    assert all(len(sides) == 1 for sides in film_sides.values()), "a film is on both sides"


def test_committed_manifest_invariants() -> None:
    samples = read_manifest()
    assert len(samples) == 675
    counts = Counter(EMOTIONS[s.label] for s in samples)
    assert counts == {
        "Angry": 100,
        "Disgust": 75,
        "Fear": 100,
        "Happy": 100,
        "Neutral": 100,
        "Sad": 100,
        "Surprise": 100,
    }
    check_invariants(samples)
    for label in range(7):
        members = [s for s in samples if s.label == label]
        test = sum(s.split_random == "test" for s in members) / len(members)
        assert 0.17 <= test <= 0.23
        film_test = sum(s.split_film == "test" for s in members) / len(members)
        assert 0.1 <= film_test <= 0.35
    # The one frame stored under two labels is on one side in both splits.
    twins = [s for s in samples if s.name == "HarryPotter_Deathly_Hallows_1_001610960_00000028"]
    assert len(twins) == 2 and len({(t.split_random, t.split_film) for t in twins}) == 1


@pytest.fixture()
def tiny_tree(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for label, name in enumerate(EMOTIONS):
        folder = tmp_path / (name.lower() if label % 2 else name)  # folder case must not matter
        folder.mkdir()
        for i in range(10):
            film = f"Film{(i + label) % 6}"
            pixels = rng.integers(0, 255, (8, 8, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{film}_{i:09d}_{i:08d}.png")
    # The same picture under two labels, as in the real data.
    dup = (tmp_path / "Fear").iterdir().__next__()
    (tmp_path / "Surprise" / dup.name).write_bytes(dup.read_bytes())
    return tmp_path


def test_splitter_is_deterministic_stratified_and_leak_free(tiny_tree: Path, tmp_path: Path) -> None:
    first, second = make_manifest(tiny_tree), make_manifest(tiny_tree)
    assert first == second
    check_invariants(first)
    for label in range(7):
        n_test = sum(s.split_random == "test" for s in first if s.label == label)
        assert 1 <= n_test <= 4
    path = tmp_path / "manifest.csv"
    write_manifest(first, path)
    assert read_manifest(path) == first


def test_validation_films_come_from_the_training_side_only() -> None:
    samples = read_manifest()
    sides = validation_sides(samples)
    assert sides == validation_sides(samples)  # the same on every machine
    for s in samples:
        # The fixed split's test side is never part of choosing a recipe.
        assert (sides[s.relpath] == "") == (s.split_random == "test")
    film_sides = defaultdict(set)
    for s in samples:
        if sides[s.relpath]:
            film_sides[s.film].add(sides[s.relpath])
    assert all(len(v) == 1 for v in film_sides.values()), "a film is on both sides of the validation cut"
    held_out = sum(v == "test" for v in sides.values()) / sum(s.split_random == "train" for s in samples)
    assert 0.15 <= held_out <= 0.35
    # The validation cut has its own function; asking a sample for it is a mistake, not the film split.
    with pytest.raises(ValueError, match="unknown split"):
        samples[0].split(VALIDATION)


def test_cross_validation_holds_every_training_side_film_out_once_fold_0_being_the_val_films() -> None:
    samples = read_manifest()
    folds = validation_folds(samples)
    assert folds == validation_folds(samples)  # the same on every machine
    val = validation_sides(samples)
    for s in samples:
        assert (folds[s.relpath] == -1) == (s.split_random == "test")  # never the fixed split's test side
        assert (folds[s.relpath] == 0) == (val[s.relpath] == "test")  # fold 0: the val films, as before
    assert fold_sides(samples, 0) == val  # so the val split is cv's fold 0, sides and all
    film_folds = defaultdict(set)
    for s in samples:
        if folds[s.relpath] >= 0:  # the fixed split itself is random: a film can sit on both of its sides
            film_folds[s.film].add(folds[s.relpath])
    assert all(len(v) == 1 for v in film_folds.values()), "a film straddles two folds"
    training_side = sum(s.split_random == "train" for s in samples)
    sizes = Counter(k for k in folds.values() if k >= 0)
    assert sorted(sizes) == list(range(FOLDS))
    assert all(0.12 <= n / training_side <= 0.28 for n in sizes.values())
    for fold in range(FOLDS):
        sides = fold_sides(samples, fold)
        assert {r for r, side in sides.items() if side == "test"} == {r for r, k in folds.items() if k == fold}
        assert all(side == "train" for r, side in sides.items() if folds[r] not in (-1, fold))
    with pytest.raises(ValueError, match="5 folds: seeds 0-4"):
        fold_sides(samples, FOLDS)
