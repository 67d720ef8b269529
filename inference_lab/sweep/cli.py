"""The CLI's hook for sweeps: `inference-lab MODE CONFIG` whose config (after `--set`) has a `sweep` block runs the
sweep; `--resume SWEEP_DIR` (a folder with sweep.json) continues one. Every other call is left to the mode.

    inference-lab MODE CONFIG [--set sweep.grid.KEY=[...]] [--output PARENT] [--yes]
                  [--executor local|ray] [--address RAY_ADDRESS] [--slo "ttft_ms<=500,tpot_ms<=50,memory_mib<=2000"]
    inference-lab MODE --resume SWEEP_DIR [--yes]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from ..modes import ModeInfo
from . import SWEEP_FILE, SWEEP_KEY

SWEEP_ONLY = ("executor", "address", "slo")


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("sweeps (a config with a \"sweep\" block; see the guide's Sweeps section)")
    group.add_argument("--executor", choices=("local", "ray"),
                       help="local (default): this machine, one point per GPU or one at a time on CPU; "
                            "ray: one Ray task per point")
    group.add_argument("--address", help="Ray cluster address (ray://host:10001 or host:6379); default: a local Ray")
    group.add_argument("--slo", metavar="LIMITS",
                       help="the report's 'best under' row, e.g. 'ttft_ms<=500,tpot_ms<=50,memory_mib<=2000' "
                            "(figures: ttft_ms, tpot_ms, latency_ms, memory_mib, tokens_per_s)")


def is_sweep_folder(path: str | Path) -> bool:
    return (Path(path) / SWEEP_FILE).is_file()


def _sweep_flags_given(args: argparse.Namespace) -> list[str]:
    return [f"--{name}" for name in SWEEP_ONLY if getattr(args, name, None) is not None]


def run_if_sweep(info: ModeInfo, args: argparse.Namespace, overrides: list[str],
                 positional: Callable[[], tuple[str | None, list[str]]],
                 log: Callable[[str], None] | None = None) -> int | None:
    """The sweep's exit code when this call is a sweep (or continues one); None to run the mode as usual."""
    from .. import presets
    from ..core.config import apply_overrides, read_mapping
    from ..core.errors import UserError

    resume = args.resume
    if resume is None and args.output and is_sweep_folder(args.output):
        print(f"notice: --output {args.output} is a sweep folder: continuing it (same as --resume)", file=sys.stderr)
        resume = args.output
    continuing = resume is not None and is_sweep_folder(resume)
    data, label, source = None, "sweep", "config"
    if resume is None or (continuing and (args.config or args.config_option or overrides)):
        path, more = positional()
        found = presets.find_config(path) if path is not None else presets.default_config(info.default_config)
        data = apply_overrides(read_mapping(found) if found is not None else {}, overrides + more)
        label, source = (Path(found).stem, str(found)) if found is not None else ("defaults", "config")
    if not continuing and (data is None or SWEEP_KEY not in data):
        flags = _sweep_flags_given(args)
        if flags:
            raise UserError(f"{', '.join(flags)}: only for sweeps (a config with a \"sweep\" block, or --resume "
                            "SWEEP_DIR)")
        return None  # an ordinary run, or the mode's own --resume of a run folder
    from .runner import run_sweep

    return run_sweep(info.name, data, label=label, source=source, output=None if resume else args.output,
                     resume=resume, yes=args.yes, executor=args.executor or "local", address=args.address,
                     slo=args.slo, log=log)
