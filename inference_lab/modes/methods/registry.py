"""Registry of generation methods and of the speculative variants that wrap them.

A method is one registered function from the config to a `MethodPlan`: how many rows go into one generate
call and with which generate() settings. A variant (`speculative`, `prompt_lookup`) is one registered
function from a plan to a new plan, or to a skip reason, so `<method>_<variant>` never duplicates a method.

Why variants change the batch size: transformers (5.x) refuses assisted generation and prompt lookup for
more than one row (`ValueError: assisted generate is only supported for batch_size = 1`) and with beam
search. Such combinations run their rows one at a time and say so in `notes`, or are skipped with the
reason; a row is never labelled speculative unless it ran with a draft source.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

# Fixed by the reference guide for nucleus_sampling, whatever the config says.
NUCLEUS_TOP_P = 0.9
NUCLEUS_TEMPERATURE = 0.8


@dataclass(frozen=True)
class MethodPlan:
    name: str
    base_method: str
    variant: str | None
    batch_size: int
    generate_kwargs: dict[str, Any]
    beams_per_prompt: bool = False  # one call per prompt returning all of its completions
    draft_source: str | None = None  # "assistant" | "prompt_lookup" | None
    compiled: bool = False  # static KV cache + compiled decode step (models/compiled.py)
    auto_batch: bool = False  # batch_size is where `batch_size: auto` starts halving on out-of-memory
    adapter: str | None = None  # runs with this adapter attached, unmerged (config.named_adapters())
    notes: tuple[str, ...] = ()

    def with_note(self, note: str) -> MethodPlan:
        return replace(self, notes=(*self.notes, note))


@dataclass(frozen=True)
class Skip:
    name: str
    reason: str


@dataclass(frozen=True)
class MethodInfo:
    name: str
    description: str
    plan: Callable[..., MethodPlan]
    default: bool = True  # run when methods_to_test is null


@dataclass(frozen=True)
class VariantInfo:
    name: str
    description: str
    wrap: Callable[..., MethodPlan | Skip]


@dataclass
class Registry:
    methods: dict[str, MethodInfo] = field(default_factory=dict)
    variants: dict[str, VariantInfo] = field(default_factory=dict)


REGISTRY = Registry()


def register_method(name: str, description: str, *, default: bool = True):
    def decorate(fn: Callable[..., MethodPlan]) -> Callable[..., MethodPlan]:
        REGISTRY.methods[name] = MethodInfo(name, description, fn, default)
        return fn

    return decorate


def register_variant(name: str, description: str):
    def decorate(fn: Callable[..., MethodPlan | Skip]) -> Callable[..., MethodPlan | Skip]:
        REGISTRY.variants[name] = VariantInfo(name, description, fn)
        return fn

    return decorate


def method_names() -> list[str]:
    return list(REGISTRY.methods)


def default_method_names() -> list[str]:
    """What `methods_to_test: null` runs: every method not registered with default=False."""
    return [name for name, info in REGISTRY.methods.items() if info.default]


def split_method_name(name: str) -> tuple[str, str | None]:
    """'batched_speculative' -> ('batched', 'speculative'); 'batched' -> ('batched', None)."""
    for variant in REGISTRY.variants:
        suffix = f"_{variant}"
        if name.endswith(suffix) and name[: -len(suffix)] in REGISTRY.methods:
            return name[: -len(suffix)], variant
    return name, None


def rows_per_call(config) -> tuple[int, bool]:
    """(rows per generate call for batched methods, whether `batch_size: auto` still has to settle it)."""
    size = config.effective_batch_size()
    if size == "auto":
        total = sum(config.completions_per_prompt())
        return max(1, min(config.max_batch_size, total)), True
    return size, False


def sampling_kwargs(config) -> dict[str, Any]:
    """The config's own decoding settings: greedy at temperature 0, else sampling with its knobs."""
    if config.temperature == 0:
        return {"do_sample": False}
    return {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p, "top_k": config.top_k}


# --- methods -------------------------------------------------------------------------------------------


@register_method("standard", "the config's decoding, one sequence per generate call (batch 1): the baseline")
def standard(config) -> MethodPlan:
    return MethodPlan("standard", "standard", None, 1, sampling_kwargs(config))


@register_method("batched", "the config's decoding, batch_size rows per call, left-padded")
def batched(config) -> MethodPlan:
    rows, auto = rows_per_call(config)
    return MethodPlan("batched", "batched", None, rows, sampling_kwargs(config), auto_batch=auto)


@register_method("beam_search", "beam search per prompt: num_completions beams and returned sequences, no sampling")
def beam_search(config) -> MethodPlan:
    return MethodPlan("beam_search", "beam_search", None, 1, {"do_sample": False}, beams_per_prompt=True,
                      notes=("beams = max(2, completions of the prompt); sampling settings ignored",))


@register_method("nucleus_sampling", f"top-p sampling at fixed top_p={NUCLEUS_TOP_P}, temperature="
                 f"{NUCLEUS_TEMPERATURE}, top_k off, batch_size rows per call")
