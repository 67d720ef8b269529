"""The offline demo model kit: a tiny trained LM, its assistant, a LoRA adapter and data sets.

Configs name them `demo`, `demo-assistant`, `demo-lora`, `demo-task` (labelled JSONL) and `demo-mcq`;
`demo-tiny-...` picks the seconds-to-build variant the tests use. `names` (imported here) is pure path logic;
`build` (torch, transformers) builds a kit: `from inference_lab.demo_kit.build import ensure_kit`.
"""

from .names import VARIANTS, demo_path, is_built, kit_dir, kit_home, parse_demo_name, read_manifest

__all__ = ["VARIANTS", "demo_path", "is_built", "kit_dir", "kit_home", "parse_demo_name", "read_manifest"]
