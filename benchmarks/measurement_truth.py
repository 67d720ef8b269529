#!/usr/bin/env python
"""Are the methods mode's numbers true? A preset run `--repeats` times, each median checked against the other
runs' intervals, and every method's speed checked against an independent bare `generate()` timer (issue #12).

For each repeat:
1. the methods mode runs as a fresh process, exactly as a user runs it:
   `python -m inference_lab methods CONFIG --quiet --yes --output DIR --set num_threads=T --set temperature=0`;
   `temperature=0` (default; `--keep-temperature` drops it) makes the config's own methods greedy, so the tool
   and the bare timer produce the same tokens and their tok/s compare the same work (nucleus_sampling keeps its
   fixed sampling settings; both sides seed every call alike, so its tokens match too: `tokens equal` says so);
2. in this process (the model loaded once, the same thread count), a bare timer runs the same batches: the
   same config (checked equal to the run's config.json), the same plans, the same generate() kwargs and per-call
   seeds, warm-up, then the same number of interleaved rounds (every method once per round); `model.generate`
   under `core.measure.Stopwatch` and nothing else (no TokenClock, no forward counters, no records). Per round:
   completion tokens / summed generate time, the tool's own definition of completion tokens/s. The two cannot
   run at once, so their order alternates by repeat (tool then bare, bare then tool, ...): a slow drift of the
   machine's speed does not always favour the same side.

Checks (`truth_checks.py`, pure): is each repeat's median completion tokens/s inside every other repeat's 95 %
interval (and do the intervals overlap); does the tool agree with the bare timer within 5 % (tool/bare median
tok/s, with its bootstrap interval from `core.stats.ratio`; the two are timed one after the other, so unpaired);
was each run flagged noisy; did any two repeats name different winners.

`--load N` starts N busy-loop processes (`while True: pass`) for the whole benchmark, waits (up to `--settle`
seconds) for the 1-minute load average to exceed the core count, and always kills them (also on Ctrl-C,
SIGTERM, an error; they also die with this process: PR_SET_PDEATHSIG). The load average is recorded before and
after every repeat.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/measurement_truth.py                 # quick, 3 repeats, idle
    .venv/bin/python benchmarks/measurement_truth.py --load 2                          # two busy loops
    .venv/bin/python benchmarks/measurement_truth.py --kit tiny --repeats 2 --set num_runs=3 --set max_new_tokens=16

Writes benchmarks/results/measurement_truth-<time>.json (the runs' folders under
benchmarks/results/measurement_truth/<time>/) and prints a table and one verdict line per check.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import truth_checks  # noqa: E402

from inference_lab.modes.methods.results import RANKING_METRIC  # noqa: E402 (pure: no torch)

# A busy loop that dies with its parent (Linux PR_SET_PDEATHSIG = 1, SIGKILL = 9), so not even a kill -9 of
# this benchmark can leave it spinning.
BUSY_LOOP = ("import ctypes, os, sys\n"
             "parent = int(sys.argv[1])\n"
             "try:\n    ctypes.CDLL(None).prctl(1, 9)\nexcept Exception:\n    pass\n"
             "if os.getppid() != parent:\n    sys.exit(0)\n"
             "while True:\n    pass\n")


class BusyLoad:
    """The running busy loops: how many still run, and how much CPU they have had (so a phase's table can say
    what share of the machine the load really took while the tool, or the bare timer, ran)."""

    def __init__(self, procs: list[subprocess.Popen]):
        self.procs = procs

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self.procs]

    def running(self) -> int:
        return sum(p.poll() is None for p in self.procs)

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()
            except (OSError, IndexError):
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
        return total


@contextmanager
def busy_load(n: int):
    """N busy-loop processes for the duration of the block; always killed (each by its own pid)."""
    procs: list[subprocess.Popen] = []
    try:
        for _ in range(n):
            procs.append(subprocess.Popen([sys.executable, "-c", BUSY_LOOP, str(os.getpid())],
                                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL))
        yield BusyLoad(procs)
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


@contextmanager
def phase(load: BusyLoad, record: dict):
    """Wall time of a phase and the CPU cores' worth the busy loops took during it."""
    cpu, started = load.cpu_seconds(), time.monotonic()
    try:
        yield
    finally:
        wall = time.monotonic() - started
        record.update(wall_s=round(wall, 3), load_cores=round((load.cpu_seconds() - cpu) / wall, 2) if wall else None,
                      load_running=load.running())


