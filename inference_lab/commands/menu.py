"""`inference-lab menu` (= `python run_experiments.py`, the default of `./run.sh`): the interactive menu.

Without a terminal it says how to run headless and exits 2 instead of hanging on a prompt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def headless_help() -> str:
    from ..modes import MODES  # the one table of modes: names only, nothing heavy imported

    modes = "; ".join(m.name + (f", also as {', '.join(m.aliases)}" if m.aliases else "") for m in MODES.values())
    return f"""\
The interactive menu needs a terminal (stdin and stdout must be a TTY). Headless equivalents:
  inference-lab MODE [CONFIG] [--set key=value] [--output DIR] [--resume RUN_DIR]
      (modes: {modes})
  python inference_comparison.py compare RUN_DIR RUN_DIR ... [--baseline N]
  python test_setup.py [--config FILE] [--json]
  ./run.sh quick | comprehensive | MODE [CONFIG] | peft-bench --all    (./run.sh help lists all)"""


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configs", help="folder of configs to offer and to save into (default: configs/)")
    parser.add_argument("--output", "-o", help="where runs go and are browsed (default: each config's output_dir)")


def main(args: argparse.Namespace) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print(headless_help(), file=sys.stderr)
        return 2
    from ..core import signals
    from ..menu import UI, MenuPaths, run_menu

    signals.arm()  # Ctrl-C in the menu goes back to the menu (start-up would end the process at once)

    paths = MenuPaths()
    if args.configs:
        paths = MenuPaths(configs_dir=Path(args.configs))
    if args.output:
        paths = MenuPaths(configs_dir=paths.configs_dir, output_dir=Path(args.output))
    return run_menu(UI(), paths)
