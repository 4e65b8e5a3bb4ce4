"""YuNet in the face pipeline: the vendored file, its checksum, the box mapping, the detector choice."""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from face_pipeline import PAPER_DETECTOR, PreprocessParams, detect_faces, face_crops, grow_box, iou, read_image_file
from face_pipeline.params import YUNET, YUNET_DETECTOR, with_detector
from face_pipeline.yunet import YUNET_PATH, YUNET_SHA256, DetectorFileError, mapped_boxes, yunet_bytes

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(("name", "faces"), [("astronaut.png", 1), ("two_faces.jpg", 2), ("no_face.jpg", 0)])
def test_yunet_finds_the_fixture_faces_where_viola_jones_does(name: str, faces: int) -> None:
    rgb = read_image_file(str(FIXTURES / name))
    found = detect_faces(rgb, YUNET_DETECTOR)
    paper = detect_faces(rgb, PAPER_DETECTOR)
    assert len(found) == len(paper) == faces
    assert found == sorted(found, key=lambda b: -b.area)  # largest first
    for mine, theirs in zip(found, paper, strict=True):  # mapped to Viola-Jones framing: the same face
        assert iou(mine, theirs) > 0.6


def test_limit_and_min_size() -> None:
    rgb = read_image_file(str(FIXTURES / "two_faces.jpg"))
    both = detect_faces(rgb, YUNET_DETECTOR)
    assert detect_faces(rgb, YUNET_DETECTOR, limit=1) == both[:1]
    assert detect_faces(rgb, YUNET_DETECTOR, min_size=both[1].width + 1) == both[:1]