def settle(cores: int, limit_s: float, log) -> dict:
    """Wait until the 1-minute load average exceeds the core count (what the tool calls busy), at most limit_s."""
    from inference_lab.core.environment import load_average

    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        load = load_average()
        if load and load[0] > cores:
            break
        time.sleep(2)
    waited = round(time.monotonic() - started, 1)
    log(f"load average {load_average()} after {waited} s of load")
    return {"waited_s": waited, "load_average": load_average()}


def the_run_folder(parent: Path) -> Path:
    folders = [p for p in parent.iterdir() if (p / "summary.json").is_file()]
    if len(folders) != 1:
        raise SystemExit(f"expected one run folder in {parent}, found {len(folders)}")
    return folders[0]


def run_methods(config: str, sets: list[str], out: Path, threads: int, env: dict) -> Path:
    """One methods run in a fresh process; returns its run folder."""
    out.mkdir(parents=True)
    cmd = [sys.executable, "-m", "inference_lab", "methods", config, "--quiet", "--yes", "--output", str(out),
           "--set", f"num_threads={threads}", *[a for s in sets for a in ("--set", s)]]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
    if done.returncode not in (0, 1):  # 1: a method failed; its folder still says which, and the rest is usable
        raise SystemExit(f"methods run failed (exit {done.returncode}): {' '.join(cmd)}\n{done.stderr[-2000:]}")
    return the_run_folder(out)


class BareTimer:
    """The same batches as the methods mode, timed with nothing but a Stopwatch around model.generate."""

    def __init__(self, config):
        from inference_lab.core import device as dev
        from inference_lab.models.loading import load_model
        from inference_lab.models.timed import cache_kwargs
        from inference_lab.modes.methods.registry import MethodPlan, build_plans
        from inference_lab.modes.methods.runner import format_prompts

        self.config = config
        self.main = load_model(config.main_model, config, field_name="main_model")
        self.device = dev.resolve_device(self.main.report.device)
        plans = [p for p in build_plans(config) if isinstance(p, MethodPlan)]
        self.assistant = None
        if any(p.draft_source == "assistant" for p in plans):
            self.assistant = load_model(config.assistant_model, config, field_name="assistant_model")
        self.plans = plans
        self.measured: list[str] = []  # the methods the tool ran (unsupported ones are left out)
        self.cache = cache_kwargs(config.cache_implementation, self.device)
        self.prompts = format_prompts(self.main.tokenizer, config.prompts, config.use_chat_template)

    def generate(self, plan, items, seed: int) -> tuple[float, int]:
        """(seconds, completion tokens) of one call, built exactly as the methods mode builds it."""
        import torch

        from inference_lab.core.measure import Stopwatch
        from inference_lab.models.textgen import encode_batch, split_new_tokens

        model, tokenizer = self.main.model, self.main.tokenizer
        if plan.beams_per_prompt:
            texts = [self.prompts[items[0].prompt_index]]
            extra = {"num_beams": max(2, len(items)), "num_return_sequences": len(items), "early_stopping": True}
        else:
            texts, extra = [self.prompts[i.prompt_index] for i in items], {}
        kwargs = {"pad_token_id": tokenizer.pad_token_id, "use_cache": True, **plan.generate_kwargs, **extra,
                  **self.cache, "max_new_tokens": self.config.max_new_tokens}
        if plan.draft_source == "assistant":
            kwargs["assistant_model"] = self.assistant.model
        with torch.inference_mode():
            encoded = encode_batch(tokenizer, texts, self.device)
            torch.manual_seed(seed)
            with Stopwatch(self.device) as watch:
                out = model.generate(**encoded, **kwargs)
        rows = split_new_tokens(model, tokenizer, out, encoded["input_ids"].shape[1])
        return watch.seconds, sum(len(r) for r in rows)

    def rounds(self, methods: list[str]) -> dict[str, dict]:
        """Warm-up, then num_runs interleaved rounds; per method the per-round tok/s and tokens."""
        from inference_lab.modes.methods.planning import flatten
        from inference_lab.modes.methods.runner import groups_for

        cfg = self.config
        items = flatten(cfg.prompts, cfg.completions_per_prompt())
        plans = [p for p in self.plans if p.name in methods]
        for plan in plans:
            for warm in range(cfg.warmup_runs):
                self.generate(plan, groups_for(plan, items)[0], cfg.seed + warm)
        out = {p.name: {"tok_s": [], "tokens": []} for p in plans}
        for run in range(cfg.num_runs):
            for plan in plans:
                seconds = tokens = 0
                for index, group in enumerate(groups_for(plan, items)):
                    s, t = self.generate(plan, group, cfg.seed + 1000 * run + index)
                    seconds, tokens = seconds + s, tokens + t
                out[plan.name]["tok_s"].append(tokens / seconds if seconds > 0 else None)
                out[plan.name]["tokens"].append(tokens)
        return out


