"""Command line: ``python -m training <command> --help``."""

from training.cli import main

main()
