"""The SFEW 675 data set on disk and its two fixed splits.

Layout: ``<root>/<Class>/<image>``; class folders are matched case-insensitively against
``EMOTIONS``. The split manifest (``training/splits/sfew675.csv``) is committed, so every
experiment uses the same split; ``python -m training split`` rewrites it from the data.
"""

from __future__ import annotations

import csv
import hashlib
import random
import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

from face_pipeline import EMOTIONS

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
MANIFEST_PATH = Path(__file__).parent / "splits" / "sfew675.csv"
SPLIT_SEED = 0
TEST_FRACTION = 0.2
SPLITS = ("random", "film")  # "random": stratified 80/20; "film": no film on both sides
# Choosing between recipes needs SFEW faces that no trial trained on and that are not a test side:
# whole films of the fixed split's training side, held out (``validation_sides``).
VALIDATION = "val"
# 94 held-out faces choose between recipes about as well as a coin when they differ by two or three
# faces: cross-validation holds out every training-side film once, in FOLDS folds (``validation_folds``),
# fold 0 being the ``val`` films. A trial of split "cv" with seed k trains without fold k and tests on it.
CROSS_VALIDATION = "cv"
FOLDS = 5
_FILM_PATTERN = re.compile(r"^(.*?)_\d+_\d+$")


@dataclass(frozen=True)
class Sample:
    relpath: str  # "<Class>/<file>", relative to the data root
    sha256: str
    label: int
    film: str
    split_random: str = ""
    split_film: str = ""

    @property
    def name(self) -> str:
        return Path(self.relpath).stem

    def split(self, which: str) -> str:
        """This frame's side ("train" or "test") of split ``which`` (one of ``SPLITS``)."""
        if which not in SPLITS:
            raise ValueError(f"unknown split {which!r}; choose from {', '.join(SPLITS)}")
        return self.split_random if which == "random" else self.split_film


def film_of(stem: str) -> str:
    """SFEW names are <film>_<timestamp>_<frame>; the film is everything before the numbers."""
    match = _FILM_PATTERN.match(stem)
    return match.group(1) if match else stem


def class_index(folder: str) -> int:
    lowered = [name.lower() for name in EMOTIONS]
    try:
        return lowered.index(folder.lower())
    except ValueError:
        raise ValueError(f"folder '{folder}' is not one of the classes {EMOTIONS}") from None


def scan(root: Path) -> list[Sample]:
    """Every image under root, sorted by path, with its content hash."""
    samples = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        label = class_index(folder.name)
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() in IMAGE_EXTENSIONS:
                digest = hashlib.sha256(path.read_bytes()).hexdigest()
                rel = f"{folder.name}/{path.name}"
                samples.append(Sample(rel, digest, label, film_of(path.stem)))
    if not samples:
        raise FileNotFoundError(f"no images under {root}/<Class>/ (classes: {', '.join(EMOTIONS)})")
    return samples


def _random_split(samples: list[Sample], rng: random.Random) -> dict[str, str]:
    """Stratified by class, with identical images (same hash) always on the same side."""
    groups: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        groups[s.sha256].append(s)
    by_class: dict[int, list[str]] = defaultdict(list)
    for digest, members in sorted(groups.items()):
        by_class[min(m.label for m in members)].append(digest)
    assignment = {}
    for label in sorted(by_class):
        digests = by_class[label]
        rng.shuffle(digests)
        n_test = round(len(digests) * TEST_FRACTION)
        for i, digest in enumerate(digests):
            assignment[digest] = "test" if i < n_test else "train"
    return {s.relpath: assignment[s.sha256] for s in samples}


def _film_split(samples: list[Sample], rng: random.Random) -> dict[str, str]:
    """Whole films go to test, greedily, while that brings every class nearer 20%."""
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in samples:
        counts[s.film][s.label] += 1
    totals = Counter(s.label for s in samples)
    target = {c: TEST_FRACTION * n for c, n in totals.items()}
    films = sorted(counts)
    rng.shuffle(films)
    test: Counter = Counter()
    test_films = set()

    def cost(counter: Counter) -> float:
        return sum((counter[c] - target[c]) ** 2 for c in totals)

    for film in films:
        candidate = test + counts[film]
        if cost(candidate) < cost(test):
            test, test_films = candidate, test_films | {film}
    # Identical images must not straddle the split: pull duplicates onto the test side.
    hashes_in_test = {s.sha256 for s in samples if s.film in test_films}
    return {s.relpath: "test" if s.film in test_films or s.sha256 in hashes_in_test else "train" for s in samples}