def pick_kit(requested: str) -> str:
    from inference_lab.demo_kit import is_built, kit_dir

    if requested != "auto":
        return requested
    return "full" if is_built(kit_dir("full")) else "tiny"  # never builds the full kit


def measure_repeat(index: int, args, sets: list[str], work: Path, env: dict, timer: BareTimer, load: BusyLoad,
                   log) -> dict:
    from inference_lab.core import stats
    from inference_lab.core.config import load_config
    from inference_lab.core.environment import load_average
    from inference_lab.modes.methods.config import MethodsConfig

    load_before = load_average()
    bare_first = index % 2 == 1
    bare: dict[str, dict] = {}
    phases: dict[str, dict] = {"tool": {}, "bare": {}}
    if bare_first:
        log(f"repeat {index + 1}/{args.repeats}: bare timing (load average {load_before})")
        with phase(load, phases["bare"]):
            bare = timer.rounds(timer.measured)  # the methods the first repeat (always tool first) could run
    log(f"repeat {index + 1}/{args.repeats}: methods run (load average {load_average()})")
    with phase(load, phases["tool"]):
        folder = run_methods(args.config, sets, work / f"repeat-{index + 1}", args.threads, env)
    summary = json.loads((folder / "summary.json").read_text())
    config = load_config(MethodsConfig, folder / "config.json")
    if config.model_copy(update={"output_dir": timer.config.output_dir}) != timer.config:
        raise SystemExit(f"repeat {index + 1}: the run's config.json differs from the config the bare timer used")
    methods = {m["method"]: m for m in summary["methods"] if m["status"] == "ok" and m.get("per_round")}
    if not bare_first:
        log(f"repeat {index + 1}/{args.repeats}: bare timing (load average {load_average()})")
        with phase(load, phases["bare"]):
            bare = timer.rounds(list(methods))
        timer.measured = timer.measured or list(methods)
    methods = {name: m for name, m in methods.items() if name in bare}
    rows = {}
    for name, m in methods.items():
        tool_rounds = m["per_round"][RANKING_METRIC]
        ratio = stats.ratio(tool_rounds, bare[name]["tok_s"])
        ratio_dict = ratio.to_dict() if ratio else None
        rows[name] = {"tool": m["completion_tokens_per_s"], "tool_per_round": tool_rounds,
                      "bare": stats.summary_dict(bare[name]["tok_s"]), "bare_per_round": bare[name]["tok_s"],
                      "tool_over_bare": ratio_dict, "agreement": truth_checks.agreement(ratio_dict, args.tolerance),
                      "tool_tokens_per_run": m["completion_tokens_per_run"], "bare_tokens": bare[name]["tokens"],
                      "tokens_equal": all(t == m["completion_tokens_per_run"] for t in bare[name]["tokens"]),
                      "noisy": m.get("noisy"), "status": m["status"]}
    flags = summary.get("flags") or []
    return {"repeat": index + 1, "run_folder": str(folder), "status": summary["status"], "flags": flags,
            "noisy": any(f.startswith("noisy") for f in flags),
            "busy": any(f.startswith("noisy: machine busy") for f in flags),
            "order": "bare, then tool" if bare_first else "tool, then bare", "phases": phases,
            "load_average_before": load_before, "load_average_after_run": summary.get("load_average_after"),
            "load_average_after": load_average(),
            "rankings": summary.get("rankings") or {}, "winners": truth_checks.winners(summary.get("rankings") or {}),
            "methods": rows}


