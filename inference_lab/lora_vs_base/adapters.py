"""The adapter's life cycle around one base model, with one guarantee: base inference sees pure base weights.

`PeftModel.from_pretrained(base, dir)` injects LoRA layers into `base` *in place*, so after it a "base" run is a
LoRA run (the bug of the script the reference documents describe). Here:
- unmerged (`use_peft_directly: true`): attach wraps the base; detach calls `unload()`, which puts the original
  layers back untouched; while attached, base inference runs under `disable_adapter()`.
- merged (`use_peft_directly: false`): `merge_and_unload()` writes the LoRA delta into the weights it is given,
  so it is given a copy of the base; the base itself is never merged into.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from peft import PeftModel

from ..errors import UserError


def resolve_adapter(name: str, field_name: str = "adapter") -> Path:
    """A demo kit name (demo-lora) or a local folder that holds adapter_config.json."""
    from ..loading import resolve_source

    path = Path(resolve_source(name, field_name))
    if not path.is_dir():
        raise UserError(f"{field_name}: adapter folder not found: {name} (adapters are read from local folders)")
    if not (path / "adapter_config.json").is_file():
        raise UserError(f"{field_name}: '{name}' has no adapter_config.json (not a PEFT adapter folder)")
    return path


def _why_it_does_not_fit(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    mismatch = next((line for line in lines if line.startswith("size mismatch")), None)
    return (mismatch or (lines[0] if lines else type(exc).__name__)).rstrip(".")


class AdapterSwitch:
    """Owns the base model and at most one attached adapter (the PEFT adapter name is `default`)."""

    ADAPTER_NAME = "default"

    def __init__(self, base_model: torch.nn.Module, adapter_dir: Path, *, merged: bool, adapter_name: str,
                 base_name: str):
        self.base = base_model
        self.adapter_dir = adapter_dir
        self.merged = merged
        self.adapter_name = adapter_name
        self.base_name = base_name
        self._peft = None
        self._merged_model: torch.nn.Module | None = None

    @property
    def attached(self) -> bool:
        return self._peft is not None or self._merged_model is not None

    def attach(self) -> torch.nn.Module:
        """Load the adapter (merged into a copy, or wrapping the base); a mismatch is a one-line UserError."""
        if self.attached:
            return self.lora_model
        target = copy.deepcopy(self.base) if self.merged else self.base
        try:
            wrapped = PeftModel.from_pretrained(target, str(self.adapter_dir), adapter_name=self.ADAPTER_NAME)
        except (RuntimeError, ValueError, KeyError, TypeError) as exc:
            raise UserError(f"adapter: '{self.adapter_name}' does not fit base model '{self.base_name}' "
                            f"({_why_it_does_not_fit(exc)})") from None
        wrapped.eval()
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
