"""How one chunk's base and LoRA outputs are computed: a registry of strategies with one signature.

- `sequential`: the reference documents' way: the base pass over the chunk on pure base weights, then the adapter
  (loaded if it is not), then the LoRA pass.
- `mixed`: one generate() per batch whose rows carry `adapter_names` `__base__` and `default`, so base and LoRA
  share every forward pass. Both halves pad to the same width, so each row sees what it would alone.
Every batch goes through `models.timed.timed_generate`; batches are fixed slices of the chunk, so the same chunk
gives the same batches (and greedy outputs) whether it runs first, after a resume, or inside a bigger chunk of the
same boundaries. Adding a strategy = one registered function from a `ChunkJob` to `ChunkOutputs`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ...core.measure import Stage, StageLog
from ...models.adapters import AdapterSwitch
from ...models.timed import timed_generate
from .config import GenerationSection, LoraConfig


@dataclass
class Generation:
    response: str
    new_tokens: int
    batch_seconds: float
    batch_rows: int


def generate_kwargs(gen: GenerationSection) -> dict:
    kwargs = {"max_new_tokens": gen.max_new_tokens, "do_sample": gen.do_sample}
    if gen.do_sample:  # passing these with greedy decoding only earns a warning
        kwargs.update(temperature=gen.temperature, top_p=gen.top_p, top_k=gen.top_k)
    return kwargs


def batch_slices(total: int, batch_size: int) -> list[slice]:
    return [slice(start, min(start + batch_size, total)) for start in range(0, total, batch_size)]


def generate_batch(model, tokenizer, prompts: Sequence[str], gen: GenerationSection, seed: int,
                   **extra) -> list[Generation]:
    timing = timed_generate(model, tokenizer, list(prompts), generate_kwargs={**generate_kwargs(gen), **extra},
                            seed=seed if gen.do_sample else None)
    return [Generation(text, n, timing.e2el_s, len(prompts)) for text, n in zip(timing.texts, timing.new_tokens)]


@dataclass
class ChunkJob:
    switch: AdapterSwitch
    tokenizer: object
    prompts: list[str]
    config: LoraConfig
    first_index: int
    stages: StageLog
    advance: Callable[[int], None]  # samples finished (counted once per model)

    @property
    def gen(self) -> GenerationSection:
        return self.config.generation

    def ensure_adapter(self) -> None:
        if not self.switch.attached:
            with self.stages.track("adapter_load"):
                self.switch.attach()

    def each_batch(self, model, stage: Stage, **extra) -> list[Generation]:
        out: list[Generation] = []
        for part in batch_slices(len(self.prompts), self.config.inference.batch_size):
            rows = generate_batch(model, self.tokenizer, self.prompts[part], self.gen,
                                  self.gen.seed + self.first_index + part.start, **extra)
            out.extend(rows)
            stage.samples += len(rows)
            stage.new_tokens += sum(r.new_tokens for r in rows)
            self.advance(len(rows))
        return out


@dataclass
class ChunkOutputs:
    base: list[Generation]
    lora: list[Generation]


STRATEGIES: dict[str, Callable[[ChunkJob], ChunkOutputs]] = {}


def register(name: str):
    def add(fn: Callable[[ChunkJob], ChunkOutputs]) -> Callable[[ChunkJob], ChunkOutputs]:
        STRATEGIES[name] = fn
        return fn

    return add


@register("sequential")
def sequential(job: ChunkJob) -> ChunkOutputs:
    with job.stages.track("base") as stage, job.switch.pure_base() as model:
        base = job.each_batch(model, stage)
    job.ensure_adapter()
    with job.stages.track("lora") as stage:
        lora = job.each_batch(job.switch.lora_model, stage)
    return ChunkOutputs(base, lora)


@register("mixed")
def mixed(job: ChunkJob) -> ChunkOutputs:
    job.ensure_adapter()
    base: list[Generation] = []
    lora: list[Generation] = []
    with job.stages.track("mixed") as stage:
        for part in batch_slices(len(job.prompts), job.config.inference.batch_size):
            batch = list(job.prompts[part])
            names = ["__base__"] * len(batch) + [AdapterSwitch.ADAPTER_NAME] * len(batch)
            rows = generate_batch(job.switch.mixed_model, job.tokenizer, batch + batch, job.gen,
                                  job.gen.seed + job.first_index + part.start, adapter_names=names)
            base.extend(rows[: len(batch)])
            lora.extend(rows[len(batch):])
            stage.samples += len(rows)
            stage.new_tokens += sum(r.new_tokens for r in rows)
            job.advance(len(rows))
    return ChunkOutputs(base, lora)
