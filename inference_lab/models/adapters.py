"""The one adapter switch every mode uses, with one guarantee: base inference sees pure base weights.

`PeftModel.from_pretrained(base, dir)` injects LoRA layers into `base` *in place*, so after it a "base" run is a
LoRA run (the bug of the script the reference documents describe). Here:
- unmerged: attach wraps the base; `detach` calls `unload()`, which puts the original layers back untouched;
  while attached, base inference runs under `disable_adapter()` (`pure_base`).
- merged: `merge_and_unload()` writes the LoRA delta into the weights it is given, so it is given a copy of the
  base; the base itself is never merged into.
- mixed: the unmerged wrapper's `generate(adapter_names=[...])` runs base and adapter rows in one batch.

Where an adapter comes from (`AdapterSource`): a trained PEFT folder (a demo kit name or a path), or a PEFT
config alone (a *fresh* adapter, seeded: what the adapter benchmark times). Adapter weights follow the same
policy as model weights: safetensors only unless `allow_pickle_weights`; a truncated or unreadable file is one
line naming it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from ..core.errors import UserError, first_line
from .names import resolve_source

SAFE_WEIGHTS = "adapter_model.safetensors"
PICKLE_WEIGHTS = ("adapter_model.bin", "adapter_model.pt")


def resolve_adapter(name: str, field: str = "adapter", allow_pickle_weights: bool = False) -> Path:
    """A demo kit name (demo-lora) or a local folder holding adapter_config.json and loadable weights."""
    path = Path(resolve_source(name, field))
    if not path.is_dir():
        raise UserError(f"{field}: adapter folder not found: {name} (adapters are read from local folders)")
    if not (path / "adapter_config.json").is_file():
        raise UserError(f"{field}: '{name}' has no adapter_config.json (not a PEFT adapter folder)")
    check_adapter_weights(path, field, allow_pickle_weights)
    return path


def check_adapter_weights(path: Path, field: str, allow_pickle_weights: bool) -> None:
    safe = path / SAFE_WEIGHTS
    if safe.is_file():
        from safetensors import safe_open

        try:
            with safe_open(str(safe), framework="pt") as f:
                for key in f.keys():  # noqa: SIM118 - safe_open is no dict
                    f.get_slice(key)  # reads every tensor's header: a truncated file fails here
        except Exception as exc:
            raise UserError(f"{field}: {safe} is unreadable ({first_line(exc)}); is it truncated?") from None
        return
    pickled = [path / name for name in PICKLE_WEIGHTS if (path / name).is_file()]
    if not pickled:
        raise UserError(f"{field}: {path} has no adapter weights ({SAFE_WEIGHTS})")
    if not allow_pickle_weights:
        raise UserError(f"{field}: {path} holds only pickle weights ({pickled[0].name}); safetensors only unless "
                        "allow_pickle_weights: true")
    check_pickle_weights(pickled[0], field)


def check_pickle_weights(path: Path, field: str) -> None:
    """Allowed pickle weights still load only through torch's weights-only unpickler (no code runs); a file it
    refuses (code in it, another format, truncated) is one line here, before the model loads, not a traceback
    from inside PEFT after it."""
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Detected pickle protocol 4 ..." says nothing to act on
            torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - unpickling, zip and EOF errors alike: the file cannot be used
        raise UserError(f"{field}: {path} cannot be loaded safely ({_unpickle_reason(exc)}); convert it to "
                        f"{SAFE_WEIGHTS}") from None


def _unpickle_reason(exc: BaseException) -> str:
    """torch's refusal is a paragraph about its defaults; the line after 'WeightsUnpickler error:' is the reason."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Please file an issue") and "WeightsUnpickler error:" in line:
            tail = line.split("WeightsUnpickler error:", 1)[1].strip()
            return f"torch refused it: {tail or (lines[i + 1] if i + 1 < len(lines) else 'unsupported content')}"
    return first_line(exc)


