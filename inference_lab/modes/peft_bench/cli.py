"""The adapter benchmark's command line, as the suite had it:

  peft-bench experiments/lora/lora_r8      one experiment (its table per prompt category)
  peft-bench experiments/lora              every experiment below a folder
  peft-bench --all [ROOT]                  every experiment, one comparison table
  peft-bench base                          build (or confirm) the cached base results for the defaults
  peft-bench my_bench.json                 a config file (experiments, overrides, output)
  peft-bench --all --set paired_base=false use the cached base (re-timed per category to check drift)
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--all", nargs="?", const="", default=None, metavar="ROOT",
                        help="run every experiment below ROOT (default: ./experiments, else the packaged templates)")
    parser.add_argument("--root", help="the experiments root (the folder with default_benchmark_params.json)")
    parser.add_argument("--output-dir", dest="output_dir_compat", help="same as --output")
    parser.add_argument("--rebuild-base", action="store_true", help="measure the cached base again even if it matches")
    parser.add_argument("--require-cached-base", action="store_true",
                        help="fail an experiment whose base results are not cached instead of measuring them")


def positionals(values: list[str], args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """CONFIG arguments: a config file, experiment folders, or `base`."""
    config, experiments, more = None, [], []
    for value in values:
        if value == "base":
            more.append("base_only=true")
        elif Path(value).is_file():
            config = value
        else:
            experiments.append(value)  # a missing folder is reported with its name by the run
    if args.all is not None:
        if args.all:
            more.append(f"experiments_root={json.dumps(args.all)}")
    elif not experiments and "base_only=true" not in more and config is None:
        from ...core.errors import UserError

        raise UserError("peft-bench: give an experiment folder, --all, 'base' or a config file (see --help)")
    if experiments:
        more.append(f"experiments={json.dumps(experiments)}")
    return config, more


def overrides(args: argparse.Namespace) -> list[str]:
    out = []
    if args.root:
        out.append(f"experiments_root={json.dumps(args.root)}")
    if args.output_dir_compat:
        out.append(f"output_dir={json.dumps(args.output_dir_compat)}")
    if args.rebuild_base:
        out.append("rebuild_base=true")
    if args.require_cached_base:
        out.append("require_cached_base=true")
    return out
