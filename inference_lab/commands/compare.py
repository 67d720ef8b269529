"""`inference-lab compare RUN_DIR RUN_DIR...`: finished runs side by side, ratios against a baseline."""

from __future__ import annotations

import argparse


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run folders (each with summary.json)")
    parser.add_argument("--baseline", type=int, default=0, help="index of the baseline run (default 0, the first)")


def main(args: argparse.Namespace) -> int:
    from ..errors import UserError
    from ..report import console
    from ..results import load_run
    from ..tables import compare_table

    summaries = [load_run(path) for path in args.runs]
    if not 0 <= args.baseline < len(summaries):
        raise UserError(f"--baseline: {args.baseline} is not the index of a given run (0..{len(summaries) - 1})")
    console().print(compare_table(summaries, args.baseline))
    return 0
