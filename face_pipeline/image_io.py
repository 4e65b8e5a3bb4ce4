"""Turn untrusted image bytes into an RGB uint8 array, or a clear reason why not.

Training reads its files through ``decode_image`` too, so an image means the same pixels
to both sides.
"""

from __future__ import annotations

import io
import os
import warnings

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

DEFAULT_MAX_PIXELS = 40_000_000  # about a 7700x5200 photo; larger is refused before decoding

# Formats a camera, phone or browser produces, and PGM/PPM (Pillow's "PPM"), the plain raster format
# older face data sets ship in. Everything else Pillow can open (EPS, PDF, ICNS, ...) is refused as
# unsupported rather than guessed at.
SUPPORTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF", "MPO", "PPM"})


class ImageError(ValueError):
    """Base class: the input is not an image we can use. ``status`` is the HTTP code."""

    status = 400


class InvalidImage(ImageError):
    status = 400


class UnsupportedImage(ImageError):
    status = 415


class ImageTooLarge(ImageError):
    status = 413


def decode_image(data: bytes, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Decode ``data`` to an upright HxWx3 RGB uint8 array (EXIF rotation applied).

    Greyscale, palette, alpha (composited on white), 16-bit and CMYK inputs are converted;
    for animations the first frame is used. The pixel count is checked from the header,
    before any pixel is decoded, so a decompression bomb costs nothing.
    """
    if not data:
        raise InvalidImage("the upload is empty: send the bytes of a JPEG, PNG or WebP image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise InvalidImage("the upload is not an image this service can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge("the image has too many pixels") from None
    except Exception as exc:  # Pillow raises many types for malformed headers
        raise InvalidImage(f"the image header is corrupt ({type(exc).__name__})") from None

    if image.format not in SUPPORTED_FORMATS:
        raise UnsupportedImage(
            f"image format {image.format} is not supported; send JPEG, PNG, WebP, GIF, BMP, TIFF or PGM/PPM"
        )
    width, height = image.size
    if width < 1 or height < 1:
        raise InvalidImage("the image has no pixels")
    if width * height > max_pixels:
        raise ImageTooLarge(f"the image is {width}x{height} = {width * height} pixels; the limit is {max_pixels}")
    try:
        image.seek(0)
        image.load()
        ImageOps.exif_transpose(image, in_place=True)  # in place: no copy when upright already
        return _to_rgb(image)
    except ImageError:
        raise
    except Exception as exc:  # truncated streams, bad EXIF, broken palettes, ...
        raise InvalidImage(f"the image data is truncated or corrupt ({type(exc).__name__})") from None


def _to_rgb(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / 32-bit greyscale: stretch the used range to 0..255 rather than clipping.
        arr = np.asarray(image, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        grey = ((arr - lo) * scale).round().astype(np.uint8)
        return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))
    if mode == "P":
        image = image.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    rgb = np.asarray(image if mode == "RGB" else image.convert("RGB"), dtype=np.uint8)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise InvalidImage(f"unexpected pixel layout {rgb.shape}")
    return np.ascontiguousarray(rgb)


def fit_sides(rgb: np.ndarray, min_side: int, max_side: int) -> tuple[np.ndarray, float]:
    """``shrink``, or an image whose longer side is under ``min_side`` enlarged to it (bilinear)."""
    height, width = rgb.shape[:2]
    if max(height, width) >= min_side:
        return shrink(rgb, max_side)
    scale = min_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_LINEAR), scale


def shrink(rgb: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """The image with its longer side at most ``max_side`` (area filter), and the scale applied."""
    height, width = rgb.shape[:2]
    scale = min(1.0, max_side / max(height, width))
    if scale < 1.0:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    return rgb, scale


def read_image_file(path: str) -> np.ndarray:
    """``decode_image`` on a file, with no pixel limit (data sets are trusted)."""
    with open(path, "rb") as handle:
        return decode_image(handle.read(), max_pixels=1 << 62)


def read_upload(path: str, max_bytes: int, max_pixels: int) -> np.ndarray:
    """An untrusted upload as upright RGB: refused before reading when over ``max_bytes`` (413),
    then ``decode_image`` with its pixel limit."""
    size = os.stat(path).st_size
    if size > max_bytes:
        raise ImageTooLarge(f"the upload is {size} bytes; the limit is {max_bytes} (EMOTION_MAX_UPLOAD_BYTES)")
    with open(path, "rb") as handle:
        return decode_image(handle.read(), max_pixels=max_pixels)
