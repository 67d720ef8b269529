"""`inference-lab schema [TYPE]`: JSON Schema of a config type, for editor completion."""

from __future__ import annotations

import argparse
import importlib
import json

# type name -> "module:Class"; modes add theirs here.
SCHEMAS = {
    "inference": "inference_lab.config:InferenceConfig",
    "lora": "inference_lab.lora_vs_base.config:LoraVsBaseConfig",
    "peft-bench": "inference_lab.adapter_bench.config:BenchmarkParams",
    "mcq": "inference_lab.mcq.config:MCQConfig",
}


def add_cli_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("type", nargs="?", default="inference", choices=sorted(SCHEMAS))
    parser.add_argument("--output", "-o", help="write to this file instead of stdout")


def main(args: argparse.Namespace) -> int:
    from ..config import json_schema
    from ..errors import UserError

    module_name, _, class_name = SCHEMAS[args.type].partition(":")
    try:
        model_cls = getattr(importlib.import_module(module_name), class_name)
    except (ModuleNotFoundError, AttributeError):
        raise UserError(f"schema: config type '{args.type}' is not available in this version") from None
    text = json.dumps(json_schema(model_cls), indent=2)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as f:
            f.write(text + "\n")
    else:
        print(text)
    return 0
