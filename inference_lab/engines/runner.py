"""Measure one OpenAI-compatible server: the function the comparator calls for `engine: openai`.

`measure_server` starts the server when the settings say `launch` (and always stops it), checks that it
answers and serves the names asked for, then for every traffic mix (base, each adapter, all mixed) and every
concurrency level sends warm-up requests, then the measured ones, and aggregates them. Requests are appended
to `<run_dir>/engine_requests.jsonl` level by level, so a run that breaks keeps what it measured.
Bad input ends in one-line `UserError`s; a server that dies mid-run gives status `failed` with the levels
measured so far.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from ..core.errors import UserError, first_line
from ..core.storage import append_jsonl
from . import agreement as agree
from .commands import launch_plan
from .config import SLO, LoadShape, ServerSettings
from .metrics import aggregate, check_token_counts, overhead_pct
from .openai_client import LoadRun, RequestResult, RequestSpec, Sampling, StreamingClient, run_load
from .server import LaunchedServer, last_log_line, launched_server

REQUESTS_FILE = "engine_requests.jsonl"
SERVER_LOG = "server.log"


@dataclass
class LevelResult:
    """One traffic mix at one load shape."""

    mix: str
    models: list[str]
    concurrency: int
    request_rate: float | None
    aggregate: dict
    requests: list[RequestResult]
    warmup: list[RequestResult]

    def to_dict(self, with_requests: bool = True) -> dict:
        out = {k: v for k, v in asdict(self).items() if k not in ("requests", "warmup")}
        if with_requests:
            out["requests"] = [r.to_dict() for r in self.requests]
        return out


@dataclass
class EngineResult:
    status: str  # complete | failed
    base_url: str
    dialect: str
    base_model: str
    served_models: list[str]
    launch_command: list[str] | None = None
    server_pid: int | None = None  # leader and process group id of a launched server (gone when this returns)
    server_log: str | None = None
    ready_s: float | None = None
    levels: list[LevelResult] = field(default_factory=list)
    adapter_overhead: list[dict] = field(default_factory=list)
    agreement: dict | None = None
    notes: list[str] = field(default_factory=list)
    error: str | None = None

    def greedy_outputs(self, model: str | None = None) -> dict[int, RequestResult]:
        """First successful request per prompt for `model` (default: base), lowest concurrency first."""
        model = model or self.base_model
        out: dict[int, RequestResult] = {}
        for level in sorted(self.levels, key=lambda lv: lv.concurrency):
            for r in level.requests:
                if r.ok and r.model == model and r.prompt_index not in out:
                    out[r.prompt_index] = r
        return out

    def to_dict(self, with_requests: bool = False) -> dict:
        out = {k: v for k, v in asdict(self).items() if k != "levels"}
        out["levels"] = [level.to_dict(with_requests) for level in self.levels]
        return out


def default_mixes(base: str, adapters: Sequence[str]) -> dict[str, list[str]]:
    """base alone, each adapter alone, and (with adapters) everything interleaved."""
    mixes = {"base": [base]}
    for name in adapters:
        mixes[name] = [name]
    if adapters:
        mixes["mixed"] = [base, *adapters]
    return mixes


def build_specs(prompts: Sequence[str], models: Sequence[str], count: int, start_index: int = 0
                ) -> list[RequestSpec]:
    """`count` requests cycling prompts; models rotate so every prompt meets every model of the mix."""
    n = len(prompts)
    return [RequestSpec(index=start_index + i, prompt_index=i % n, model=models[(i + i // n) % len(models)],
                        prompt=prompts[i % n]) for i in range(count)]


def _api_key(settings: ServerSettings) -> str | None:
    if not settings.api_key_env:
        return None
    key = os.environ.get(settings.api_key_env)
    if not key:
        raise UserError(f"server.api_key_env: environment variable {settings.api_key_env} is not set")
    return key


async def _preflight(client: StreamingClient, settings: ServerSettings, needed: Sequence[str]) -> tuple[str, list[str]]:
    """Reachable? Which dialect? Every needed model served? -> (dialect, served names)."""
    try:
        listed = await client.models()
    except httpx.HTTPStatusError as err:
        raise UserError(f"server.base_url: {client.base_url}/v1/models answered HTTP {err.response.status_code}"
                        " (is this an OpenAI-compatible server?)") from None
    except (httpx.HTTPError, ValueError) as err:
        raise UserError(f"server.base_url: cannot reach {client.base_url} ({first_line(err)})") from None
    names = [str(m.get("id")) for m in listed if m.get("id")]
    dialect = settings.resolved_dialect()
    if dialect == "auto":
        dialect = "vllm" if any(m.get("owned_by") == "vllm" for m in listed) else "openai"
    # Only vLLM's list is authoritative: `transformers serve` lists its hub cache, not the pinned model, and
    # other servers vary; there a wrong name shows as the server refusing the warm-up requests.
    if dialect == "vllm":
        missing = [name for name in needed if name not in names]
        if missing:
            raise UserError(f"server.model: '{missing[0]}' is not served by {client.base_url} "
                            f"(served: {', '.join(names) or 'nothing'})")
    return dialect, names


def _rejected_by_server(results: Sequence[RequestResult]) -> RequestResult | None:
    """A request the server refused as bad input (4xx) when nothing succeeded: the config is wrong."""
    if not results or any(r.ok for r in results):
        return None
    refused = [r for r in results if r.status_code is not None and 400 <= r.status_code < 500]
    return refused[0] if len(refused) == len(results) else None


def _server_gone(server: LaunchedServer | None, run: LoadRun) -> str | None:
    """One line when the server died (launched: the process exited) or stopped answering at all."""
    if server is not None and not server.alive():
        gist = last_log_line(server.log_path)
        return (f"server exited with code {server.proc.returncode} during the run "
                f"(log {server.log_path}{': ' + gist if gist else ''})")
    if run.results and not any(r.ok for r in run.results) and all(r.status_code is None for r in run.results):
        return f"server stopped answering: {run.results[0].error}"
    return None


async def _measure_levels(client: StreamingClient, *, settings: ServerSettings, prompts: Sequence[str],
                          mixes: Mapping[str, list[str]], sampling: Sampling, shape: LoadShape,
                          count: int, slo_limits: dict, server: LaunchedServer | None, result: EngineResult,
                          record: Callable[[list[dict]], None], tokenizer,
                          on_level: Callable[[LevelResult], None] | None) -> None:
    needed = sorted({m for models in mixes.values() for m in models})
    result.dialect, result.served_models = await _preflight(client, settings, needed)
    client.dialect = result.dialect
    if sampling.fixed_length and result.dialect == "openai":
        result.notes.append("fixed output length asked, but this server's dialect has no ignore_eos: "
                            "requests may stop early at end-of-sequence")
    next_index = 0
    for mix, models in mixes.items():
        for concurrency in shape.concurrency:
            warm = build_specs(prompts, models, shape.warmup_requests, start_index=-shape.warmup_requests)
            specs = build_specs(prompts, models, count, start_index=next_index)
            next_index += count
            run = await run_load(client, specs, sampling, concurrency=concurrency,
                                 request_rate=shape.request_rate, seed=shape.seed, warmup=warm)
            refused = _rejected_by_server(run.warmup or run.results)
            if refused is not None:
                raise UserError(f"server.model: {client.base_url} refused model '{refused.model}' ({refused.error})")
            if tokenizer is not None:
                check_token_counts(run.results, tokenizer)
            level = LevelResult(mix, list(models), concurrency, shape.request_rate,
                                aggregate(run.results, run.wall_s, slo_limits), run.results, run.warmup)
            result.levels.append(level)
            record([{"mix": mix, "concurrency": concurrency, **r.to_dict()} for r in run.results])
            if on_level is not None:
                on_level(level)
            gone = _server_gone(server, run)
            if gone:
                result.status, result.error = "failed", gone
                return


def adapter_overheads(levels: Sequence[LevelResult], base_mix: str = "base") -> list[dict]:
    """Per non-base mix and concurrency: percent slower than the base mix (median TPOT, TTFT, E2EL)."""
    base = {lv.concurrency: lv.aggregate for lv in levels if lv.mix == base_mix}
    rows = []
    for lv in levels:
        if lv.mix == base_mix or lv.concurrency not in base:
            continue
        rows.append({"mix": lv.mix, "concurrency": lv.concurrency,
                     **{f"{m}_overhead_pct": overhead_pct(base[lv.concurrency], lv.aggregate, m)
                        for m in ("tpot_s", "ttft_s", "e2el_s")}})
    return rows


def server_agreement(result: EngineResult, reference_ids: Sequence[Sequence[int]], *, tokenizer=None,
                     eos_ids: set[int] | None = None, model: str | None = None) -> dict:
    """Token-exact agreement of one served model's outputs (default: base) with in-process ids, EOS stripped
    on both sides (servers differ on whether they return it)."""
    eos = eos_ids or set()
    outputs = result.greedy_outputs(model)
    candidate: list[list[int] | None] = []
    for index in range(len(reference_ids)):
        r = outputs.get(index)
        if r is None:
            candidate.append(None)
        elif r.token_ids is not None:
            candidate.append(agree.strip_eos(r.token_ids, eos))
        elif tokenizer is not None:
            candidate.append(tokenizer(r.text, add_special_tokens=False)["input_ids"])
        else:
            raise ValueError("server returned no token ids: pass a tokenizer to compare texts")
    reference = [agree.strip_eos(ids, eos) for ids in reference_ids]
    out = agree.compare(reference, candidate, tokenizer)
    out["basis"] = "token ids" if all(c is None or outputs.get(i) is None or outputs[i].token_ids is not None
                                      for i, c in enumerate(candidate)) else "re-encoded text"
    return out


def measure_server(settings: ServerSettings, prompts: Sequence[str], *, model_path: str | Path | None,
                   max_new_tokens: int, run_dir: str | Path, temperature: float = 0.0, top_p: float = 1.0,
                   seed: int | None = None, adapters: Mapping[str, str | Path | None] | None = None,
                   mixes: Mapping[str, list[str]] | None = None, shape: LoadShape | None = None,
                   slo: SLO | None = None, dtype: str = "auto", completions_per_prompt: int = 1,
                   fixed_length: bool = False, tokenizer=None,
                   reference_ids: Sequence[Sequence[int]] | None = None, eos_ids: set[int] | None = None,
                   on_level: Callable[[LevelResult], None] | None = None,
                   record: Callable[[list[dict]], None] | None = None) -> EngineResult:
    """Measure the server named by `settings` on `prompts` (already formatted: chat template applied).

    model_path: the model folder (needed for launch; its string is the default served name otherwise).
    adapters: served name -> adapter folder (launched vLLM serves them; for a running server that already
      serves them the folder may be None).
    mixes: mix label -> served names to rotate through; default: base, each adapter, and all mixed.
    reference_ids: in-process greedy token ids per prompt; with temperature 0 the result gets `agreement`.
    record: where each level's request rows go (default: appended to `<run_dir>/engine_requests.jsonl`).
    """
    if not prompts:
        raise UserError("prompts: at least one prompt is needed")
    shape = shape or LoadShape()
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if record is None:
        def record(rows: list[dict]) -> None:
            append_jsonl(run_dir / REQUESTS_FILE, rows)
    adapters = dict(adapters or {})
    base = settings.model or (str(model_path) if model_path is not None else None)
    if base is None:
        raise UserError("server.model: name the served model (or give the model path)")
    sampling = Sampling(max_tokens=max_new_tokens, temperature=temperature, top_p=top_p, seed=seed,
                        fixed_length=fixed_length, eos_token_ids=tuple(sorted(eos_ids or ())))
    count = shape.num_requests or len(prompts) * completions_per_prompt
    slo_limits = slo.limits_s() if slo else {}
    api_key = _api_key(settings)
    result = EngineResult(status="complete", base_url=settings.base_url or "", dialect=settings.dialect,
                          base_model=base, served_models=[])

    def measure(base_url: str, server: LaunchedServer | None) -> None:
        result.base_url = base_url
        mix_table = dict(mixes) if mixes else default_mixes(result.base_model, list(adapters))
        max_conn = max(shape.concurrency) + 4

        async def go() -> None:
            async with StreamingClient(base_url, endpoint=settings.endpoint, dialect=settings.resolved_dialect(),
                                       api_key=api_key, max_connections=max_conn) as client:
                await _measure_levels(client, settings=settings, prompts=prompts, mixes=mix_table,
                                      sampling=sampling, shape=shape, count=count, slo_limits=slo_limits,
                                      server=server, result=result, record=record,
                                      tokenizer=tokenizer, on_level=on_level)

        asyncio.run(go())

    if settings.launch:
        if model_path is None:
            raise UserError("server.launch: a launched server needs the model folder")
        missing = [name for name, folder in adapters.items() if folder is None]
        if missing:
            raise UserError(f"adapters: '{missing[0]}' needs its folder for a launched server")
        plan = launch_plan(settings, model_path, served_name=base, dtype=dtype, adapters=adapters, run_dir=run_dir)
        result.base_model = plan.base_model
        result.notes.extend(plan.notes)
        result.server_log = str(run_dir / SERVER_LOG)
        with launched_server(plan.argv, log_path=run_dir / SERVER_LOG, ready_timeout_s=settings.ready_timeout_s,
                             env=plan.env) as server:
            result.launch_command, result.ready_s, result.server_pid = server.argv, server.ready_s, server.pgid
            measure(server.base_url, server)
    else:
        measure(settings.base_url or "", None)

    result.adapter_overhead = adapter_overheads(result.levels)
    if reference_ids is not None and temperature == 0 and result.levels:
        result.agreement = server_agreement(result, reference_ids, tokenizer=tokenizer, eos_ids=eos_ids)
    return result
