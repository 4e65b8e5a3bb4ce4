"""One entry point for every training-side job; each subcommand names the module doing it."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_SFEW = Path("../shared/data/sfew675")
DEFAULT_FER = Path("../shared/data/fer2013/train")


def _cmd_split(args: argparse.Namespace) -> None:
    from training.sfew import MANIFEST_PATH, make_manifest, write_manifest

    samples = make_manifest(args.data / "images")
    write_manifest(samples)
    for which in ("random", "film"):
        test = sum(s.split(which) == "test" for s in samples)
        print(f"{which:>6} split: {len(samples) - test} train / {test} test")
    print(f"wrote {MANIFEST_PATH}")


def _cmd_table1(args: argparse.Namespace) -> None:
    from training.table1 import write_table1

    write_table1(args.data / "images", args.out)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("split", help="rewrite the fixed split manifest from the data")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW)
    p.set_defaults(func=_cmd_split)

    p = sub.add_parser("table1", help="build the face crops and the Table 1 detection report")
    p.add_argument("--data", type=Path, default=DEFAULT_SFEW)
    p.add_argument("--out", type=Path, default=Path("reports/table1"))
    p.set_defaults(func=_cmd_table1)

    args = parser.parse_args(argv)
    args.func(args)
