"""The one table of modes. The CLI, its --help, `schema`, the menu, the setup check and run.sh all read it.

Every mode is a package here with the same spine:
- `config.py`: `Config`, its pydantic config (plus `named_models()`, `label()`);
- `runner.py`: `prepare(config, log) -> Prepared` and `run(prepared, ctx) -> RunResult`;
- `results.py`: the records and summary types, pure (no torch) so reading results stays fast;
- `display.py`: `show(summary, console)`, `describe(summary)` (one line), `preview(config)` (before running);
- `report.py`: `report_parts(summary, records)` (CSV rows, HTML sections, Markdown) and `headline(summary)`
  (the figures `compare` puts side by side);
- optionally `cli.py`: `add_cli_args(parser)` and `overrides(args)` for the mode's own flags.
Adding a mode = one package with that spine + one row below. Rows hold names only: nothing is imported until
a mode is used, so `--help` and listing are instant.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class ModeInfo:
    name: str  # on the command line, in run folder names and in every result file's `mode`
    title: str  # the menu's entry
    help: str  # one line for --help
    default_config: str | None  # a packaged preset (inference_lab/presets/configs/) used when none is given
    aliases: tuple[str, ...] = ()  # older command names that keep working

    @property
    def package(self) -> str:
        return f"inference_lab.modes.{self.name.replace('-', '_')}"

    def module(self, part: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{part}")

    def optional_module(self, part: str) -> ModuleType | None:
        try:
            return self.module(part)
        except ModuleNotFoundError as exc:
            if exc.name == f"{self.package}.{part}":
                return None
            raise

    @property
    def config_class(self):
        return self.module("config").Config


MODES: dict[str, ModeInfo] = {m.name: m for m in (
    ModeInfo("methods", "Compare generation methods (standard, batched, beam, nucleus, speculative)",
             "compare generation methods on one config: speed, memory, outputs", "quick.json", aliases=("run",)),
    ModeInfo("lora", "LoRA vs base: accuracy and speed of an adapter against its base model",
             "LoRA-vs-base comparison on a labelled JSONL test set", "lora_chunked.json"),
    ModeInfo("peft-bench", "Adapter benchmark: PEFT adapters timed against their base, per prompt category",
             "adapter benchmark over experiment folders", None),
    ModeInfo("mcq", "Multiple-choice scoring by log-likelihood (base and adapter)",
             "multiple-choice scoring by log-likelihood", "mcq.json"),
)}

# Schema type names that earlier versions printed (`./run.sh schema inference`) keep working.
SCHEMA_ALIASES = {"inference": "methods"}


def find(name: str) -> ModeInfo | None:
    """A mode by its name or one of its aliases."""
    if name in MODES:
        return MODES[name]
    return next((m for m in MODES.values() if name in m.aliases), None)


def command_names() -> list[str]:
    return [name for m in MODES.values() for name in (m.name, *m.aliases)]
