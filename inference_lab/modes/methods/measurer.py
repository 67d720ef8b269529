"""Runs one batch of one plan through the one timed generate and turns it into a record; holds what a run shares
between batches: the forward counters, the static cache of `compiled`, the adapters attached for `<method>+<name>`
plans (attached around a method's pass, outside any timing, and unloaded after it, so every other method runs on
the untouched base model), the idle power of the energy meter."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import replace

from ...core import device as dev
from ...core.roofline import bytes_per_step, roofline
from ...models.timed import ForwardCounter, cache_kwargs, timed_generate
from .planning import WorkItem, batches, per_prompt
from .registry import MethodPlan
from .results import BatchRecord, MethodSummary


def groups_for(plan: MethodPlan, items: list[WorkItem]) -> list[list[WorkItem]]:
    return per_prompt(items) if plan.beams_per_prompt else batches(items, plan.batch_size)


class Measurer:
    """Runs one batch of one plan through the one timed generate and turns it into a record."""

    def __init__(self, prep):
        cfg = prep.config
        self.prep = prep
        self.model, self.tokenizer = prep.main.model, prep.main.tokenizer
        self.device = dev.resolve_device(prep.main.report.device)
        self.cache = cache_kwargs(cfg.cache_implementation, self.device)
        self.main_calls = ForwardCounter(self.model)
        self.draft_calls = ForwardCounter(prep.assistant.model if prep.assistant else None)
        self.new_tokens = cfg.effective_max_new_tokens()
        self.exact = {}
        if cfg.workload is not None:
            from ...models.synthetic import exact_length_kwargs

            self.exact = exact_length_kwargs(self.new_tokens, self.tokenizer.eos_token_id, self.tokenizer.pad_token_id)
        self._compiled = None
        self.idle_watts: float | None = None
        self.active = self.model  # what generate() runs: the base, or the base wrapped by an attached adapter
        self.footprints: dict[str, dict] = {}  # adapter name -> parameters and bytes it adds

    @contextmanager
    def adapter(self, name: str | None) -> Iterator[None]:
        """The adapter `name` attached (unmerged) around a block, nothing for None. PEFT injects its layers into the
        base in place; `detach` unloads them, so the methods without an adapter run on the untouched base."""
        if name is None:
            yield
            return
        from ...models.adapters import AdapterSwitch

        switch = AdapterSwitch(self.model, self.prep.adapters[name], base_name=self.prep.config.main_model)
        self.active = switch.attach()
        self.footprints[name] = switch.footprint.to_dict()
        try:
            yield
        finally:
            self.active = self.model
            switch.detach()

    def compiled(self):
        """One CompiledDecoding for the run: a static cache long enough for the longest prompt plus the new tokens."""
        if self._compiled is None:
            from ...models.compiled import CompiledDecoding

            if self.prep.synthetic is not None:
                longest = self.prep.synthetic.shape[1]
            else:
                longest = max(len(self.tokenizer(p, add_special_tokens=False)["input_ids"]) for p in self.prep.prompts)
            self._compiled = CompiledDecoding(self.model, max_cache_len=longest + self.new_tokens + 1)
        return self._compiled

    def close(self) -> None:
        self.main_calls.remove()
        self.draft_calls.remove()

    def inputs(self, texts_in: list[str], items: list[WorkItem]):
        """Text prompts (left-padded by the timed generate), or the workload's random-id rows of these items."""
        if self.prep.synthetic is None:
            return texts_in
        rows = self.prep.synthetic[[item.prompt_index for item in items]]
        import torch

        return {"input_ids": rows, "attention_mask": torch.ones_like(rows)}

    def measure(self, plan: MethodPlan, items: list[WorkItem], run: int, index: int, seed: int) -> BatchRecord:
        from ...models.compiled import _dynamo_graphs

        prompts = self.prep.prompts
        if plan.beams_per_prompt:
            texts_in = [prompts[items[0].prompt_index]]
            computed_rows = max(2, len(items))  # every beam is decoded; len(items) of them come back
            extra = {"num_beams": computed_rows, "num_return_sequences": len(items), "early_stopping": True}
            inputs = self.inputs(texts_in, items[:1])
        else:
            texts_in = [prompts[item.prompt_index] for item in items]
            computed_rows, extra = len(items), {}
            inputs = self.inputs(texts_in, items)
        kwargs = {**plan.generate_kwargs, **extra, **self.cache, "max_new_tokens": self.new_tokens, **self.exact}
        if plan.draft_source == "assistant":
            kwargs["assistant_model"] = self.prep.assistant.model
        graphs = None
        if plan.compiled:
            from ...models.textgen import encode_batch

            compiled = self.compiled()
            encoded = inputs if isinstance(inputs, Mapping) else encode_batch(self.tokenizer, inputs, self.device)
            sampling = {k: v for k, v in kwargs.items() if k not in {"max_new_tokens", "cache_implementation"}}
            with self.main_calls.paused():
                compiled.warm_up(encoded["input_ids"], encoded["attention_mask"], self.new_tokens, **sampling)
            import torch

            with torch.inference_mode():  # the static cache's tensors are inference tensors: reset them inside it
                kwargs = {**sampling, "max_new_tokens": self.new_tokens, **compiled.generate_kwargs(len(items))}
            inputs, graphs = encoded, _dynamo_graphs()
        with self.main_calls.paused() if plan.compiled else nullcontext():
            timing = timed_generate(self.active, self.tokenizer, inputs, generate_kwargs=kwargs, seed=seed,
                                    main_calls=None if plan.compiled else self.main_calls,
                                    draft_calls=self.draft_calls if plan.draft_source == "assistant" else None,
                                    device=self.device)
        if graphs is not None and run >= 0:
            self._compiled.graphs_during_timing += _dynamo_graphs() - graphs
        completion = timing.total_new_tokens
        return BatchRecord(
            method=plan.name, run=run, batch_index=index, prompt_indices=[i.prompt_index for i in items],
            completion_indices=[i.completion_index for i in items], rows=len(items), latency_s=timing.e2el_s,
            ttft_s=timing.ttft_s, tpot_s=timing.tpot_s, itl_s=[round(g, 7) for g in timing.itl_s],
            steps=timing.steps, new_tokens=timing.new_tokens, completion_tokens=completion,
            generated_tokens=computed_rows * timing.steps if plan.draft_source is None else completion,
            tokens_per_s=completion / timing.e2el_s if timing.e2el_s > 0 else 0.0,
            # the compiled call runs without the counter's hook (see ForwardCounter): one forward per decoding step
            forward_calls=timing.steps if plan.compiled else timing.forward_calls,
            draft_forward_calls=timing.draft_forward_calls, texts=timing.texts,
            pid=os.getpid(),
        )


