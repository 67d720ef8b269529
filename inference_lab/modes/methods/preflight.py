"""Memory pre-flight for the methods mode: before any model loads, what the config needs (weights + KV cache +
activations, `models/preflight.py`) against what the device has free; a config that cannot fit is refused in one
line with the numbers ("main_model: needs 772.0 GiB (weights 29.9, KV cache 130.0, activations 612.1), 22.9 GiB
free on cpu").

The shape: the largest rows per call any requested method uses (beams for beam search; 1 for `batch_size: auto`,
whose halving finds the rest), the workload's prompt length or, for text prompts, their length in characters plus
64 for a chat template (byte-level tokenizers give at most one token per byte: an upper bound), and the new tokens.
The architecture comes from the catalogue (random weights), a local folder's config.json, or the hub cache; a hub
model that is not cached is not fetched for this: the check is skipped, and the result says so.
"""

from __future__ import annotations

from .config import MethodsConfig
from .registry import MethodPlan, build_plans, requested_names


def architecture(name: str, config: MethodsConfig, field: str):
    """The model's transformers config without loading weights, or None where it cannot be had offline."""
    if config.weights == "random":
        from ...models.catalogue import catalogue_config

        return catalogue_config(name, field)
    from transformers import AutoConfig

    from ...models.names import classify

    found = classify(name)
    source = str(found.path) if found.kind in {"demo", "local"} and found.built else name
    try:
        return AutoConfig.from_pretrained(source, local_files_only=True, trust_remote_code=config.trust_remote_code)
    except Exception:  # noqa: BLE001 - not cached, not a model folder: loading will say what is wrong
        return None


def shape(config: MethodsConfig) -> dict:
    rows = 1
    for plan in build_plans(config, assistant_error="not needed for the estimate"):
        if not isinstance(plan, MethodPlan):
            continue
        if plan.beams_per_prompt:
            rows = max(rows, max(2, max(config.completions_per_prompt())))
        elif not plan.auto_batch:
            rows = max(rows, plan.batch_size)
    if config.workload is not None:
        prompt_tokens = config.workload.prompt_tokens
    else:
        prompt_tokens = max(len(p.encode("utf-8")) for p in config.prompts) + (64 if config.use_chat_template else 1)
    return {"rows": rows, "prompt_tokens": prompt_tokens, "new_tokens": config.effective_max_new_tokens()}


def preflight(config: MethodsConfig, device) -> dict:
    """The estimate (and free memory) for the run's record; raises a one-line UserError when it cannot fit."""
    from ...models.loading import choose_dtype
    from ...models.preflight import check_fits, estimate_bytes, free_bytes

    main = architecture(config.main_model, config, "main_model")
    if main is None:
        return {"skipped": f"no config.json for '{config.main_model}' available offline before loading"}
    wants_assistant = any(n.endswith("_speculative") for n in requested_names(config))
    assistant = (architecture(config.assistant_model, config, "assistant_model")
                 if wants_assistant and config.assistant_model else None)
    dtype, _note = choose_dtype(config.dtype, device)
    quantization = config.quantization
    if quantization == "auto":
        quantization = "4bit" if device.type == "cuda" else "none"
    dims = shape(config)
    estimate = estimate_bytes(main, dtype=str(dtype).removeprefix("torch."), quantization=quantization,
                              batch_size=dims["rows"], prompt_tokens=dims["prompt_tokens"],
                              new_tokens=dims["new_tokens"], assistant_config=assistant, device_type=device.type)
    free, where = free_bytes(device), str(device)
    if config.device_map is not None and device.type == "cuda":
        # spread over every visible GPU (accelerate may also spill to CPU, which is not counted: a conservative check)
        import torch

        free = sum(free_bytes(torch.device("cuda", i)) or 0 for i in range(torch.cuda.device_count()))
        where = f"{torch.cuda.device_count()} GPUs (device_map {config.device_map})"
    check_fits(estimate, free, field_name="main_model", device=where)
    return {**estimate.to_dict(), **dims, "free_bytes": free}