@dataclass(frozen=True)
class AdapterSource:
    """A trained adapter folder (`path`), a fresh adapter built from a PEFT config folder (`config_dir`), or a random
    LoRA of a given shape (`random`: a `RandomAdapterSpec`, for overhead timing on random-weight models)."""

    name: str
    path: Path | None = None
    config_dir: Path | None = None
    seed: int = 0
    random: object | None = None

    @classmethod
    def trained(cls, name: str, field: str = "adapter", allow_pickle_weights: bool = False) -> AdapterSource:
        return cls(name, path=resolve_adapter(name, field, allow_pickle_weights))

    @classmethod
    def fresh(cls, config_dir: Path, seed: int) -> AdapterSource:
        return cls(str(config_dir), config_dir=Path(config_dir), seed=seed)

    @classmethod
    def random_lora(cls, name: str, spec) -> AdapterSource:
        return cls(name, random=spec, seed=spec.seed)

    def wrap(self, model: torch.nn.Module, adapter_name: str, base_name: str):
        """The PEFT wrapper around `model` (changed in place); a mismatch is one line."""
        from peft import PeftConfig, PeftModel, get_peft_model

        try:
            if self.random is not None:
                from .random_adapter import attach_random_lora

                spec = self.random
                wrapped = attach_random_lora(model, r=spec.r, alpha=spec.alpha, target_modules=spec.target_modules,
                                             seed=spec.seed, adapter_name=adapter_name)
            elif self.path is not None:
                wrapped = PeftModel.from_pretrained(model, str(self.path), adapter_name=adapter_name)
            else:
                config = PeftConfig.from_pretrained(str(self.config_dir))
                torch.manual_seed(self.seed)  # LoRA's A (and IA3's vectors) start random: the same every run
                wrapped = get_peft_model(model, config, adapter_name=adapter_name)
        except (RuntimeError, ValueError, KeyError, TypeError, OSError) as exc:
            raise UserError(f"adapter: '{self.name}' does not fit base model '{base_name}' "
                            f"({_why_it_does_not_fit(exc)})") from None
        # Modules PEFT creates start in training mode (dropout active) even when the base was in eval mode.
        wrapped.eval()
        return wrapped


def _why_it_does_not_fit(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    mismatch = next((line for line in lines if line.startswith("size mismatch")), None)
    return (mismatch or (lines[0] if lines else type(exc).__name__)).rstrip(".")


@dataclass
class AdapterFootprint:
    """What an adapter adds to its base: parameters (every tensor the wrapping added, by identity) and bytes."""

    base_params: int
    adapter_params: int
    adapter_bytes: int
    peft_method: str

    @property
    def total_params(self) -> int:
        return self.base_params + self.adapter_params

    @property
    def param_ratio_pct(self) -> float:
        return 100.0 * self.adapter_params / self.total_params if self.total_params else 0.0

    def to_dict(self) -> dict:
        return {**asdict(self), "total_params": self.total_params, "param_ratio_pct": self.param_ratio_pct,
                "adapter_mb": self.adapter_bytes / 2**20}


def footprint_bytes(model: torch.nn.Module) -> int:
    """Bytes of parameters and buffers as stored (packed 4/8-bit weights count at their packed size)."""
    return sum(t.numel() * t.element_size() for t in (*model.parameters(), *model.buffers()))


class AdapterSwitch:
    """Owns the base model and at most one attached adapter (PEFT adapter name `default`)."""

    ADAPTER_NAME = "default"

    def __init__(self, base_model: torch.nn.Module, source: AdapterSource, *, merged: bool = False,
                 base_name: str = "base model"):
        self.base = base_model
        self.source = source
        self.merged = merged
        self.base_name = base_name
        self._peft = None
        self._merged_model: torch.nn.Module | None = None
        self.footprint: AdapterFootprint | None = None

    @property
    def attached(self) -> bool:
        return self._peft is not None or self._merged_model is not None

    def attach(self) -> torch.nn.Module:
        """Load the adapter (merged into a copy, or wrapping the base) and return the adapted model."""
        if self.attached:
            return self.lora_model
        target = copy.deepcopy(self.base) if self.merged else self.base
        base_ids = {id(p) for p in target.parameters()}
        base_params = sum(p.numel() for p in target.parameters())
        wrapped = self.source.wrap(target, self.ADAPTER_NAME, self.base_name)
        added = [p for p in wrapped.parameters() if id(p) not in base_ids]
        peft_config = wrapped.peft_config[self.ADAPTER_NAME]
        self.footprint = AdapterFootprint(
            base_params, sum(p.numel() for p in added), sum(p.numel() * p.element_size() for p in added),
            str(getattr(peft_config.peft_type, "value", peft_config.peft_type)))
        if self.merged:
            self._merged_model = wrapped.merge_and_unload()
        else:
            self._peft = wrapped
        return self.lora_model

    def detach(self) -> None:
        if self._peft is not None:
            self.base = self._peft.unload()
            self._peft = None
        self._merged_model = None  # freed here: neither wrapper nor copy sits in a reference cycle (measured)

    @property
    def lora_model(self) -> torch.nn.Module:
        model = self._merged_model if self.merged else self._peft
        if model is None:
            raise RuntimeError("adapter is not attached")
        return model

    @property
    def peft_config(self) -> dict:
        if self._peft is None:
            return {}
        data = self._peft.peft_config[self.ADAPTER_NAME].to_dict()
        return {k: (sorted(v) if isinstance(v, set) else v) for k, v in data.items()}

    @property
    def mixed_model(self):
        """The PEFT wrapper, whose generate() takes adapter_names per row (unmerged only)."""
        if self._peft is None:
            raise RuntimeError("mixed-adapter batches need the unmerged adapter attached")
        return self._peft

    @contextmanager
    def pure_base(self) -> Iterator[torch.nn.Module]:
        if self._peft is not None:
            with self._peft.disable_adapter():
                yield self._peft
        else:
            yield self.base
