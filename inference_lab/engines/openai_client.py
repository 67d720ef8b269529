"""Streamed requests to an OpenAI-compatible server, timed on the client's clock the way vLLM times them.

One request = POST /v1/completions (or /v1/chat/completions) with `stream: true`. Per request, following
vLLM's `benchmarks/lib/endpoint_request_func.py` (async_request_openai_completions):
- TTFT: send -> first chunk that carries output (text or token ids);
- ITL: the gap before every later output chunk (a chunk may hold several tokens: `chunk_tokens` says how many
  where the server returns token ids);
- E2EL: send -> last chunk with `choices` (a usage-only chunk after it does not count);
- TPOT: (E2EL - TTFT) / (output_tokens - 1), output_tokens from the server's `usage`.
Failures never raise: `error` holds one line and whatever arrived before it is kept.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import httpx

from ..core.errors import first_line


@dataclass(frozen=True)
class RequestSpec:
    """One request to send: which prompt, to which served model (base or adapter)."""

    index: int
    prompt_index: int
    model: str
    prompt: str


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int | None = None
    fixed_length: bool = False  # ask the server to suppress EOS so every request yields max_tokens tokens
    eos_token_ids: tuple[int, ...] = ()  # the model's EOS ids, for servers that need them spelt out


@dataclass
class RequestResult:
    index: int
    prompt_index: int
    model: str
    start: float  # client perf_counter at send
    ttft_s: float | None = None
    itl_s: list[float] = field(default_factory=list)
    chunk_tokens: list[int] | None = None
    e2el_s: float | None = None
    tpot_s: float | None = None
    output_tokens: int | None = None
    prompt_tokens: int | None = None
    tokenizer_tokens: int | None = None
    token_count_mismatch: bool | None = None
    finish_reason: str | None = None
    token_ids: list[int] | None = None
    text: str = ""
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return asdict(self)


def request_body(spec: RequestSpec, sampling: Sampling, *, endpoint: str, dialect: str) -> dict:
    """The JSON body; `dialect` adds what that server understands beyond the OpenAI schema."""
    body: dict = {"model": spec.model, "max_tokens": sampling.max_tokens, "temperature": sampling.temperature,
                  "top_p": sampling.top_p, "stream": True, "stream_options": {"include_usage": True}}
    if endpoint == "chat":
        body["messages"] = [{"role": "user", "content": spec.prompt}]
    else:
        body["prompt"] = spec.prompt
    if sampling.seed is not None:
        body["seed"] = sampling.seed
    if dialect == "vllm":
        # token ids make agreement exact and give chunk sizes; no BOS added, as the in-process runs encode
        body["return_token_ids"] = True
        if endpoint != "chat":
            body["add_special_tokens"] = False
        if sampling.fixed_length:
            body.update(ignore_eos=True, min_tokens=sampling.max_tokens)
    elif dialect == "transformers" and sampling.fixed_length:
        # `transformers serve` rejects unknown fields (422) but takes a whole GenerationConfig as JSON. It
        # replaces the model's, and min_new_tokens only suppresses EOS when eos_token_id is in it: then EOS is
        # never chosen, as with vLLM's min_tokens and in-process generate(min_new_tokens=...).
        config: dict = {"max_new_tokens": sampling.max_tokens, "min_new_tokens": sampling.max_tokens,
                        "do_sample": sampling.temperature > 0}
        if sampling.eos_token_ids:
            config["eos_token_id"] = list(sampling.eos_token_ids)
        body["generation_config"] = json.dumps(config)
    return body


def error_detail(response_text: str) -> str:
    """The message inside an error body: vLLM {"error": {"message"}}, FastAPI {"detail"}, else the text."""
    try:
        data = json.loads(response_text)
    except ValueError:
        return response_text.strip().splitlines()[0] if response_text.strip() else "(empty body)"
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"]).splitlines()[0]
        if isinstance(err, str):
            return err.splitlines()[0]
        if data.get("detail"):
            return str(data["detail"]).splitlines()[0]
    return str(data)[:200]


def _chunk_output(choice: dict, endpoint: str) -> tuple[str, list[int] | None]:
    if endpoint == "chat":
        text = (choice.get("delta") or {}).get("content") or ""
    else:
        text = choice.get("text") or ""
    ids = choice.get("token_ids")
    return text, ids if isinstance(ids, list) else None


class StreamingClient:
    """An httpx.AsyncClient bound to one server; `send` streams one request and times it."""

    def __init__(self, base_url: str, *, endpoint: str = "completions", dialect: str = "openai",
                 api_key: str | None = None, max_connections: int = 64, request_timeout_s: float = 600.0):
        self.base_url = base_url.rstrip("/")
        self.endpoint = endpoint
        self.dialect = dialect
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.base_url, headers=headers,
            timeout=httpx.Timeout(request_timeout_s, connect=10.0),
            limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        )

    @property
    def path(self) -> str:
        return "/v1/chat/completions" if self.endpoint == "chat" else "/v1/completions"

    async def __aenter__(self) -> StreamingClient:
        return self

    async def __aexit__(self, *exc) -> None:
        await self._client.aclose()

    async def models(self) -> list[dict]:
        """GET /v1/models `data` (raises httpx errors: the caller turns them into one line)."""
        response = await self._client.get("/v1/models")
        response.raise_for_status()
        return list(response.json().get("data") or [])

    async def send(self, spec: RequestSpec, sampling: Sampling) -> RequestResult:
        body = request_body(spec, sampling, endpoint=self.endpoint, dialect=self.dialect)
        start = time.perf_counter()
        result = RequestResult(index=spec.index, prompt_index=spec.prompt_index, model=spec.model, start=start)
        pieces: list[str] = []
        ids: list[int] = []
        chunk_tokens: list[int] = []
        last = start
        try:
            async with self._client.stream("POST", self.path, json=body) as response:
                result.status_code = response.status_code
                if response.status_code != 200:
                    detail = error_detail((await response.aread()).decode("utf-8", errors="replace"))
                    result.error = f"HTTP {response.status_code}: {detail}"
                    return result
                async for line in response.aiter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators and SSE comments (pings)
                    payload = line[len("data:"):].strip()
                    if payload == "[DONE]":
                        break
                    data = json.loads(payload)
                    if data.get("error"):
                        result.error = f"server error in stream: {error_detail(payload)}"
                        break
                    usage = data.get("usage")
                    if usage:
                        result.output_tokens = usage.get("completion_tokens")
                        result.prompt_tokens = usage.get("prompt_tokens")
                    choices = data.get("choices") or []
                    if not choices:
                        continue
                    now = time.perf_counter()
                    choice = choices[0]
                    text, chunk_ids = _chunk_output(choice, self.endpoint)
                    result.finish_reason = choice.get("finish_reason") or result.finish_reason
                    if text or chunk_ids:
                        if result.ttft_s is None:
                            result.ttft_s = now - start
                        else:
                            result.itl_s.append(now - last)
                        pieces.append(text)
                        if chunk_ids is not None:
                            ids.extend(chunk_ids)
                            chunk_tokens.append(len(chunk_ids))
                        last = now
                    result.e2el_s = now - start
        except httpx.HTTPError as err:
            result.error = first_line(err)
        except ValueError as err:  # a data line that is not JSON
            result.error = f"malformed stream: {first_line(err)}"
        result.text = "".join(pieces)
        if chunk_tokens:
            result.token_ids, result.chunk_tokens = ids, chunk_tokens
        if result.error is None and result.ttft_s is None:
            result.error = "stream ended without any output"
        n = result.output_tokens
        if result.ttft_s is not None and result.e2el_s is not None and n and n > 1:
            result.tpot_s = (result.e2el_s - result.ttft_s) / (n - 1)  # vLLM's definition
        return result


@dataclass
class LoadRun:
    """One measured batch of requests at one load shape. `wall_s`: first send to last completion."""

    concurrency: int
    request_rate: float | None
    results: list[RequestResult]
    warmup: list[RequestResult]
    wall_s: float


def poisson_gaps(n: int, rate: float | None, seed: int) -> list[float]:
    """Seconds to wait before each request: exponential gaps for a Poisson process, zeros when unpaced."""
    if rate is None:
        return [0.0] * n
    rng = random.Random(seed)
    return [rng.expovariate(rate) for _ in range(n)]


async def run_load(client: StreamingClient, specs: Sequence[RequestSpec], sampling: Sampling, *,
                   concurrency: int, request_rate: float | None = None, seed: int = 0,
                   warmup: Sequence[RequestSpec] = ()) -> LoadRun:
    """Warm-up requests first (same concurrency, left out), then `specs` paced by `request_rate` and capped at
    `concurrency` in flight. As in vLLM's serve benchmark, a request's clock starts when it gets a slot, so
    TTFT excludes time queued in the client."""
    limit = asyncio.Semaphore(concurrency)

    async def one(spec: RequestSpec) -> RequestResult:
        async with limit:
            return await client.send(spec, sampling)

    warm = list(await asyncio.gather(*(one(s) for s in warmup))) if warmup else []
    tasks: list[asyncio.Task] = []
    started = time.perf_counter()
    for spec, gap in zip(specs, poisson_gaps(len(specs), request_rate, seed)):
        if gap:
            await asyncio.sleep(gap)
        tasks.append(asyncio.create_task(one(spec)))
    results = list(await asyncio.gather(*tasks))
    return LoadRun(concurrency, request_rate, results, warm, time.perf_counter() - started)
