"""The fixed SFEW split: committed manifest invariants, and the splitter on a synthetic tree."""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from face_pipeline import EMOTIONS
from training.sfew import VALIDATION, film_of, make_manifest, read_manifest, validation_sides, write_manifest


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
