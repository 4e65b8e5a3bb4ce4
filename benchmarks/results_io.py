"""Where every benchmark leaves its figures: <out>.json (data) and <out>.md (the table), printed too."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save_results(summary: dict[str, Any], out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(summary, indent=1) + "\n")
    out.with_suffix(".md").write_text(text)
    print(text)
