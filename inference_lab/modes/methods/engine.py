"""`engine: openai`: after the in-process rounds, the same prompts through an OpenAI-compatible server.

The in-process methods are the reference: at temperature 0 the server's tokens are compared with in-process greedy
tokens per prompt (batch 1, no padding, so the reference is exact), first divergence included. The server is
measured by `engines.runner.measure_server` (vLLM's metric definitions, each concurrency level of `load`, each
traffic mix: base, every adapter, all mixed). Every request streams into results.jsonl as a `request` record, level
by level, and the server's log goes to `server.log`; the aggregate becomes one `engine` record. A resumed run keeps
a finished server phase and measures an unfinished one again from the start (`runner._kept` drops its partial
`request` records).

The checks that need no measurement run in `check` (called from `prepare`, before any model loads): a launch
command that cannot be built (no .venv-vllm, a head size vLLM's CPU build cannot run, a LoRA rank it does not take)
or a base_url that does not answer is one line and exit 2, not a failure after minutes of in-process work.
"""

from __future__ import annotations

from pathlib import Path

from ...core.errors import UserError, first_line
from .config import MethodsConfig

SERVER_LOG = "server.log"


def served_adapters(config: MethodsConfig) -> dict[str, Path]:
    """Served name -> adapter folder (every adapter is a folder here: the config refuses random ones)."""
    from ...models.adapters import resolve_adapter

    return {name: resolve_adapter(str(ref), f"adapters.{name}", config.allow_pickle_weights)
            for name, ref in config.named_adapters().items()}


def check(config: MethodsConfig, model_path: str) -> None:
    """Fail fast on a server that cannot be started or reached (one line, exit 2)."""
    settings = config.server
    adapters = served_adapters(config)
    if settings.launch:
        from ...engines.commands import launch_plan

        launch_plan(settings, model_path, served_name=settings.model or model_path, adapters=adapters)
        return
    import httpx

    try:
        response = httpx.get(f"{settings.base_url}/v1/models", timeout=10.0)
    except httpx.HTTPError as exc:
        raise UserError(f"server.base_url: {settings.base_url} does not answer ({first_line(exc)})") from None
    if response.status_code >= 400 and response.status_code not in {401, 403}:  # auth is checked with the key later
        raise UserError(f"server.base_url: {settings.base_url}/v1/models answered HTTP {response.status_code} "
                        "(is this an OpenAI-compatible server?)")


def reference_ids(prep, prompts: list[str]) -> list[list[int]] | None:
    """In-process greedy ids per prompt at temperature 0 (None otherwise: sampled outputs are not comparable)."""
    if prep.config.temperature != 0:
        return None
    from ...engines.reference import greedy_ids

    return greedy_ids(prep.main.model, prep.main.tokenizer, prompts, prep.config.max_new_tokens, batch_size=1)


def server_settings(cfg: MethodsConfig, prep):
    """`server`, with `max_model_len` taken from the work when a launched vLLM is not given one: the longest
    prompt plus max_new_tokens, rounded up to 256. vLLM otherwise reserves the model's whole context (32 K-128 K
    tokens for current models), which its CPU build's KV-cache space cannot hold."""
    settings = cfg.server
    if settings.launch != "vllm" or settings.max_model_len:
        return settings
    longest = max((len(ids) for ids in prep.main.tokenizer(list(prep.prompts))["input_ids"]), default=0)
    needed = longest + cfg.max_new_tokens + 64  # + 64: what a chat template adds
    return settings.model_copy(update={"max_model_len": -(-needed // 256) * 256})


def run_phase(prep, ctx) -> dict:
    """Measure the server (or keep a finished phase on resume); returns the payload's `engine` entry."""
    for row in ctx.records():
        if row.get("kind") == "engine":
            ctx.log("resuming: server phase already measured, kept")
            return {k: v for k, v in row.items() if k != "kind"}
    from ...engines.reference import model_eos_ids
    from ...engines.runner import measure_server

    cfg: MethodsConfig = prep.config
    counts = cfg.completions_per_prompt()
    unique = reference_ids(prep, prep.prompts)
    prompts = [p for p, n in zip(prep.prompts, counts) for _ in range(n)]
    reference = None if unique is None else [ids for ids, n in zip(unique, counts) for _ in range(n)]
    ctx.log(f"server phase: {len(prompts)} requests per level, concurrency {cfg.load_shape().concurrency}")

    def on_level(level) -> None:
        agg = level.aggregate
        ctx.log(f"  {level.mix} at concurrency {level.concurrency}: {agg.get('completed')} requests, "
                f"{(agg.get('output_throughput') or 0):.1f} output tok/s")

    result = measure_server(
        server_settings(cfg, prep), prompts, model_path=prep.main.report.source, max_new_tokens=cfg.max_new_tokens,
        run_dir=ctx.path, temperature=cfg.temperature, top_p=cfg.top_p, seed=cfg.seed, adapters=served_adapters(cfg),
        shape=cfg.load_shape(), slo=cfg.slo, dtype=prep.main.report.dtype, tokenizer=prep.main.tokenizer,
        reference_ids=reference, eos_ids=model_eos_ids(prep.main.model, prep.main.tokenizer), on_level=on_level,
        record=lambda rows: ctx.append([{"kind": "request", **row} for row in rows]))
    entry = result.to_dict(with_requests=False)
    entry["adapter_overhead"] = adapter_overhead(result.levels)
    if entry.get("server_log"):
        entry["server_log"] = SERVER_LOG  # inside the run folder: stored relative, so the folder can move
    ctx.append([{"kind": "engine", **entry}])
    return entry


def adapter_overhead(levels) -> list[dict]:
    """Per adapter mix and concurrency: TPOT, TTFT and E2EL change against the base mix at the same concurrency, in
    percent, with bootstrap intervals over the requests (unpaired: different requests)."""
    from ...core.stats import percent_change, ratio

    def samples(level, key: str) -> list[float]:
        return [getattr(r, key) for r in level.requests if r.ok and getattr(r, key) is not None]

    base = {lv.concurrency: lv for lv in levels if lv.mix == "base"}
    rows = []
    for lv in levels:
        if lv.mix == "base" or lv.concurrency not in base:
            continue
        rows.append({"mix": lv.mix, "concurrency": lv.concurrency,
                     **{key: percent_change(ratio(samples(lv, f"{key}_s"), samples(base[lv.concurrency], f"{key}_s")))
                        for key in ("tpot", "ttft", "e2el")}})
    return rows