def nucleus_sampling(config) -> MethodPlan:
    kwargs = {"do_sample": True, "top_p": NUCLEUS_TOP_P, "temperature": NUCLEUS_TEMPERATURE, "top_k": 0}
    rows, auto = rows_per_call(config)
    return MethodPlan("nucleus_sampling", "nucleus_sampling", None, rows, kwargs, auto_batch=auto,
                      notes=(f"top_p={NUCLEUS_TOP_P}, temperature={NUCLEUS_TEMPERATURE} fixed (config ignored)",))


@register_method("compiled", "the config's decoding, batch_size rows per call, with a static KV cache and a compiled "
                             "decode step (gpt-fast's way; compile time reported apart, never in a latency)",
                 default=False)  # tens of seconds of compiling per batch size on CPU: run only when listed
def compiled(config) -> MethodPlan:
    rows, auto = rows_per_call(config)
    return MethodPlan("compiled", "compiled", None, rows, sampling_kwargs(config), compiled=True, auto_batch=auto,
                      notes=("static cache + torch.compile of the decode step; compile time and recompiles are "
                             "reported apart (warm-up per batch size)",))


# --- variants ------------------------------------------------------------------------------------------


def _one_row_at_a_time(plan: MethodPlan, variant: str, what: str) -> MethodPlan | Skip:
    name = f"{plan.name}_{variant}"
    if plan.beams_per_prompt:
        return Skip(name, f"{what} cannot be combined with beam search in transformers: skipped")
    if plan.compiled:
        return Skip(name, f"{what} is not combined with the compiled static-cache decode step here: skipped")
    new = replace(plan, name=name, variant=variant, batch_size=1, auto_batch=False)
    if plan.batch_size > 1:
        new = new.with_note(f"{what} supports one row per call in transformers: rows ran one at a time "
                            f"(batch_size {plan.batch_size} -> 1)")
    return new


@register_variant("speculative", "draft tokens from the assistant model, verified by the main model")
def speculative(plan: MethodPlan, config, assistant_error: str | None = None) -> MethodPlan | Skip:
    if assistant_error is not None:
        return Skip(f"{plan.name}_speculative", f"assistant model unavailable ({assistant_error}): skipped")
    wrapped = _one_row_at_a_time(plan, "speculative", "assisted generation")
    return wrapped if isinstance(wrapped, Skip) else replace(wrapped, draft_source="assistant")


@register_variant("prompt_lookup", "draft tokens copied from n-grams of the prompt (no assistant model)")
def prompt_lookup(plan: MethodPlan, config, assistant_error: str | None = None) -> MethodPlan | Skip:
    wrapped = _one_row_at_a_time(plan, "prompt_lookup", "prompt lookup decoding")
    if isinstance(wrapped, Skip):
        return wrapped
    tokens = config.prompt_lookup_num_tokens or 10
    return replace(wrapped, draft_source="prompt_lookup",
                   generate_kwargs={**wrapped.generate_kwargs, "prompt_lookup_num_tokens": tokens})


def requested_names(config) -> list[str]:
    """Method names to run, in order: the listed (or all) methods, then their enabled variants."""
    names = list(config.methods_to_test or default_method_names())
    bases = [n for n in names if split_method_name(n)[1] is None]
    extra: list[str] = []
    if config.use_speculative_decoding:
        extra += [f"{b}_speculative" for b in bases]
    if config.prompt_lookup_num_tokens:
        extra += [f"{b}_prompt_lookup" for b in bases]
    return list(dict.fromkeys(names + extra))


def build_plans(config, assistant_error: str | None = None) -> list[MethodPlan | Skip]:
    plans: list[MethodPlan | Skip] = []
    for name in requested_names(config):
        base, variant = split_method_name(name)
        plan = REGISTRY.methods[base].plan(config)
        if variant is not None:
            plan = REGISTRY.variants[variant].wrap(plan, config, assistant_error=assistant_error)
        plans.append(plan)
    return plans + adapter_plans(plans, list(config.named_adapters()))


def adapter_plans(plans: list[MethodPlan | Skip], adapters: list[str]) -> list[MethodPlan | Skip]:
    """`<method>+<adapter>` for every plain method and adapter: the same work with the adapter attached (unmerged
    PEFT). Draft-source variants get none (one more axis nobody asked for); the compiled step is not combined with
    PEFT's layers here."""
    out: list[MethodPlan | Skip] = []
    for adapter in adapters:
        for plan in plans:
            if not isinstance(plan, MethodPlan) or plan.variant is not None:
                continue
            name = f"{plan.name}+{adapter}"
            if plan.compiled:
                out.append(Skip(name, "the compiled static-cache step is not combined with PEFT adapters here: "
                                      "skipped"))
            else:
                out.append(replace(plan, name=name, adapter=adapter,
                                   notes=(*plan.notes, f"adapter {adapter} attached, unmerged (PEFT)")))
    return out
