"""`inference-lab <command>`: one dispatcher over small command modules.

Every command module exposes `add_cli_args(parser)` and `main(args) -> int` (the vLLM benchmarks' shape),
and is imported only when its command runs, so `--help` stays fast. A `LabError` becomes one line on stderr
and its exit code (2 bad input, 1 failed run); Ctrl-C exits 130 after the command has saved what it had.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help). Adding a command = one line here + one module in commands/.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("inference_lab.commands.run", "compare generation methods on a config (the comparator)"),
    "compare": ("inference_lab.commands.compare", "compare finished runs side by side"),
    "lora": ("inference_lab.commands.lora", "LoRA-vs-base comparison on a labelled JSONL test set"),
    "peft-bench": ("inference_lab.commands.peft_bench", "adapter benchmark over experiment folders"),
    "mcq": ("inference_lab.commands.mcq", "multiple-choice scoring by log-likelihood"),
    "demo": ("inference_lab.commands.demo", "build the offline demo model kit and print its manifest"),
    "check": ("inference_lab.commands.check", "verify Python, packages, CUDA and model access"),
    "schema": ("inference_lab.commands.schema", "print the JSON Schema of a config type"),
    "menu": ("inference_lab.commands.menu", "interactive menu (needs a terminal)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="inference-lab",
        description="Measure which way of running a model (and its LoRA adapters) is fastest, leanest and right.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_module, help_text) in COMMANDS.items():
        sub.add_parser(name, help=help_text, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .errors import LabError

    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in {"-h", "--help"} or argv[0] not in COMMANDS:
        parser = build_parser()
        if argv and argv[0] not in {"-h", "--help"}:
            parser.error(f"unknown command '{argv[0]}' (choose from {', '.join(COMMANDS)})")
        parser.print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    module_name, help_text = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        print(f"inference-lab {name}: not available in this version", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"inference-lab {name}", description=help_text)
    module.add_cli_args(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.main(args) or 0)
    except LabError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted: results written so far are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
