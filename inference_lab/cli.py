"""`inference-lab MODE [CONFIG] [--set KEY=VALUE] [--output DIR] [--resume RUN_DIR] [--quiet] [--yes]`.

Every mode of the table in `modes/` takes the same flags; a mode may add its own (`modes/<name>/cli.py`). The tool
commands (compare, check, demo, schema, menu) are small modules in `commands/` with `add_cli_args(parser)` and
`main(args) -> int` (the vLLM benchmarks' shape). Nothing heavy is imported until a command runs, so `--help`
is instant. A `LabError` becomes one line on stderr and its exit code (2 bad input, 1 failed run); a stop by
Ctrl-C, SIGTERM or SIGHUP exits 128 + the signal after the run has saved what it had.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from pathlib import Path

from . import __version__
from .modes import MODES, ModeInfo, find

# name -> (module, one-line help). Adding a tool command = one line here + one module in commands/.
COMMANDS: dict[str, tuple[str, str]] = {
    "compare": ("inference_lab.commands.compare", "compare finished runs of one mode side by side, with intervals"),
    "demo": ("inference_lab.commands.demo", "build the offline demo model kit and print its manifest"),
    "check": ("inference_lab.commands.check", "verify Python, packages, CUDA and model access"),
    "schema": ("inference_lab.commands.schema", "print the JSON Schema of a mode's config"),
    "menu": ("inference_lab.commands.menu", "interactive menu (needs a terminal)"),
}


def help_text() -> str:
    lines = [f"inference-lab {__version__}: which way of running a model (and its LoRA adapters) is fastest,",
             "leanest and still right.", "",
             "usage: inference-lab MODE [CONFIG] [--set KEY=VALUE ...] [--output DIR] [--resume RUN_DIR] "
             "[--quiet] [--yes]", "       inference-lab COMMAND [ARGS]",
             "A CONFIG with a \"sweep\" block runs a sweep (--executor, --address, --slo; --resume SWEEP_DIR).", "",
             "modes:"]
    for info in MODES.values():
        also = f" (also: {', '.join(f'{a} CONFIG' for a in info.aliases)})" if info.aliases else ""
        lines.append(f"  {info.name + ' [CONFIG]':<22} {info.help}{also}")
    lines += ["", "commands:"]
    lines += [f"  {name:<22} {help_}" for name, (_module, help_) in COMMANDS.items()]
    lines += ["", "inference-lab MODE --help shows a mode's flags; --version prints the version."]
    return "\n".join(lines)


def mode_parser(info: ModeInfo) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"inference-lab {info.name}", description=info.help)
    default = info.default_config or "the defaults"
    parser.add_argument("config", nargs="*", metavar="CONFIG",
                        help=f"JSON or YAML config, or a preset name (default: {default})")
    parser.add_argument("--config", "-c", dest="config_option", metavar="CONFIG", help="the same, as an option")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config key (value read as JSON; dotted keys for sections), repeatable")
    parser.add_argument("--output", "-o", help="folder the run folder is created in (overrides output_dir)")
    parser.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run folder (or sweep folder) with "
                        "its own config")
    parser.add_argument("--quiet", "-q", "--no-progress", action="store_true", help="no progress bars or log lines")
    parser.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    parser.add_argument("--fresh", action="store_true",
                        help="start a new run even when --output names an existing run folder")
    extra = info.optional_module("cli")
    if extra is not None:
        extra.add_cli_args(parser)
    from .sweep import cli as sweep_cli

    sweep_cli.add_cli_args(parser)
    return parser


def _positional(info: ModeInfo, args: argparse.Namespace) -> tuple[str | None, list[str]]:
    """(config path, extra overrides) from CONFIG arguments; a mode may read them its own way."""
    extra = info.optional_module("cli")
    if extra is not None and hasattr(extra, "positionals"):
        return extra.positionals(args.config, args)
    given = list(args.config) + ([args.config_option] if args.config_option else [])
    if len(given) > 1:
        from .core.errors import UserError

        raise UserError(f"{info.name}: one CONFIG at most (got {len(given)}: {' '.join(given)})")
    return (given[0] if given else None), []


def run_mode(info: ModeInfo, argv: list[str]) -> int:
    from . import session
    from .core.rundir import HEADER
    from .ui.console import console

    args = mode_parser(info).parse_args(argv)
    out, err = console(), console(stderr=True)
    log = (lambda _m: None) if args.quiet else (lambda message: err.print(f"[dim]{message}[/dim]"))
    extra = info.optional_module("cli")
    overrides = list(args.overrides) + (extra.overrides(args) if extra is not None else [])
    from .sweep import cli as sweep_cli

    swept = sweep_cli.run_if_sweep(info, args, overrides, lambda: _positional(info, args), log)
    if swept is not None:  # the config has a sweep block, or --resume names a sweep folder
        return swept
    resume = args.resume
    if resume is None and args.output and not args.fresh and (Path(args.output) / HEADER).is_file():
        print(f"notice: --output {args.output} is a run folder: continuing it (same as --resume)", file=sys.stderr)
        resume = args.output
    if resume is not None and not (args.config or args.config_option or overrides):
        config, label = session.config_from_run(info, resume)
    else:  # with a resume folder, a given config must equal the run's (the session names the first difference)
        path, more = _positional(info, args)
        if args.output and resume is None:
            more.append(f"output_dir={json.dumps(args.output)}")
        config, label = session.load_mode_config(info, path, overrides + more)
        if resume is not None:
            run_config, label = session.config_from_run(info, resume)
            config = config.model_copy(update={"output_dir": run_config.output_dir})
    if args.quiet:
        from .ui.progress import NoProgress

        outcome = session.execute(info, config, label=label, resume=resume, log=log, progress=NoProgress())
    else:
        from .ui.progress import RichProgress

        with RichProgress(err) as bars:
            outcome = session.execute(info, config, label=label, resume=resume, log=log, progress=bars)
    if outcome.summary is not None:
        info.module("display").show(outcome.summary, out)
    if outcome.status == "interrupted":
        err.print(f"[yellow]interrupted ({outcome.error}): finished work kept in {outcome.folder}; continue it with: "
                  f"inference-lab {info.name} --resume {outcome.folder}[/yellow]")
    elif outcome.error:
        err.print(f"[red]error: {outcome.error}[/red]")
    out.print(f"results: {outcome.folder}")
    return outcome.exit_code


def run_command(name: str, argv: list[str]) -> int:
    module_name, help_text_ = COMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"inference-lab {name}", description=help_text_)
    module.add_cli_args(parser)
    return int(module.main(parser.parse_args(argv)) or 0)


def main(argv: list[str] | None = None) -> int:
    from .core import signals

    signals.install()
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(argv)
    except KeyboardInterrupt as exc:
        print(f"interrupted ({signals.describe(exc)}): results written so far are kept", file=sys.stderr)
        return signals.exit_code(getattr(exc, "signum", None) or signals.received())
    except SystemExit:
        raise
    except BaseException as exc:
        from .core.errors import LabError

        if isinstance(exc, LabError) and signals.received() is None:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code
        if signals.received() is not None:  # a library turned our interrupt into its own error
            print(f"interrupted ({signals.describe(exc)}): results written so far are kept", file=sys.stderr)
            return signals.exit_code(signals.received())
        raise


def _dispatch(argv: list[str]) -> int:
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(help_text())
        return 0 if argv else 2
    if argv[0] in {"--version", "-V", "version"}:
        print(f"inference-lab {__version__}")
        return 0
    name, rest = argv[0], argv[1:]
    info = find(name)
    if info is not None:
        return run_mode(info, rest)
    if name in COMMANDS:
        return run_command(name, rest)
    known = ", ".join([*MODES, *COMMANDS])
    print(f"inference-lab: unknown command '{name}' (choose from {known})", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
