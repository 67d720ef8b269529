"""`inference-lab lora [CONFIG] [--set k=v] [--output DIR] [--fresh]`: LoRA-vs-base comparison."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "configs/lora_chunked.json"


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", nargs="?", default=DEFAULT_CONFIG,
                        help=f"JSON or YAML config (default {DEFAULT_CONFIG})")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key, e.g. --set inference.chunk_size=50 (repeatable)")
    parser.add_argument("--output", help="run folder (overrides output_dir); rerunning on it resumes")
    parser.add_argument("--fresh", action="store_true", help="delete this folder's earlier results first")
    parser.add_argument("--quiet", action="store_true", help="no banners or progress bars")


def main(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ..config import load_config
    from ..lora_vs_base import LoraVsBaseConfig, run_comparison
    from ..lora_vs_base.display import RunDisplay

    config_path = Path(args.config)
    packaged = Path(__file__).resolve().parents[2] / DEFAULT_CONFIG
    if args.config == DEFAULT_CONFIG and not config_path.is_file() and packaged.is_file():
        config_path = packaged  # the preset, also when run from outside the repository
    overrides = list(args.overrides)
    if args.output:
        overrides.append(f"output_dir={args.output}")
    config = load_config(LoraVsBaseConfig, config_path, overrides)
    run_comparison(config, display=RunDisplay(quiet=args.quiet), fresh=args.fresh)
    return 0
