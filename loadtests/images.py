"""The images the load test sends, made in memory so the test needs nothing outside the repo.

Faces come from tests/fixtures/astronaut.png (public domain), cut out with a feathered
ellipse, scaled and pasted onto synthetic backgrounds (gradients, blurred blobs, film grain):

- ``frame``: 720x576 JPEG, one face of 80-190 px, like an SFEW movie frame;
- ``multi``: 1024x768 JPEG with 2-4 faces;
- ``noface``: 720x576 background only;
- ``small``: 240x180 JPEG with one face of about 70 px;
- ``large``: 2048x1536 JPEG with one face of 250-400 px (a phone photo).

With a folder of real frames (``sfew_images``; the load test takes it from $LOADTEST_SFEW),
``frame`` is replaced by those files' bytes, sent as they are.

    python -m loadtests.images --out /tmp/loadtest-images --check   # look at them, count faces
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
FACE_SOURCE = ROOT / "tests" / "fixtures" / "astronaut.png"
CACHE = ROOT / ".cache" / "loadtests"
# The astronaut's face in the fixture (paper-faithful detector: x=86, y=30, 53x53), with room
# for the hair and chin so the pasted face looks like a face to the cascade.
FACE_BOX = (70, 8, 86, 96)  # x, y, width, height
KINDS = ("frame", "multi", "noface", "small", "large")
BOUNDARY = "loadtest0b5e9d1c4a7f"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"


def _face_patch() -> tuple[np.ndarray, np.ndarray]:
    """The face as RGB float32 and a feathered elliptical alpha mask (same size)."""
    rgb = np.asarray(Image.open(FACE_SOURCE).convert("RGB"), dtype=np.float32)
    x, y, w, h = FACE_BOX
    patch = rgb[y : y + h, x : x + w]
    mask = np.zeros((h, w), np.float32)
    cv2.ellipse(mask, (w // 2, h // 2), (int(w * 0.46), int(h * 0.48)), 0, 0, 360, 1.0, -1)
    mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=max(1.0, w / 20))
    return patch, mask


def background(rng: np.random.Generator, width: int, height: int) -> np.ndarray:
    """A blurry, grainy scene: a gradient, soft blobs and film grain (float32 RGB)."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(20, 120, size=3).astype(np.float32)
    tilt = rng.uniform(-60, 60, size=3).astype(np.float32)
    img = base + tilt * (xx / width)[..., None] + rng.uniform(-30, 30) * (yy / height)[..., None]
    small = rng.uniform(0, 1, size=(max(2, height // 64), max(2, width // 64), 3)).astype(np.float32)
    img += 70 * (cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC) - 0.5)
    for _ in range(int(rng.integers(3, 8))):
        colour = rng.uniform(0, 200, size=3).tolist()
        centre = (int(rng.integers(0, width)), int(rng.integers(0, height)))
        axes = (int(rng.integers(width // 12, width // 3)), int(rng.integers(height // 12, height // 3)))
        layer = img.copy()
        cv2.ellipse(layer, centre, axes, float(rng.uniform(0, 180)), 0, 360, colour, -1)
        img = 0.6 * img + 0.4 * layer
    img = cv2.GaussianBlur(img, (0, 0), sigmaX=2.0)
    img += rng.normal(0, 3, size=img.shape).astype(np.float32)
    # Spread every channel over the whole range, as a real scene's histogram is: the detector
    # equalises the histogram of the whole frame, and a narrow one would crush a pasted face.
    channels = [cv2.equalizeHist(np.clip(c, 0, 255).astype(np.uint8)) for c in cv2.split(img)]
    return cv2.merge(channels).astype(np.float32) * 0.85 + 10


def paste_face(img: np.ndarray, size: int, x: int, y: int, rng: np.random.Generator) -> None:
    """Paste the face, ``size`` px wide, with its top-left corner at (x, y), in place."""
    patch, mask = _face_patch()
    h = int(round(size * patch.shape[0] / patch.shape[1]))
    face = cv2.resize(patch, (size, h), interpolation=cv2.INTER_CUBIC)
    alpha = cv2.resize(mask, (size, h), interpolation=cv2.INTER_LINEAR)[..., None]
    face = face * rng.uniform(0.75, 1.1)  # lighting
    region = img[y : y + h, x : x + size]
    img[y : y + h, x : x + size] = alpha * face + (1 - alpha) * region


def _jpeg(img: np.ndarray, quality: int = 88) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(out, "JPEG", quality=quality)
    return out.getvalue()


def _scene(rng: np.random.Generator, width: int, height: int, sizes: Iterable[int]) -> bytes:
    img = background(rng, width, height)
    taken: list[tuple[int, int, int]] = []
    for size in sizes:
        h = int(size * FACE_BOX[3] / FACE_BOX[2])
        for _ in range(50):  # place without overlapping the faces already there
            x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - h))
            if all(x + size < ox or ox + os_ < x or y + h < oy or oy + os_ * 1.2 < y for ox, oy, os_ in taken):
                break
        taken.append((x, y, size))
        paste_face(img, size, x, y, rng)
    return _jpeg(img)


def synth_images(per_kind: int = 8, seed: int = 0) -> dict[str, list[bytes]]:
    """``per_kind`` JPEGs of every kind in KINDS, the same bytes for the same seed."""
    rng = np.random.default_rng(seed)
    out: dict[str, list[bytes]] = {k: [] for k in KINDS}
    for _ in range(per_kind):
        out["frame"].append(_scene(rng, 720, 576, [int(rng.integers(80, 190))]))
        faces = int(rng.integers(2, 5))
        out["multi"].append(_scene(rng, 1024, 768, [int(rng.integers(70, 150)) for _ in range(faces)]))
        out["noface"].append(_scene(rng, 720, 576, []))
        out["small"].append(_scene(rng, 240, 180, [int(rng.integers(64, 80))]))
        out["large"].append(_scene(rng, 2048, 1536, [int(rng.integers(250, 400))]))
    return out


def cached_synth_images(per_kind: int = 8, seed: int = 0) -> dict[str, list[bytes]]:
    """``synth_images``, kept under .cache/loadtests/ after the first call (making them takes seconds)."""
    folder = CACHE / f"synth-seed{seed}-n{per_kind}"
    done = folder / "complete"
    if not done.exists():
        images = synth_images(per_kind, seed)
        tmp = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
        tmp.mkdir(parents=True, exist_ok=True)
        for kind, blobs in images.items():
            for i, blob in enumerate(blobs):
                (tmp / f"{kind}_{i:03d}.jpg").write_bytes(blob)
        (tmp / "complete").write_text("")
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            tmp.rename(folder)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
        return images
    return {kind: [p.read_bytes() for p in sorted(folder.glob(f"{kind}_*.jpg"))] for kind in KINDS}


def multipart(field: str, blobs: list[bytes], options: dict[str, str] | None = None) -> bytes:
    """A multipart/form-data body (CONTENT_TYPE) with every blob in ``field``, repeated for several,
    then each option (e.g. ``max_faces``) as a plain form field."""
    parts = []
    for i, blob in enumerate(blobs):
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="image{i}.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        parts.append(head + blob + b"\r\n")
    for name, value in (options or {}).items():
        parts.append(f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode())
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


def sfew_paths(folder: str | Path, limit: int | None = None) -> list[Path]:
    """The JPEG frames under ``folder`` (<Class>/*.jpg or flat), sorted; with ``limit``, that many spread evenly."""
    root = Path(folder)
    paths = sorted(root.glob("*/*.jpg")) or sorted(root.glob("*.jpg"))
    if not paths:
        raise FileNotFoundError(f"no .jpg frames under {root}")
    if limit:
        paths = paths[:: max(1, len(paths) // limit)][:limit]
    return paths


def sfew_images(folder: str | Path, limit: int | None = None) -> list[bytes]:
    """The bytes of ``sfew_paths``' frames, as stored."""
    return [p.read_bytes() for p in sfew_paths(folder, limit)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, help="write the images here")
    parser.add_argument("--per-kind", type=int, default=8)
    parser.add_argument("--check", action="store_true", help="count faces with the paper-faithful detector")
    args = parser.parse_args(argv)
    images = synth_images(args.per_kind)
    for kind, blobs in images.items():
        line = f"{kind}: {len(blobs)} images, {sum(map(len, blobs)) / len(blobs) / 1024:.0f} KiB on average"
        if args.check:
            from face_pipeline import PAPER_DETECTOR, decode_image, detect_faces

            counts = [len(detect_faces(decode_image(b), PAPER_DETECTOR)) for b in blobs]
            line += f", faces found per image: {counts}"
        print(line)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            for i, blob in enumerate(blobs):
                (args.out / f"{kind}_{i}.jpg").write_bytes(blob)


if __name__ == "__main__":
    main()
