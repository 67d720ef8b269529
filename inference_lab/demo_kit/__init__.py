"""The offline demo model kit: a tiny trained LM, its assistant, a LoRA adapter and data sets.

Configs name them `demo`, `demo-assistant`, `demo-lora`, `demo-task` (labelled JSONL) and `demo-mcq`;
`demo-tiny-...` picks the seconds-to-build variant the tests use.
"""

from .build import VARIANTS, ensure_kit, kit_dir, kit_home, parse_demo_name, read_manifest, resolve_demo_name

__all__ = ["VARIANTS", "ensure_kit", "kit_dir", "kit_home", "parse_demo_name", "read_manifest", "resolve_demo_name"]
