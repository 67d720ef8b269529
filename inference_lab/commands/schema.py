"""`inference-lab schema [MODE] [--output FILE]`: the JSON Schema of a mode's config, for editor completion.
A config may point at it with `"$schema": "FILE"`; every config accepts that key."""

from __future__ import annotations

import argparse
import json

from ..modes import MODES, SCHEMA_ALIASES


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    names = [*MODES, *SCHEMA_ALIASES, *(a for m in MODES.values() for a in m.aliases)]
    parser.add_argument("type", nargs="?", default="methods", choices=sorted(set(names)),
                        help="the mode whose config schema to print (default methods)")
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")


def main(args: argparse.Namespace) -> int:
    from ..core.config import json_schema
    from ..core.storage import write_text_atomic
    from ..modes import find

    info = find(SCHEMA_ALIASES.get(args.type, args.type))
    text = json.dumps(json_schema(info.config_class), indent=2)
    if args.output:
        write_text_atomic(args.output, text + "\n")
    else:
        print(text)
    return 0