ORDER_MARK = {"tool, then bare": "T>B", "bare, then tool": "B>T"}


def fmt_figure(figure: dict | None) -> str:
    if not figure:
        return "-"
    if figure.get("ci_low") is None:
        return f"{figure['median']:.0f}"
    return f"{figure['median']:.0f} [{figure['ci_low']:.0f}, {figure['ci_high']:.0f}]"


def fmt_ratio(ratio: dict | None) -> str:
    if not ratio:
        return "-"
    if ratio.get("ci_low") is None:
        return f"x{ratio['estimate']:.3f}"
    return f"x{ratio['estimate']:.3f} [{ratio['ci_low']:.3f}, {ratio['ci_high']:.3f}]"


def loop_cores(repeat: dict) -> str:
    """CPU cores' worth the busy loops took while the tool ran / while the bare timer ran."""
    phases = repeat.get("phases") or {}
    values = [phases.get(p, {}).get("load_cores") for p in ("tool", "bare")]
    return "/".join("-" if v is None else f"{v:.2f}" for v in values)


def yes_no(value: bool | None) -> str:
    return "-" if value is None else "yes" if value else "no"


def show(payload: dict, path: Path) -> None:
    from rich.console import Console

    from inference_lab.ui.console import compact_table, console

    screen = console() if console().is_terminal else Console(width=190, highlight=False)
    s = payload["settings"]
    table = compact_table(
        title=f"Measurement truth: {s['config']} ({s['kit']} kit), {s['repeats']} repeats, {s['threads']} thread(s), "
              f"load {s['load']} busy loop(s)",
        caption="repeat (T>B: tool run, then bare timer; B>T: the reverse); "
                "tok/s = completion tokens/s, median [95% CI] over rounds; inside = the median lies inside each "
                "other repeat's interval (hits/others); tool/bare = the tool's median over the bare generate() "
                f"timer's, [95% CI]; agree = within {s['tolerance']:.0%}; noisy = run flagged noisy (busy machine "
                "or wide spread) / this method's rounds spread > 10 %; loops' cores = CPU the busy loops took "
                "while the tool / the bare timer ran")
    loaded = bool(s["load"])
    columns = ["repeat", "method", "tool tok/s", "inside", "bare tok/s", "tool/bare", "agree", "tokens equal",
               "noisy", "winner (tok/s)", "load before -> after"] + (["loops' cores tool/bare"] if loaded else [])
    for column in columns:
        table.add_column(column, justify="left" if column in {"method", "winner (tok/s)"} else "right",
                         no_wrap=column in {"tool tok/s", "bare tok/s", "tool/bare"})
    for repeat, cross in zip(payload["repeats"], payload["cross_repeat"]):
        first = True
        for name, m in repeat["methods"].items():
            check = cross.get(name, {"inside": {}})
            hits, n = truth_checks.count(check["inside"].values())
            label = f"{repeat['repeat']} ({ORDER_MARK.get(repeat.get('order'), '?')})"
            table.add_row(
                label if first else "", name, fmt_figure(m["tool"]), f"{hits}/{n}" if n else "-",
                fmt_figure(m["bare"]), fmt_ratio(m["tool_over_bare"]), yes_no(m["agreement"]["within"]),
                yes_no(m["tokens_equal"]), f"{yes_no(repeat['noisy'])} / {'~' if m['noisy'] else '-'}",
                (repeat["winners"].get(RANKING_METRIC) or "tie") if first else "",
                f"{repeat['load_average_before'][0]:.2f} -> {repeat['load_average_after'][0]:.2f}" if first else "",
                *([loop_cores(repeat) if first else ""] if loaded else []))
            first = False
        table.add_section()
    screen.print(table)
    for line in payload["verdicts"]:
        style = "green" if line.startswith("PASS") else "red" if line.startswith("FAIL") else "dim"
        screen.print(f"[{style}]{line}[/{style}]")
    screen.print(f"[dim]load average {payload['load_average_before']} -> {payload['load_average_after']}; "
                 f"results: {path}[/dim]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="quick", help="a methods preset name or config file (default: quick)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=0, help="busy-loop processes to run for the duration")
    parser.add_argument("--settle", type=float, default=90.0,
                        help="with --load: wait up to this many seconds for the load average to exceed the cores")
    parser.add_argument("--threads", type=int, default=1, help="torch threads, the tool's and the bare timer's")
    parser.add_argument("--kit", choices=["auto", "tiny", "full"], default="auto",
                        help="demo kit for demo names (auto = full if built, else tiny)")
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="config overrides for the methods runs (e.g. num_runs=3)")
    parser.add_argument("--keep-temperature", action="store_true",
                        help="do not add --set temperature=0 (sampled outputs: token counts may differ)")
    parser.add_argument("--tolerance", type=float, default=truth_checks.TOLERANCE)
    parser.add_argument("--render", type=Path, help="only print the table of an earlier results file")
    args = parser.parse_args(argv)
    if args.render:
        show(json.loads(args.render.read_text()), args.render)
        return 0
    if args.repeats < 2:
        parser.error("--repeats must be at least 2 (each run is checked against the others)")

    from inference_lab.core import signals

    signals.install()  # SIGTERM and SIGHUP take Ctrl-C's path, so the busy loops are always killed
    from inference_lab import session
    from inference_lab.core.device import apply_threads
    from inference_lab.core.environment import collect_environment, load_average
    from inference_lab.core.storage import write_json_atomic
    from inference_lab.demo_kit.build import ensure_named
    from inference_lab.modes import MODES
    from inference_lab.ui.console import console

    def log(message: str) -> None:
        console(stderr=True).print(f"[dim]{message}[/dim]")

    kit = pick_kit(args.kit)
    os.environ["INFERENCE_LAB_DEMO_VARIANT"] = kit  # demo names in this process resolve to the same kit
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    sets = ([] if args.keep_temperature else ["temperature=0"]) + args.sets
    apply_threads(args.threads)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = REPO / "benchmarks" / "results"
    work = results / "measurement_truth" / stamp
    cores = os.cpu_count() or 1
    load_before = load_average()
    # The config the CLI will build from the same preset and --set (num_threads first, as run_methods passes it);
    # each run's config.json is checked against it.
    config, _label = session.load_mode_config(MODES["methods"], args.config, [f"num_threads={args.threads}", *sets])
    ensure_named(config.named_models(), log=log)
    timer = BareTimer(config)
    repeats = []
    try:
        with busy_load(args.load) as load:
            settled = settle(cores, args.settle, log) if args.load else None
            for index in range(args.repeats):
                repeats.append(measure_repeat(index, args, sets, work, env, timer, load, log))
    except KeyboardInterrupt as exc:
        log(f"stopped by {signals.describe(exc)}; busy loops killed; finished repeats: {len(repeats)}")
        return signals.exit_code(getattr(exc, "signum", None))
    load_after = load_average()

    metric_figures = [{name: m["tool"] for name, m in r["methods"].items()} for r in repeats]
    cross = truth_checks.cross_repeat(metric_figures)
    agreements = [{name: m["agreement"] for name, m in r["methods"].items()} for r in repeats]
    conflicts = truth_checks.winner_conflicts([r["rankings"] for r in repeats])
    verdicts = truth_checks.verdict_lines(cross, agreements, [r["noisy"] for r in repeats], conflicts,
                                          loaded=args.load > 0, tolerance=args.tolerance)
    payload = {
        "benchmark": "measurement_truth",
        "settings": {"config": args.config, "repeats": args.repeats, "load": args.load, "threads": args.threads,
                     "kit": kit, "sets": sets, "tolerance": args.tolerance, "settle_s": args.settle,
                     "temperature_forced_to_0": not args.keep_temperature},
        "load_processes": load.pids, "settled": settled,
        "load_average_before": load_before, "load_average_after": load_after,
        "repeats": repeats, "cross_repeat": [{m: {**c, "inside": {str(j + 1): v for j, v in c["inside"].items()},
                                                  "overlap": {str(j + 1): v for j, v in c["overlap"].items()}}
                                              for m, c in row.items()} for row in cross],
        "winner_conflicts": conflicts, "verdicts": verdicts,
        "environment": collect_environment(None),
    }
    path = write_json_atomic(results / f"measurement_truth-{stamp}.json", payload)
    show(payload, path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
