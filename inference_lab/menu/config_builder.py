"""Build a comparator config step by step, review it (optionally sweeping a key over several values: a `sweep`
block), then save it as JSON under configs/ and/or run it.

Every step returns a new valid `data` dict; Ctrl-C during the walk-through skips to the review (with what
was answered so far), Ctrl-C inside a step opened from the review returns to the review, and Ctrl-C at the
review goes back to the main menu.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from rich import box
from rich.table import Table

from ..core.config import config_dict, save_config
from ..core.errors import RunFailed
from ..core.storage import write_json_atomic
from ..modes import MODES
from ..modes.methods.config import MethodsConfig
from ..modes.methods.preview import preview_table
from ..modes.methods.registry import REGISTRY, default_method_names, method_names
from .configs import load_config_file
from .execute import run_config
from .fields import ask_field, ask_fields, default_of, problem, show
from .io import UI, Back
from .paths import MenuPaths
from .presets import find_presets
from .prompt_editor import ask_completions, edit_prompts
from .sweeps import ask_sweep, run_sweep_config, show_plan

GENERATION_KEYS = ("max_new_tokens", "temperature", "top_p", "top_k", "seed", "use_chat_template")
PERFORMANCE_KEYS = ("use_quantization", "use_flash_attention", "use_speculative_decoding", "prompt_lookup_num_tokens",
                    "cache_implementation", "torch_compile", "dtype", "device", "warmup_runs", "num_runs")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
FILE_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*$")


def model_problem(name: str) -> str | None:
    """A model name must be a demo kit name, an existing local folder, or look like a hub id."""
    from ..models.names import classify

    name = name.strip()
    if not name:
        return "enter a model id or path"
    found = classify(name)
    if found.kind == "demo":
        return None
    if found.kind in {"local", "missing"}:
        return None if found.path.is_dir() else f"no folder at {found.path}"
    return None if HUB_ID.match(name) else "not a hub id (owner/name) or an existing folder"


def _ask_model_name(ui: UI, data: dict[str, Any], key: str, current: str | None) -> str:
    def validate(text: str) -> bool | str:
        return model_problem(text) or problem(data, key, text.strip()) or True

    default = current if current and not current.startswith("demo") else ""
    return ui.text(f"{key}: Hugging Face id or local folder", default=default, validate=validate).strip()


def ask_model(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    current = data["main_model"]
    choice = ui.select("main_model", [("demo: the offline demo kit (built on first use)", "demo"),
                                      ("A Hugging Face id or a local folder", "other")],
                       default="demo" if current == "demo" else "other")
    name = "demo" if choice == "demo" else _ask_model_name(ui, data, "main_model", current)
    return {**data, "main_model": name}


def ask_assistant(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    current = data.get("assistant_model")
    choice = ui.select("assistant_model (draft model for speculative decoding)",
                       [("demo-assistant: the demo kit's draft model", "demo-assistant"),
                        ("none: speculative variants are skipped", "none"),
                        ("A Hugging Face id or a local folder", "other")],
                       default={"demo-assistant": "demo-assistant", None: "none"}.get(current, "other"))
    if choice == "other":
        return {**data, "assistant_model": _ask_model_name(ui, data, "assistant_model", current)}
    return {**data, "assistant_model": None if choice == "none" else choice}


def ask_methods(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    chosen = data.get("methods_to_test") or default_method_names()
    options = [(f"{name}: {info.description}", name) for name, info in REGISTRY.methods.items()]
    picked = ui.checkbox("methods_to_test", options, checked=chosen,
                         validate=lambda a: bool(a) or "pick at least one method (space toggles)",
                         instruction="(space toggles, enter confirms)")
    return {**data, "methods_to_test": [n for n in method_names() if n in picked]}


ENGINES = [("transformers: in process only (the reference every engine is compared with)", "transformers"),
           ("vLLM, started and stopped by the tool (needs ./run.sh engine-setup vllm)", "vllm"),
           ("transformers serve, started and stopped by the tool", "transformers serve"),
           ("A running OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp...): its base URL", "url")]


def _levels_problem(text: str) -> str | None:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        return "comma-separated positive numbers, e.g. 1,4,16"
    return None


def ask_engine(ui: UI, data: dict[str, Any]) -> dict[str, Any]:
    """In process only, or also an OpenAI-compatible server on the same prompts (outputs compared at temperature 0)."""
    server = data.get("server") or {}
    current = ("transformers" if data.get("engine", "transformers") == "transformers" else
               {"vllm": "vllm", "transformers": "transformers serve"}.get(server.get("launch"), "url"))
    choice = ui.select("engine", ENGINES, default=current)
    if choice == "transformers":
        return {**data, "engine": "transformers", "server": None, "load": None, "slo": None}
    if choice == "url":
        def url_problem(text: str) -> bool | str:
            return (problem({**data, "engine": "openai"}, "server", {"base_url": text.strip()}) or True)

        url = ui.text("server.base_url (e.g. http://127.0.0.1:8000)", default=server.get("base_url") or "",
                      validate=url_problem).strip()
        server = {"base_url": url}
        name = ui.text("server.model: the served model name (empty = the model folder path)",
                       default=(data.get("server") or {}).get("model") or "").strip()
        if name:
            server["model"] = name
    else:
        server = {"launch": "vllm" if choice == "vllm" else "transformers"}
    levels = (data.get("load") or {}).get("concurrency") or [1, 4, 16]
    text = ui.text("load.concurrency: requests in flight, one measurement per level",
                   default=",".join(map(str, levels)), validate=lambda t: _levels_problem(t) or True)
    load = {**(data.get("load") or {}), "concurrency": [int(p) for p in text.split(",") if p.strip()]}
    return {**data, "engine": "openai", "server": server, "load": load}


STEPS = {
    "Model": ask_model,
    "Assistant model": ask_assistant,
    "Prompts": edit_prompts,
    "Completions per prompt": ask_completions,
    "Batch size": lambda ui, data: ask_field(ui, data, "batch_size"),
    "Methods": ask_methods,
    "Engine": ask_engine,
    "Generation settings": lambda ui, data: ask_fields(ui, data, GENERATION_KEYS, "Generation settings"),
    "Performance settings": lambda ui, data: ask_fields(ui, data, PERFORMANCE_KEYS, "Performance settings"),
}


def config_table(config: MethodsConfig) -> Table:
    """Every key and value, two per row; values changed from the default in bold."""
    table = Table(box=box.SIMPLE_HEAD, title="Custom config", title_justify="left", show_header=False)
    for _ in range(2):
        table.add_column(style="dim", no_wrap=True)
        table.add_column(overflow="fold")
    first = ("main_model", "assistant_model", "prompts", "num_completions", "batch_size", "methods_to_test")
    keys = dict.fromkeys([*first, *GENERATION_KEYS, *PERFORMANCE_KEYS, *MethodsConfig.model_fields])
    cells = []
    for key in keys:
        value = getattr(config, key)
        text = f"{len(value)} prompts" if key == "prompts" else show(value)
        if key == "methods_to_test" and value is None:
            text = "all registered methods"
        cells += [key, f"[bold]{text}[/bold]" if value != default_of(key) else text]
    cells += [""] * (len(cells) % 4)
    for i in range(0, len(cells), 4):
        table.add_row(*cells[i : i + 4])
    return table


def save(ui: UI, paths: MenuPaths, config: MethodsConfig, sweep: dict | None = None) -> Path:
    def validate(text: str) -> bool | str:
        name = text.strip()
        if not FILE_NAME.match(name):
            return "letters, digits, '_', '-' and '.' only"
        return True if Path(name).suffix in {"", ".json"} else "the file is saved as JSON: use .json"

    while True:
        name = ui.text(f"File name under {paths.configs_dir}", default="custom.json", validate=validate).strip()
        path = paths.configs_dir / (name if name.endswith(".json") else f"{name}.json")
        if path.exists() and not ui.confirm(f"{path.name} exists. Overwrite it?", default=False):
            continue
        if sweep is None:
            save_config(config, path)
        else:
            write_json_atomic(path, {**config_dict(config), "sweep": sweep})
        saved = load_config_file(MethodsConfig, path)
        if (saved.config, saved.sweep) != (config, sweep):  # the file must reload as exactly what was built
            raise RunFailed(f"{path}: saved config does not reload identically")
        ui.say(f"saved {path} (run it headless: inference-lab run {path}{' --yes' if sweep else ''})", style="green")
        return path


def start_from(ui: UI, paths: MenuPaths) -> dict[str, Any]:
    presets, _problems = find_presets(paths)
    options = [("Defaults (demo kit, every method)", None)] + [(f"Preset {p.name}", p) for p in presets]
    preset = ui.select("Start from", options)
    config = preset.config if preset is not None else MethodsConfig()
    return config.model_dump(mode="json")


def build_custom_config(ui: UI, paths: MenuPaths) -> None:
    data = start_from(ui, paths)
    ui.say("[dim]Step by step; Enter keeps the value shown, Ctrl-C skips to the review.[/dim]")
    try:
        for title, step in STEPS.items():
            ui.rule(title)
            data = step(ui, data)
    except Back:
        ui.say("[dim]remaining steps skipped[/dim]")
    review(ui, paths, data)


def review(ui: UI, paths: MenuPaths, data: dict[str, Any], sweep: dict | None = None) -> None:
    info = MODES["methods"]
    while True:
        config = MethodsConfig.model_validate(data)
        ui.rule("Review")
        ui.say(config_table(config))
        if sweep is None:
            ui.say(preview_table(config))
        else:
            show_plan(ui, info, data, sweep)
        action = ui.select("What now?", [("Save as JSON under configs/ and run it", "save+run"),
                                         ("Save as JSON under configs/", "save"), ("Run it without saving", "run"),
                                         ("Change a step", "edit"),
                                         ("Sweep a key over several values (one run per value)", "sweep"),
                                         ("Discard and go back", "discard")])
        try:
            if action == "edit":
                title = ui.select("Change which step?", [(t, t) for t in STEPS])
                data = STEPS[title](ui, data)
                continue
            if action == "sweep":
                sweep = ask_sweep(ui, info, data, sweep)
                continue
            if action == "discard":
                return
            path = save(ui, paths, config, sweep) if action.startswith("save") else None
            label = path.stem if path else "custom"
            if action.endswith("run") and sweep is not None:
                run_sweep_config(ui, info, config, sweep, label, paths.output_dir)
            elif action.endswith("run"):
                run_config(ui, info, config, label=label, output_dir=paths.output_dir)
            return
        except Back:
            continue
