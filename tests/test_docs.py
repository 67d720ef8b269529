"""The documentation covers what the code has, and its examples work as pasted: every config key of every mode and
every registered method is documented; every JSON/YAML block of README and DETAILED_GUIDE parses and validates."""

import json
import re

import pytest
import yaml

from inference_lab.core.config import validate_config
from inference_lab.core.errors import UserError
from inference_lab.modes import MODES
from inference_lab.modes.methods.registry import REGISTRY
from inference_lab.modes.peft_bench.config import BenchmarkParams

from .conftest import REPO

GUIDE = (REPO / "DETAILED_GUIDE.md").read_text()
README = (REPO / "README.md").read_text()


def _keys(model_cls, prefix: str = "") -> list[str]:
    """Every key, nested sections (also optional ones: `server: ServerSettings | None`) as `section.key`."""
    from typing import get_args

    from pydantic import BaseModel

    keys = []
    for name, field in model_cls.model_fields.items():
        options = [field.annotation, *get_args(field.annotation)]
        section = next((a for a in options if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if section is not None and (section is field.annotation or type(None) in get_args(field.annotation)):
            keys.append(f"{prefix}{name}")
            keys += _keys(section, f"{prefix}{name}.")
        else:
            keys.append(f"{prefix}{name}")
    return keys


@pytest.mark.parametrize("mode", list(MODES))
def test_every_config_key_of_every_mode_is_documented(mode):
    keys = _keys(MODES[mode].config_class)
    sections = {k.rsplit(".", 1)[0] for k in keys if "." in k}
    # A nested key is documented as `section.key` (or, in a row naming several keys of a section, as `key`); a section
    # by its name or by documented keys under it.
    missing = [k for k in keys if f"`{k}`" not in GUIDE and f"`{k.rsplit('.', 1)[-1]}`" not in GUIDE
               and not (k in sections and f"`{k}." in GUIDE)]
    assert not missing


def test_every_sweep_key_is_documented():
    from inference_lab.sweep.plan import SweepSpec

    section = GUIDE.split("## Sweeps", 1)[1].split("\n## ", 1)[0]
    assert [k for k in SweepSpec.model_fields if f"`{k}`" not in section] == []
    assert all(f"`{figure}`" in section for figure in ("ttft_ms", "tpot_ms", "latency_ms", "memory_mib",
                                                       "tokens_per_s"))


def test_every_method_and_variant_is_documented():
    for name in [*REGISTRY.methods, *REGISTRY.variants]:
        assert f"`{name}`" in GUIDE or f"_{name}`" in GUIDE, name


def test_readme_opens_with_the_two_commands():
    commands = [line.split("#")[0].strip() for line in README.split("```bash", 1)[1].split("```", 1)[0].splitlines()
                if line.strip()]
    assert commands == ["./run.sh quick", "./run.sh test"]


def code_blocks() -> list[tuple[str, str, str]]:
    found = []
    for name, text in (("README.md", README), ("DETAILED_GUIDE.md", GUIDE)):
        for match in re.finditer(r"```(json|yaml|yml)\n(.*?)```", text, re.S):
            line = text[: match.start()].count("\n") + 1
            found.append((f"{name}:{line}", match.group(1), match.group(2)))
    return found


def _validates_as_something(data) -> list[str]:
    """What the block is valid as: a mode's config (a sweep config: its block valid and every point valid as that
    mode's config), a benchmark parameter file, an MCQ row, a LoRA test row."""
    from inference_lab.modes.lora.data import parse_row
    from inference_lab.modes.mcq.data import parse_item
    from inference_lab.sweep.plan import expand, split_sweep

    kinds = []
    base, spec = split_sweep(data, "example")  # a bad sweep block fails here, naming its key
    configs = [p.config for p in expand(base, spec)] if spec else [data]
    for info in MODES.values():
        try:
            for config in configs:
                validate_config(info.config_class, config)
            kinds.append(f"{info.name} {'sweep' if spec else 'config'}")
        except UserError:
            pass
    if spec:
        return kinds
    try:
        validate_config(BenchmarkParams, data)
        kinds.append("benchmark params")
    except UserError:
        pass
    try:
        parse_item(data, 1)
        kinds.append("MCQ row")
    except ValueError:
        pass
    try:
        parse_row(json.dumps(data), 1, "doc", label_field="label", id_field="id", labels=None)
        kinds.append("LoRA test row")
    except UserError:
        pass
    return kinds


@pytest.mark.parametrize("where, kind, text", code_blocks(), ids=[w for w, _, _ in code_blocks()])
def test_every_json_and_yaml_example_is_valid_as_pasted(where, kind, text):
    data = json.loads(text) if kind == "json" else yaml.safe_load(text)
    assert isinstance(data, dict), where
    assert _validates_as_something(data), f"{where}: valid as no config or data row"


def test_there_are_examples_to_check():
    assert len(code_blocks()) >= 2