def validation_sides(samples: list[Sample], seed: int = SPLIT_SEED) -> dict[str, str]:
    """The fixed split's training side cut again by film, as the film-disjoint split is cut:
    relpath -> "train", "test" (the held-out films: validation) or "" (the fixed split's test side,
    never used). Derived from the committed manifest, so it is the same on every machine."""
    train_side = [s for s in samples if s.split_random == "train"]
    sides = _film_split(train_side, random.Random(seed))
    return {s.relpath: sides.get(s.relpath, "") for s in samples}


def validation_folds(samples: list[Sample], seed: int = SPLIT_SEED) -> dict[str, int]:
    """relpath -> fold (0 .. FOLDS-1) of the fixed split's training side, -1 for its test side. Fold 0
    holds the films ``validation_sides`` holds out; every other training-side film goes, largest
    first, to the fold that keeps each class's count nearest an equal share. Whole films, so
    identical frames (one film) never straddle folds; the same on every machine."""
    val = validation_sides(samples, seed)
    folds = {s.relpath: (0 if val[s.relpath] == "test" else -1) for s in samples}
    counts: dict[str, Counter] = defaultdict(Counter)
    for s in samples:
        if val[s.relpath] == "train":
            counts[s.film][s.label] += 1
    totals = sum(counts.values(), Counter())
    target = {c: n / (FOLDS - 1) for c, n in totals.items()}
    filled = {k: Counter() for k in range(1, FOLDS)}

    def cost_with(fold: int, film: str) -> float:
        return sum(
            (filled[k][c] + (counts[film][c] if k == fold else 0) - target[c]) ** 2 for k in filled for c in totals
        )

    fold_of = {}
    for film in sorted(counts, key=lambda f: (-sum(counts[f].values()), f)):
        best = min(filled, key=lambda k: (cost_with(k, film), k))
        filled[best] += counts[film]
        fold_of[film] = best
    for s in samples:
        if val[s.relpath] == "train":
            folds[s.relpath] = fold_of[s.film]
    return folds


def check_fold(fold: int) -> None:
    if not 0 <= fold < FOLDS:
        raise ValueError(f"cross-validation has {FOLDS} folds: seeds 0-{FOLDS - 1} name them, not {fold}")


def fold_sides(samples: list[Sample], fold: int) -> dict[str, str]:
    """relpath -> "train", "test" (fold ``fold``'s films) or "" (the fixed split's test side, never used)."""
    check_fold(fold)
    folds = validation_folds(samples)
    return {r: "" if k < 0 else "test" if k == fold else "train" for r, k in folds.items()}


def make_manifest(root: Path, seed: int = SPLIT_SEED) -> list[Sample]:
    samples = scan(root)
    random_side = _random_split(samples, random.Random(seed))
    film_side = _film_split(samples, random.Random(seed))
    return [Sample(s.relpath, s.sha256, s.label, s.film, random_side[s.relpath], film_side[s.relpath]) for s in samples]


FIELDS = ("relpath", "sha256", "label", "film", "split_random", "split_film")


def write_manifest(samples: list[Sample], path: Path = MANIFEST_PATH) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(("relpath", "sha256", "class", "film", "split_random", "split_film"))
        for s in samples:
            writer.writerow((s.relpath, s.sha256, EMOTIONS[s.label], s.film, s.split_random, s.split_film))


def read_manifest(path: Path = MANIFEST_PATH) -> list[Sample]:
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return [
        Sample(r["relpath"], r["sha256"], class_index(r["class"]), r["film"], r["split_random"], r["split_film"])
        for r in rows
    ]


def manifest_hash(path: Path = MANIFEST_PATH) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16]


def check_data_matches(root: Path, samples: list[Sample]) -> None:
    """Refuse to train if the data on disk is not the data the split was made from."""
    on_disk = {s.relpath: s.sha256 for s in scan(root)}
    expected = {s.relpath: s.sha256 for s in samples}
    if on_disk != expected:
        missing = sorted(set(expected) - set(on_disk))[:3]
        changed = sorted(k for k in expected if k in on_disk and on_disk[k] != expected[k])[:3]
        raise ValueError(
            f"{root} does not match the split manifest {MANIFEST_PATH} "
            f"(missing e.g. {missing}, changed e.g. {changed}); rerun `python -m training split`"
        )
