"""`inference-lab compare RUN_DIR RUN_DIR ... [--baseline N] [--force]`: finished runs of one mode side by side.

Reads summaries only (no torch). Each mode's `report.headline` names the figures to compare and the samples behind
them (per round, per prompt run, ...); every ratio to the baseline run carries a 95 % bootstrap interval, and a
verdict is given only where the interval excludes "equal". Runs whose configs or environments differ are refused
with the list of differences unless `--force`: a ratio between a quick run and a comprehensive run means nothing.
"""

from __future__ import annotations

import argparse
import json

from ..core.config import PLACEMENT_KEYS, flatten_keys

# Environment keys whose difference changes the numbers (a timestamp or the load average does not).
ENVIRONMENT_KEYS = ("device", "device_name", "machine.cpu_model", "machine.logical_cores", "threads.intra_op",
                    "cuda_version", "packages", "python")


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", help="run folders (each with run.json)")
    parser.add_argument("--baseline", type=int, default=0, help="index of the baseline run (default 0, the first)")
    parser.add_argument("--force", action="store_true", help="compare runs whose config or environment differ")


def _short(value) -> str:
    text = json.dumps(value)
    return text if len(text) <= 30 else text[:27] + "..."


def differences(summaries: list[dict], baseline: int = 0) -> list[str]:
    """`config max_new_tokens: 50 vs 100` lines for every config and environment key that differs from the baseline."""
    base = summaries[baseline]
    lines: list[str] = []
    for other in summaries:
        if other is base:
            continue
        for section, keys in (("config", None), ("environment", ENVIRONMENT_KEYS)):
            a, b = flatten_keys(base.get(section) or {}), flatten_keys(other.get(section) or {})
            for key in sorted(set(a) | set(b)):
                if keys is not None and not any(key == k or key.startswith(f"{k}.") for k in keys):
                    continue
                if (section == "config" and key in PLACEMENT_KEYS) or a.get(key) == b.get(key):
                    continue
                line = f"{section} {key}: {_short(a.get(key))} vs {_short(b.get(key))}"
                if line not in lines:
                    lines.append(line)
    return lines


def main(args: argparse.Namespace) -> int:
    from ..core.rundir import load_summary
    from ..ui.console import console

    summaries = [load_summary(path) for path in args.runs]
    console().print(compare_table(summaries, args.baseline, force=args.force))
    return 0


def compare_table(summaries: list[dict], baseline: int = 0, force: bool = False):
    """The comparison as a rich table; a UserError names the differences that make it meaningless (unless force)."""
    from ..core import stats
    from ..core.errors import UserError
    from ..modes import MODES
    from ..ui.console import compact_table

    if not 0 <= baseline < len(summaries):
        raise UserError(f"--baseline: {baseline} is not the index of a given run (0..{len(summaries) - 1})")
    modes = sorted({s["mode"] for s in summaries})
    if len(modes) > 1:
        raise UserError(f"compare: the runs are of different modes ({', '.join(modes)}); compare runs of one mode")
    found = differences(summaries, baseline)
    if found and not force:
        listed = "; ".join(found[:8]) + (f"; and {len(found) - 8} more" if len(found) > 8 else "")
        raise UserError(f"compare: the runs differ in {listed}. Their figures are not comparable; add --force to "
                        "compare them anyway")
    headline = MODES[modes[0]].module("report").headline
    heads = [headline(s) for s in summaries]
    base = heads[baseline]
    title = f"{len(summaries)} {modes[0]} runs compared (baseline: {summaries[baseline]['run_id']})"
    table = compact_table(title=title,
                          caption="each cell: median [95% CI] of the run, then x ratio to the baseline [95% CI]; "
                                  "'=' no measurable difference. Intervals hold each run's round-to-round noise, "
                                  "not the process-to-process kind (two runs of one config differed by up to 20 % "
                                  "on a shared machine): repeat runs before trusting a small ratio"
                                  + ("; FORCED across differences: " + "; ".join(found)
                                                                      if found else ""))
    table.add_column("item · figure")
    for s in summaries:
        table.add_column(s["run_id"], justify="right", overflow="fold")
    items = list(dict.fromkeys(item for h in heads for item in h))
    for item in items:
        metrics = list(dict.fromkeys(m for h in heads for m in h.get(item, {}) if m != "status"))
        for metric in metrics:
            label = next(h[item][metric]["label"] for h in heads if metric in h.get(item, {}))
            cells = []
            for h in heads:
                entry = h.get(item, {}).get(metric)
                if entry is None or not entry["samples"]:
                    cells.append("-" if entry is None else entry.get("status", "-"))
                    continue
                summary = stats.summarize(entry["samples"])
                text = f"{summary.median:.4g}"
                if summary.ci_low is not None:
                    text += f" [{summary.ci_low:.3g}-{summary.ci_high:.3g}]"
                ref = base.get(item, {}).get(metric)
                if ref is not None and ref["samples"] and entry is not ref:
                    r = stats.ratio(entry["samples"], ref["samples"])
                    if r is not None:
                        text += f"  x{r.estimate:.2f}"
                        if r.ci_low is not None:
                            text += f" [{r.ci_low:.2f}-{r.ci_high:.2f}]{'' if r.separated else ' ='}"
                elif entry is ref:
                    text += "  x1.00 (baseline)"
                cells.append(text)
            table.add_row(f"{item} · {label}", *cells)
        table.add_section()
    return table