def test_a_face_that_fills_a_small_image_is_found_by_enlarging_it() -> None:
    """A 32 px face crop, enlarged to min_side for YuNet: one face, in the crop's own pixels."""
    import cv2

    rgb = read_image_file(str(FIXTURES / "astronaut.png"))
    (box,) = detect_faces(rgb, YUNET_DETECTOR)
    grown = grow_box(box, box.width // 10, rgb.shape[1], rgb.shape[0])
    face = rgb[grown.y : grown.y + grown.height, grown.x : grown.x + grown.width]
    small = cv2.resize(face, (32, 32), interpolation=cv2.INTER_AREA)
    (found,) = detect_faces(small, YUNET_DETECTOR, min_size=1)
    assert found.x >= 0 and found.y >= 0 and found.x + found.width <= 32 and found.y + found.height <= 32
    assert found.width >= 24


def test_detection_side_keeps_a_min_size_face_as_large_as_in_a_sfew_frame() -> None:
    """720 px (a SFEW frame) and smaller: max_side, as before; larger photos in proportion, up to
    largest_side; a client's larger min_size lets a large photo shrink further; 0 switches it off."""
    from face_pipeline.yunet import detection_side

    assert detection_side(720, YUNET_DETECTOR) == detection_side(256, YUNET_DETECTOR) == 320
    assert detection_side(1440, YUNET_DETECTOR) == 640
    assert detection_side(8000, YUNET_DETECTOR) == YUNET_DETECTOR.largest_side
    assert detection_side(4032, YUNET_DETECTOR, min_size=200) == 320
    assert detection_side(4032, YUNET_DETECTOR, min_size=60) == 896
    assert detection_side(8000, replace(YUNET_DETECTOR, min_face_px=0.0)) == 320


def test_small_faces_in_a_large_photo_are_found() -> None:
    """64 faces of 50 px in a 2048-px photo: at 320 px they are 8 px and YuNet finds none of them;
    kept at min_face_px (here 908 px) it finds every one, each on its own tile."""
    rgb = read_image_file(str(FIXTURES / "face.jpg"))  # 256 px, one 50-px face
    (single,) = detect_faces(rgb, YUNET_DETECTOR)
    group = np.ascontiguousarray(np.tile(rgb, (8, 8, 1)))
    assert len(detect_faces(group, replace(YUNET_DETECTOR, min_face_px=0.0))) < 8
    found = detect_faces(group, YUNET_DETECTOR)
    assert len(found) == 64
    tiles = {(b.y // 256, b.x // 256) for b in found}
    assert len(tiles) == 64
    for box in found:  # each where the face is on its tile, framed as in the photo alone
        moved = single._replace(x=single.x + box.x // 256 * 256, y=single.y + box.y // 256 * 256)
        assert iou(box, moved) > 0.7


def test_a_close_up_in_a_large_photo_is_still_found() -> None:
    """A face filling a 2048-px photo: seen only at the larger side (910 px) YuNet misses it, so the
    photo is also seen at max_side and the two passes merged: one face, not two."""
    import cv2

    from face_pipeline.yunet import detection_side

    rgb = read_image_file(str(FIXTURES / "face.jpg"))
    (box,) = detect_faces(rgb, YUNET_DETECTOR)
    face = rgb[box.y : box.y + box.height, box.x : box.x + box.width]
    close_up = cv2.resize(face, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    fine = detection_side(2048, YUNET_DETECTOR)
    assert fine > YUNET_DETECTOR.max_side
    assert detect_faces(close_up, replace(YUNET_DETECTOR, max_side=fine)) == []
    (found,) = detect_faces(close_up, YUNET_DETECTOR)
    assert found.width > 1500


def test_garbage_rows_from_yunet_are_dropped_not_a_crash() -> None:
    """On images under its stride, YuNet sometimes returns NaN rows (uninitialised memory: it varies
    from call to call); round(NaN) would have been a 500."""
    raw = np.array([[np.nan, 1.0, np.nan, 5.0] + [0.0] * 11, [2.0, 3.0, 20.0, 24.0] + [0.0] * 11], np.float32)
    assert len(mapped_boxes(raw, YUNET_DETECTOR, 32, 32)) == 1


def test_fit_sides_enlarges_small_images_and_shrinks_large_ones() -> None:
    from face_pipeline.image_io import fit_sides

    for shape, scale in [((48, 40, 3), 160 / 48), ((200, 300, 3), 1.0), ((640, 480, 3), 0.5)]:
        out, applied = fit_sides(np.zeros(shape, np.uint8), 160, 320)
        assert applied == pytest.approx(scale)
        assert out.shape[:2] == (round(shape[0] * scale), round(shape[1] * scale))


def test_box_mapping_makes_a_square_scaled_and_shifted_box() -> None:
    raw = np.array([[100.0, 50.0, 40.0, 90.0] + [0.0] * 11], np.float32)  # x, y, w, h of a tall YuNet box
    params = replace(YUNET_DETECTOR, box_scale=1.5, box_dx=0.25, box_dy=-0.1)
    ((x, y, w, h),) = mapped_boxes(raw, params, 1000, 1000)
    side = 1.5 * math.sqrt(40 * 90)
    cx, cy = 120 + 0.25 * 40, 95 - 0.1 * 90
    assert abs(w - side) <= 1 and abs(h - side) <= 1
    assert abs(x + w / 2 - cx) <= 1 and abs(y + h / 2 - cy) <= 1
    # Clamped to the image.
    ((x, y, w, h),) = mapped_boxes(raw, params, 130, 80)
    assert x >= 0 and y >= 0 and x + w <= 130 and y + h <= 80


def test_checksum_refuses_a_damaged_model_file(tmp_path: Path) -> None:
    assert len(yunet_bytes()) == YUNET_PATH.stat().st_size == 229_738
    damaged = tmp_path / "yunet.onnx"
    data = bytearray(YUNET_PATH.read_bytes())
    data[1000] ^= 0xFF
    damaged.write_bytes(bytes(data))
    with pytest.raises(DetectorFileError, match="expected " + YUNET_SHA256):
        yunet_bytes(damaged)
    with pytest.raises(DetectorFileError, match="cannot be read"):
        yunet_bytes(tmp_path / "missing.onnx")


def test_with_detector_changes_only_detection() -> None:
    params = PreprocessParams(mean=(0.1, 0.2, 0.3), margin_px=12, grayscale=True)
    yunet = with_detector(params, "yunet")
    assert yunet.detector.kind == YUNET and replace(yunet, detector=params.detector) == params
    assert with_detector(params, None) is params and with_detector(params, "model") is params
    assert with_detector(yunet, "viola-jones").detector == PAPER_DETECTOR
    with pytest.raises(ValueError, match="unknown detector 'turbo'"):
        with_detector(params, "turbo")


def test_a_face_becomes_the_same_kind_of_crop_whichever_detector_found_it() -> None:
    rgb = read_image_file(str(FIXTURES / "astronaut.png"))
    params = PreprocessParams(input_size=64)
    (vj_box,), vj = face_crops(rgb, params)
    (yu_box,), yu = face_crops(rgb, with_detector(params, "yunet"))
    assert vj.shape == yu.shape == (1, 64, 64, 3)
    # Same framing: the regions cut out (box plus margin) nearly coincide, and are squares of similar size.
    vj_cut, yu_cut = (grow_box(b, params.margin_px, 256, 256) for b in (vj_box, yu_box))
    assert iou(vj_cut, yu_cut) > 0.75 and abs(vj_cut.width - yu_cut.width) <= 0.1 * vj_cut.width


def test_framed_face_frames_a_loose_crop_like_a_detected_face_and_keeps_a_faceless_one_whole() -> None:
    from face_pipeline import framed_face
    from face_pipeline.preprocess import resize_face

    params = PreprocessParams(input_size=64, detector=YUNET_DETECTOR)
    photo = read_image_file(str(FIXTURES / "astronaut.png"))
    box, crop = framed_face(photo, params)
    boxes, crops = face_crops(photo, params, max_faces=1)
    assert box == boxes[0] and np.array_equal(crop, crops[0])
    empty = np.full((120, 160, 3), 128, np.uint8)
    box, crop = framed_face(empty, params)
    assert box is None and np.array_equal(crop, resize_face(empty, 64))


def test_framed_face_takes_yunets_likeliest_face_when_it_finds_none_at_its_threshold() -> None:
    """A blurred face (the photo shrunk to 20 px and enlarged back) scores under 0.6: the crop is still
    framed around the best-scoring candidate, the face, not around the larger background candidate."""
    import cv2

    from face_pipeline import framed_face
    from face_pipeline.preprocess import ONE_FACE_SCORE

    photo = read_image_file(str(FIXTURES / "astronaut.png"))
    params = PreprocessParams(input_size=64, detector=YUNET_DETECTOR)
    (face,) = detect_faces(photo, YUNET_DETECTOR)
    blurred = cv2.resize(cv2.resize(photo, (20, 20), interpolation=cv2.INTER_AREA), (256, 256))
    assert detect_faces(blurred, YUNET_DETECTOR) == []
    assert len(detect_faces(blurred, replace(YUNET_DETECTOR, score_threshold=ONE_FACE_SCORE))) > 1
    box, _ = framed_face(blurred, params)
    assert box is not None and iou(box, face) > 0.6
