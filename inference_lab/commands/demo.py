"""`inference-lab demo`: build (or find) the demo kit and print its manifest."""

from __future__ import annotations

import argparse


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", choices=["full", "tiny"], default=None,
                        help="kit variant (default: $INFERENCE_LAB_DEMO_VARIANT or full)")
    parser.add_argument("--rebuild", action="store_true", help="build again even if the kit exists")
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON")


def main(args: argparse.Namespace) -> int:
    import json

    from ..core import signals
    from ..demo_kit.build import ensure_kit
    from ..demo_kit.display import manifest_table
    from ..demo_kit.names import read_manifest
    from ..ui.console import console

    err = console(stderr=True)
    with signals.armed():  # Ctrl-C mid-build must reach the build's cleanup of its staging folder
        path = ensure_kit(args.variant, log=lambda msg: err.print(f"[dim]{msg}[/dim]"), force=args.rebuild)
    manifest = read_manifest(path)
    if args.json:
        print(json.dumps(manifest, indent=2))
    else:
        console().print(manifest_table(manifest, path))
    return 0
