"""The methods mode's own flag: `--methods standard batched` (= `--set methods_to_test=[...]`)."""

from __future__ import annotations

import argparse
import json


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--methods", nargs="+", metavar="METHOD", help="override methods_to_test")


def overrides(args: argparse.Namespace) -> list[str]:
    return [f"methods_to_test={json.dumps(args.methods)}"] if args.methods else []
