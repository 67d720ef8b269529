"""`inference-lab check` (= `python test_setup.py`): is this machine ready? Exit 0 when nothing required fails."""

from __future__ import annotations

import argparse
import json


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config_positional", nargs="?", metavar="CONFIG", help="the same as --config")
    parser.add_argument("--config", "-c", help="check the models this config names (any mode's config); "
                                               "default: the demo kit")
    parser.add_argument("--download", action="store_true",
                        help="download missing hub models (or build the demo kit) instead of only reporting them")
    parser.add_argument("--no-smoke-test", dest="smoke", action="store_false",
                        help="skip loading the first model and generating one token")
    parser.add_argument("--json", action="store_true", help="print the checks as JSON (for machines)")


def main(args: argparse.Namespace) -> int:
    from ..setup_check import ok, render, run_checks

    checks = run_checks(args.config or args.config_positional, download=args.download, smoke=args.smoke)
    if args.json:
        print(json.dumps({"ok": ok(checks), "checks": [c.to_dict() for c in checks]}, indent=2))
    else:
        render(checks)
    return 0 if ok(checks) else 1
