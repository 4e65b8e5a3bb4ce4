"""The shared face pipeline: decoding odd images, detection, cropping, normalisation."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from face_pipeline import (
    PAPER_DETECTOR,
    Box,
    ImageTooLarge,
    InvalidImage,
    PreprocessParams,
    UnsupportedImage,
    crop_face,
    decode_image,
    detect_faces,
    face_tensors,
    grow_box,
    iou,
    normalize,
)
from face_pipeline.metadata import ModelMetadataError, metadata_props, params_from_metadata

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return decode_image((FIXTURES / "astronaut.png").read_bytes())


def encode(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **kwargs)
    return buffer.getvalue()


def test_finds_the_astronauts_face(astronaut: np.ndarray) -> None:
    boxes = detect_faces(astronaut, PAPER_DETECTOR)
    assert len(boxes) == 1
    face = boxes[0]
    # Her face sits in the upper middle of the 256x256 photo.
    assert 60 < face.x + face.width / 2 < 160 and 30 < face.y + face.height / 2 < 100
    assert 35 <= face.width <= 80


def test_no_face_in_flat_or_noise_images() -> None:
    rng = np.random.default_rng(0)
    assert detect_faces(np.full((200, 300, 3), 128, np.uint8), PAPER_DETECTOR) == []
    assert detect_faces(rng.integers(0, 255, (240, 320, 3), dtype=np.uint8), PAPER_DETECTOR) == []


def test_images_smaller_than_the_minimum_face_give_no_box() -> None:
    assert detect_faces(np.zeros((1, 1, 3), np.uint8), PAPER_DETECTOR) == []
    assert detect_faces(np.zeros((20, 400, 3), np.uint8), PAPER_DETECTOR) == []


def test_huge_image_is_detected_downscaled_and_boxes_map_back(astronaut: np.ndarray) -> None:
    big = np.kron(astronaut, np.ones((10, 10, 1), np.uint8))  # 2560x2560, beyond max_side
    boxes = detect_faces(big, PAPER_DETECTOR)
    small = detect_faces(astronaut, PAPER_DETECTOR)[0]
    expected = Box(small.x * 10, small.y * 10, small.width * 10, small.height * 10)
    assert boxes and iou(boxes[0], expected) > 0.6


def test_several_faces_come_largest_first(astronaut: np.ndarray) -> None:
    smaller = cv2.resize(astronaut, (192, 192), interpolation=cv2.INTER_AREA)
    canvas = np.full((256, 512, 3), 90, np.uint8)
    canvas[:, :256] = astronaut
    canvas[32:224, 300:492] = smaller
    boxes = detect_faces(canvas, PAPER_DETECTOR)
    assert len(boxes) == 2
    assert boxes[0].area > boxes[1].area and boxes[0].x < 256 <= boxes[1].x


def test_grow_box_adds_the_margin_and_clamps_to_the_image() -> None:
    assert grow_box(Box(50, 50, 40, 40), 20, 200, 200) == Box(30, 30, 80, 80)
    assert grow_box(Box(5, 10, 40, 40), 20, 60, 200) == Box(0, 0, 60, 70)


def test_crop_and_normalise_shapes_and_values(astronaut: np.ndarray) -> None:
    params = PreprocessParams(mean=(0.4, 0.5, 0.6), std=(0.2, 0.25, 0.3))
    box = detect_faces(astronaut, PAPER_DETECTOR)[0]
    crop = crop_face(astronaut, box, params)
    assert crop.shape == (120, 120, 3) and crop.dtype == np.uint8
    tensor = normalize(crop, params)
    assert tensor.shape == (3, 120, 120) and tensor.dtype == np.float32
    manual = (crop[..., 1].astype(np.float64) / 255 - 0.5) / 0.25
    np.testing.assert_allclose(tensor[1], manual, atol=1e-5)


def test_face_tensors_matches_detect_then_crop(astronaut: np.ndarray) -> None:
    """Serving's one-call path and training's step-by-step path give identical tensors."""
    params = PreprocessParams(mean=(0.45, 0.4, 0.35), std=(0.25, 0.24, 0.23))
    boxes, tensors = face_tensors(astronaut, params)
    step_by_step = normalize(
        np.stack([crop_face(astronaut, b, params) for b in detect_faces(astronaut, params.detector)]), params
    )
    assert boxes == detect_faces(astronaut, params.detector)
    assert np.array_equal(tensors, step_by_step)


def test_no_face_gives_empty_batch_or_whole_image_on_request() -> None:
    blank = np.full((90, 160, 3), 200, np.uint8)
    params = PreprocessParams()
    boxes, tensors = face_tensors(blank, params)
    assert boxes == [] and tensors.shape == (0, 3, 120, 120)
    boxes, tensors = face_tensors(blank, params, whole_image_fallback=True)
    assert boxes == [Box(0, 0, 160, 90)] and tensors.shape == (1, 3, 120, 120)


# --- decoding real-world images -------------------------------------------------------------


@pytest.fixture(scope="module")
def photo() -> Image.Image:
    return Image.open(FIXTURES / "astronaut.png").convert("RGB")


def sixteen_bit(photo: Image.Image) -> Image.Image:
    grey = np.asarray(photo.convert("L"), np.uint16) * 257
    image = Image.fromarray(grey)
    assert image.mode.startswith("I;16")
    return image


@pytest.mark.parametrize("mode", ["L", "LA", "RGBA", "P", "1", "I;16", "CMYK"])
def test_every_pixel_mode_becomes_rgb(photo: Image.Image, mode: str) -> None:
    if mode == "I;16":
        data = encode(sixteen_bit(photo), "PNG")
    elif mode == "CMYK":
        data = encode(photo.convert("CMYK"), "JPEG")
    else:
        data = encode(photo.convert(mode), "PNG" if mode != "CMYK" else "JPEG")
    rgb = decode_image(data)
    assert rgb.shape == (256, 256, 3) and rgb.dtype == np.uint8
    assert rgb.std() > 10  # real content, not a blank frame


def test_sixteen_bit_face_is_still_found(photo: Image.Image) -> None:
    rgb = decode_image(encode(sixteen_bit(photo), "PNG"))
    assert detect_faces(rgb, PAPER_DETECTOR)


def test_transparent_pixels_become_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (10, 20, 30, 0))
    assert (decode_image(encode(rgba, "PNG")) == 255).all()


def test_exif_rotation_is_applied(photo: Image.Image) -> None:
    wide = photo.resize((256, 128))
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    rgb = decode_image(encode(wide, "JPEG", exif=exif))
    assert rgb.shape == (256, 128, 3)


def test_animated_gif_uses_the_first_frame() -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255))]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
    rgb = decode_image(data)
    assert rgb[0, 0, 0] > 200 and rgb[0, 0, 2] < 50


def test_webp_tiny_and_very_wide_images(photo: Image.Image) -> None:
    assert decode_image(encode(photo, "WEBP")).shape == (256, 256, 3)
    assert decode_image(encode(Image.new("RGB", (1, 1)), "PNG")).shape == (1, 1, 3)
    assert decode_image(encode(Image.new("RGB", (5000, 3)), "PNG")).shape == (3, 5000, 3)


@pytest.mark.parametrize("data", [b"", b"hello, not an image", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40])
def test_garbage_is_invalid(data: bytes) -> None:
    with pytest.raises(InvalidImage) as err:
        decode_image(data)
    assert err.value.status == 400 and str(err.value)


def test_truncated_jpeg_is_invalid(photo: Image.Image) -> None:
    data = encode(photo, "JPEG")
    with pytest.raises(InvalidImage):
        decode_image(data[: len(data) // 3])


def test_unsupported_format_is_415(photo: Image.Image) -> None:
    with pytest.raises(UnsupportedImage) as err:
        decode_image(encode(photo, "PCX"))
    assert err.value.status == 415 and "PCX" in str(err.value)


def test_pixel_limit_is_checked_from_the_header() -> None:
    data = encode(Image.new("L", (4000, 3000)), "PNG")
    with pytest.raises(ImageTooLarge) as err:
        decode_image(data, max_pixels=1_000_000)
    assert err.value.status == 413 and "4000x3000" in str(err.value)


def test_metadata_round_trip_and_missing_keys() -> None:
    params = PreprocessParams(mean=(0.1, 0.2, 0.3), std=(0.3, 0.2, 0.1), margin_px=12, margin_cap=0.25)
    props = metadata_props(params, "m", "1.0", {"commit": "abc"}, {"acc": 0.5})
    assert params_from_metadata(props) == params
    old = params.to_dict()
    del old["margin_cap"]  # metadata of models exported before the field existed: the paper's margin
    assert PreprocessParams.from_dict(old).margin_cap == 0.0
    with pytest.raises(ModelMetadataError):
        params_from_metadata({})


def test_margin_cap_frames_small_faces_tighter_and_leaves_large_ones_as_the_paper_does() -> None:
    from face_pipeline.preprocess import margin_for

    paper, capped = PreprocessParams(), PreprocessParams(margin_cap=0.25)
    small, large = Box(100, 100, 40, 40), Box(100, 100, 200, 200)
    assert margin_for(small, paper) == margin_for(large, paper) == margin_for(large, capped) == 20
    assert margin_for(small, capped) == 10
    rgb = np.zeros((400, 400, 3), np.uint8)
    rgb[100:140, 100:140] = 255  # the "face": the capped crop holds more face than background
    face_share = [crop_face(rgb, small, PreprocessParams(input_size=60, margin_cap=c)).mean() / 255 for c in (0, 0.25)]
    assert face_share[0] == pytest.approx(0.25, abs=0.02) and face_share[1] == pytest.approx(4 / 9, abs=0.02)


def test_grayscale_normalisation_puts_the_luma_in_every_channel() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (2, 8, 8, 3), dtype=np.uint8)
    params = PreprocessParams(mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), grayscale=True)
    out = normalize(crops, params)
    luma = crops.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    expected = (luma - 127.5) / 63.75
    for channel in range(3):
        np.testing.assert_allclose(out[:, channel], expected, rtol=1e-5, atol=1e-5)
    # The grey value OpenCV computes for the same pixels (to within its integer rounding).
    grey = cv2.cvtColor(crops[0], cv2.COLOR_RGB2GRAY).astype(np.float32)
    np.testing.assert_allclose(out[0, 0] * 63.75 + 127.5, grey, atol=0.51)
    assert PreprocessParams.from_dict(params.to_dict()) == params
    old = params.to_dict()
    del old["grayscale"]  # metadata of models exported before the field existed
    assert PreprocessParams.from_dict(old).grayscale is False