def roofline_of(prep, plan: MethodPlan, summary: MethodSummary) -> dict | None:
    if plan.draft_source is not None or not summary.tpot_s:
        return None  # a speculative step verifies several tokens: bytes per token is not one weight pass
    from ...models.bandwidth import model_shape

    shape = model_shape(prep.main.model)
    if prep.synthetic is not None:
        prompt_tokens = float(prep.synthetic.shape[1])
    else:
        tokenizer = prep.main.tokenizer
        prompt_tokens = sum(len(tokenizer(p, add_special_tokens=False)["input_ids"]) for p in prep.prompts)
        prompt_tokens /= len(prep.prompts)
    rows = summary.beams or summary.effective_batch_size or 1
    new = (summary.completion_tokens_per_run or 0) / max(summary.completions, 1)
    result = roofline(bytes_per_step(shape, rows, prompt_tokens, new), summary.tpot_s["median"],
                      (prep.bandwidth or {}).get("bytes_per_s"))
    return result.to_dict() if result else None


def settle_batch(plan: MethodPlan, items: list[WorkItem], measurer: Measurer, seed: int) -> tuple[MethodPlan, list]:
    """`batch_size: auto`: the largest rows per call that run, halving from the plan's start on out-of-memory."""
    from ...models.batch_auto import largest_fitting_batch

    def try_rows(rows: int) -> BatchRecord:
        return measurer.measure(replace(plan, batch_size=rows), items[:rows], -1, 0, seed)

    _record, tried = largest_fitting_batch(try_rows, plan.batch_size)
    return replace(plan, batch_size=tried[-1]["batch_size"], auto_batch=False), tried


