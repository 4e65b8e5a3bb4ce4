"""The reviewed lists of detector boxes that are not faces (made by eye on Table 1's contact sheets)."""

from __future__ import annotations

from face_pipeline.params import VIOLA_JONES, YUNET
from training.sfew import MANIFEST_PATH

FALSE_POSITIVES_PATH = MANIFEST_PATH.parent / "false_positives.txt"
PATHS = {VIOLA_JONES: FALSE_POSITIVES_PATH, YUNET: MANIFEST_PATH.parent / "false_positives_yunet.txt"}


def reviewed_false_positives(detector: str = VIOLA_JONES) -> set[str]:
    """Frame names (relpath) whose largest box of ``detector`` a person judged not to be a face."""
    path = PATHS[detector]
    if not path.exists():
        return set()
    lines = path.read_text().splitlines()
    return {line.split("#")[0].strip() for line in lines if line.split("#")[0].strip()}
