"""Benchmarks' own logic: the `fer` comparison's worker protocol and scoring, the group-photo mosaics."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.fer_accuracy import FerLabels, score
from face_pipeline import EMOTIONS

# Speaks fer_worker.py's label protocol: a small sad face and a large surprised one, or none for "empty"; given a
# box, one face there, happy; an unreadable image, an error.
FAKE_WORKER = """
import json, sys
print("TensorFlow chatter before the worker is ready")
print(json.dumps({"ready": True}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    if "missing" in request["path"]:
        print(json.dumps({"faces": [], "error": "cannot read"}), flush=True)
        continue
    faces = [] if "empty" in request["path"] else [
        {"box": [0, 0, 10, 10], "emotions": {"sad": 0.9, "surprise": 0.1}},
        {"box": [5, 5, 40, 40], "emotions": {"angry": 0.2, "surprise": 0.7, "neutral": 0.1}},
    ]
    if request["box"] is not None:
        faces = [{"box": request["box"], "emotions": {"happy": 0.8, "sad": 0.2}}]
    print(json.dumps({"faces": faces}), flush=True)
"""


def test_fer_answers_are_read_as_its_largest_faces_class_in_our_order(tmp_path: Path) -> None:
    worker = tmp_path / "worker.py"
    worker.write_text(FAKE_WORKER)
    fer = FerLabels(Path(sys.executable), worker)
    try:
        assert fer.largest(Path("frame.jpg")) == EMOTIONS.index("Surprise")
        assert fer.largest(Path("frame.jpg"), [0, 0, 48, 48]) == EMOTIONS.index("Happy")  # the box reaches fer
        assert fer.largest(Path("empty.jpg")) is None
        with pytest.raises(RuntimeError, match="could not read"):
            fer.largest(Path("missing.jpg"))
    finally:
        fer.close()


def test_a_missed_face_counts_as_wrong_and_each_class_is_scored_on_its_own_images() -> None:
    happy, sad = EMOTIONS.index("Happy"), EMOTIONS.index("Sad")
    row = score([happy, None, sad, happy], [happy, happy, sad, sad])
    assert row["images"] == 4 and row["faces_found"] == 3
    assert row["accuracy"] == 0.5
    assert row["per_class"]["Happy"] == 0.5 and row["per_class"]["Sad"] == 0.5
    assert row["per_class"]["Fear"] is None  # no Fear image to score


def test_group_photo_tiles_keep_each_frames_face_and_score_it_by_overlap() -> None:
    """The mosaic benchmark: tiles row by row, each frame's face moved to its tile, a face found only by a
    box on it (IoU >= 0.5), a frame without a face not counted."""
    from benchmarks.group_photos import found, mosaic, tile_faces
    from face_pipeline import Box, read_image_file

    face = read_image_file(str(Path(__file__).parent / "fixtures" / "face.jpg"))  # 256 px
    frames = [face, face[::-1].copy(), face, face]
    image = mosaic(frames, 2)
    assert image.shape == (512, 512, 3)
    assert (image[256:, :256] == face).all() and (image[:256, 256:] == face[::-1]).all()
    truth = [Box(10, 20, 50, 50), None, Box(0, 0, 40, 40), Box(100, 100, 60, 60)]
    faces = tile_faces(frames, 2, truth)
    assert faces == [Box(10, 20, 50, 50), None, Box(0, 256, 40, 40), Box(356, 356, 60, 60)]
    assert found([Box(12, 22, 50, 50), Box(356, 356, 60, 60), Box(0, 0, 40, 40)], faces) == 2
