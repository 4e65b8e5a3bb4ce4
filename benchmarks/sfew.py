"""Where the SFEW frames are: read by path from ../shared, never copied into the repo."""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import cv2

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SFEW = ROOT.parent / "shared" / "data" / "sfew675" / "images"
RESULTS = ROOT / "benchmarks" / "results"


def sfew_dir(path: str | Path | None = None) -> Path:
    """``path``, else $SFEW_DIR, else ../shared/data/sfew675/images beside the checkout."""
    chosen = Path(path) if path else Path(os.environ.get("SFEW_DIR") or DEFAULT_SFEW)
    if not chosen.is_dir():
        raise SystemExit(f"no SFEW images at {chosen}: pass --sfew DIR or set SFEW_DIR")
    return chosen


def sfew_frames(path: str | Path | None = None, every: int = 1) -> list[Path]:
    """The frames <Class>/*.jpg in a fixed order (every ``every``-th one)."""
    frames = sorted(sfew_dir(path).glob("*/*.jpg"))
    if not frames:
        raise SystemExit(f"no <Class>/*.jpg frames under {sfew_dir(path)}")
    return frames[::every]


def run_meta(frames: list[Path] | list[str], sfew: str | Path | None) -> dict[str, Any]:
    """What a detection benchmark's figures depend on: the frames, the machine, its load, OpenCV."""
    return {
        "frames": len(frames),
        "sfew": str(sfew_dir(sfew)),
        "cpu": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
        "load_average": os.getloadavg()[0],
        "opencv": cv2.__version__,
    }
