"""How one chunk's base and LoRA outputs are computed: a registry of strategies with one signature.

- `sequential`: the reference documents' way: the base pass over the chunk, then the adapter (loaded if it is
  not), then the LoRA pass. Base inference always runs with pure base weights (see adapters.py).
- `mixed`: one generate() per batch whose rows carry `adapter_names` `__base__` and `default`, so base and LoRA
  share every forward pass.
Adding a strategy = one registered function from a `ChunkJob` to `ChunkOutputs`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .adapters import AdapterSwitch
from .config import LoraVsBaseConfig
from .display import RunDisplay
from .generation import Generation, batch_slices, generate_all, generate_mixed
from .phases import Phase, PhaseLog


@dataclass
class ChunkJob:
    switch: AdapterSwitch
    tokenizer: object
    prompts: list[str]
    config: LoraVsBaseConfig
    first_index: int
    index: int
    total: int
    phases: PhaseLog
    display: RunDisplay

    @property
    def n_batches(self) -> int:
        return len(batch_slices(len(self.prompts), self.config.inference.batch_size))

    def ensure_adapter(self) -> None:
        if not self.switch.attached:
            with self.phases.track("adapter_load"):
                self.switch.attach()
            self.display.print(f"LoRA adapter loaded from {self.switch.adapter_dir}")


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


def _count(phase: Phase, generations: list[Generation]) -> None:
    phase.samples += len(generations)
    phase.new_tokens += sum(g.new_tokens for g in generations)


@register("sequential")
def sequential(job: ChunkJob) -> ChunkOutputs:
    settings = dict(batch_size=job.config.inference.batch_size, first_index=job.first_index)
    job.display.step("sequential", 1, job.index, job.total)
    with (job.display.bar(f"Base inference (chunk {job.index + 1})", job.n_batches) as advance,
          job.phases.track("base") as phase, job.switch.pure_base() as model):
        base = generate_all(model, job.tokenizer, job.prompts, job.config.generation, on_batch=advance, **settings)
        _count(phase, base)
    job.display.step("sequential", 2, job.index, job.total)
    job.ensure_adapter()
    with (job.display.bar(f"LoRA inference (chunk {job.index + 1})", job.n_batches) as advance,
          job.phases.track("lora") as phase):
        lora = generate_all(job.switch.lora_model, job.tokenizer, job.prompts, job.config.generation,
                            on_batch=advance, **settings)
        _count(phase, lora)
    return ChunkOutputs(base, lora)


@register("mixed")
def mixed(job: ChunkJob) -> ChunkOutputs:
    job.ensure_adapter()
    job.display.step("mixed", 1, job.index, job.total)
    with (job.display.bar(f"Base+LoRA inference (chunk {job.index + 1})", job.n_batches) as advance,
          job.phases.track("mixed") as phase):
        base, lora = generate_mixed(job.switch.mixed_model, job.tokenizer, job.prompts, job.config.generation,
                                    batch_size=job.config.inference.batch_size, first_index=job.first_index,
                                    adapter=AdapterSwitch.ADAPTER_NAME, on_batch=advance)
        _count(phase, base + lora)
    return ChunkOutputs(base, lora)


def step_numbers(strategy: str) -> tuple[int, int]:
    """(write step, cleanup step) in the banner numbering of `strategy`."""
    return (3, 4) if strategy == "sequential" else (2, 3)
