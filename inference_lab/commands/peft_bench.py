"""`inference-lab peft-bench`: the adapter benchmark over experiment folders.

  peft-bench experiments/lora/lora_r8      one experiment (its table per prompt category)
  peft-bench experiments/lora              every experiment below a folder
  peft-bench --all [experiments]           every experiment, one comparison table
  peft-bench base                          build (or confirm) the cached base results for the defaults
  peft-bench --all --set paired_base=true  time the base alongside each adapter, interleaved (busy machines)
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_ROOT = "experiments"


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("targets", nargs="*", metavar="PATH",
                        help="experiment folder(s), folder(s) of experiments, or 'base'")
    parser.add_argument("--all", nargs="?", const=DEFAULT_ROOT, default=None, metavar="ROOT",
                        help=f"run every experiment below ROOT (default {DEFAULT_ROOT})")
    parser.add_argument("--root", default=DEFAULT_ROOT, help="experiments root for 'base' (default %(default)s)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a benchmark parameter for every experiment, e.g. --set max_new_tokens.long=16")
    parser.add_argument("--output-dir", default=str(Path("results") / "peft_bench"),
                        help="where result files and the base cache go (default %(default)s)")
    parser.add_argument("--rebuild-base", action="store_true", help="measure the base again even if cached")
    parser.add_argument("--require-cached-base", action="store_true",
                        help="fail an experiment whose base results are not cached instead of measuring them")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run_experiments(paths: list[str | Path], *, overrides: list[str] | None = None,
                    output_dir: str | Path = Path("results") / "peft_bench", rebuild_base: bool = False,
                    require_cached_base: bool = False, log=None) -> list[dict]:
    """Plain function for the menu: run every experiment under `paths`, return their result documents."""
    from ..adapter_bench.runner import RunOptions
    from ..adapter_bench.runner import run_experiments as run

    options = RunOptions(output_dir=Path(output_dir), overrides=list(overrides or []), rebuild_base=rebuild_base,
                         require_cached_base=require_cached_base, log=log or (lambda _m: None))
    return run(list(paths), options)


def main(args: argparse.Namespace) -> int:
    from ..adapter_bench.runner import RunOptions, run_base
    from ..adapter_bench.table import category_table, comparison_table
    from ..errors import UserError
    from ..report import console, fmt_seconds

    out, err = console(), console(stderr=True)
    log = (lambda _m: None) if args.quiet else (lambda message: err.print(f"[dim]{message}[/dim]"))
    targets = list(args.targets) + ([args.all] if args.all else [])
    if not targets:
        raise UserError("peft-bench: give an experiment folder, --all, or 'base' (see --help)")
    if "base" in targets:
        if len(targets) > 1:
            raise UserError("peft-bench: 'base' runs alone (it caches the base results for the defaults)")
        options = RunOptions(output_dir=Path(args.output_dir), overrides=args.overrides, rebuild_base=args.rebuild_base,
                             log=log)
        entry = run_base(args.root, options)
        overall = entry.get("overall") or {}
        out.print(f"base results ({entry['origin']['source']}): {entry['origin']['path']}\n"
                  f"  one prompt per category, summed: {fmt_seconds(overall.get('inference_time_s'))}, "
                  f"time per token {fmt_seconds(overall.get('time_per_token_s'))}")
        return 0
    results = run_experiments(targets, overrides=args.overrides, output_dir=args.output_dir,
                              rebuild_base=args.rebuild_base, require_cached_base=args.require_cached_base, log=log)
    if len(results) == 1 and results[0]["run_info"]["status"] == "success":
        out.print(category_table(results[0]))
    out.print(comparison_table(results))
    for result in results:
        out.print(f"[dim]{result['run_info']['experiment']}: {result['result_path']}[/dim]")
    return 0 if all(r["run_info"]["status"] == "success" for r in results) else 1
