"""`inference-lab run --config FILE`: the comparator, headless."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", "-c", help="JSON or YAML config (default: all defaults, demo kit)")
    parser.add_argument("--methods", nargs="+", help="override methods_to_test")
    parser.add_argument("--output", "-o", help="override output_dir")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override any config key (value read as JSON), repeatable")
    parser.add_argument("--no-progress", action="store_true", help="no live progress bars")
    parser.add_argument("--resume", metavar="RUN_DIR",
                        help="continue an interrupted run folder (its config.json is used; other flags ignored)")


def build_config(args: argparse.Namespace):
    from ..config import InferenceConfig, load_config

    overrides = list(args.set)
    if args.methods:
        import json

        overrides.append(f"methods_to_test={json.dumps(args.methods)}")
    if args.output:
        overrides.append(f"output_dir={args.output}")
    return load_config(InferenceConfig, args.config, overrides)


def main(args: argparse.Namespace) -> int:
    from ..comparator import InferenceMethodsComparator
    from ..progress import RichProgress
    from ..report import console
    from ..tables import notes_lines, rankings_lines, run_table

    if args.resume:
        from ..config import InferenceConfig, load_config

        config = load_config(InferenceConfig, Path(args.resume) / "config.json")
    else:
        config = build_config(args)
    label = Path(args.config).stem if args.config else "defaults"
    out = console()
    comparator = InferenceMethodsComparator(config, label=label, log=lambda m: out.print(f"[dim]{m}[/dim]"),
                                            resume=args.resume)
    comparator.load()
    try:
        if args.no_progress:
            summary = comparator.run()
        else:
            with RichProgress(out) as progress:
                comparator.progress = progress
                summary = comparator.run()
    except KeyboardInterrupt:
        if comparator.folder is not None:
            out.print(f"[yellow]interrupted: finished batches kept in {comparator.folder}[/yellow]")
        raise
    out.print(run_table(summary))
    for line in notes_lines(summary):
        out.print(f"  {line}", style="dim")
    for line in rankings_lines(summary):
        out.print(f"  {line}")
    out.print(f"results: {comparator.folder}")
    return 1 if summary["status"] == "failed" else 0
