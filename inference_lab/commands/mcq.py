"""`inference-lab mcq [CONFIG]`: multiple-choice scoring by log-likelihood, headless."""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "configs" / "mcq.json"


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=None,
                        help=f"JSON or YAML config (default: {DEFAULT_CONFIG.relative_to(DEFAULT_CONFIG.parents[1])})")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key (value read as JSON), repeatable")
    parser.add_argument("--output", "-o", help="override output_dir")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bar")


def build_config(args: argparse.Namespace):
    from ..config import load_config
    from ..mcq.config import MCQConfig

    overrides = list(args.set)
    if args.output:
        overrides.append(f"output_dir={args.output}")
    path = args.config if args.config is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None)
    return load_config(MCQConfig, path, overrides)


def main(args: argparse.Namespace) -> int:
    from ..mcq.runner import run_mcq

    run_mcq(build_config(args), show_progress=not args.no_progress)
    return 0
