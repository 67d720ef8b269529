"""Property tests of everything that reads what a user wrote: any bytes in -> a result or one `UserError` (one line,
naming the file or field), never another exception.

The config loaders (`read_mapping` + `validate_config` for every mode's Config, and `--set`) and the JSONL readers
(`read_jsonl`, LoRA's `SampleFile`, `read_mcq`, peft-bench's `load_prompts`) get arbitrary bytes, arbitrary JSON-like
structures, and well-formed documents with one value swapped for anything (the case that reaches the validators).
Examples are derandomized (the same on every run) and few enough for CI; `HYPOTHESIS_EXAMPLES=N` asks for more,
`HYPOTHESIS_RANDOM=1` for new ones each run.
"""

from __future__ import annotations

import json
import os
import tempfile
import unicodedata
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inference_lab.core.config import apply_overrides, load_config, read_mapping, validate_config
from inference_lab.core.errors import UserError
from inference_lab.core.storage import read_jsonl
from inference_lab.modes import MODES
from inference_lab.modes.lora.data import SampleFile
from inference_lab.modes.mcq.data import read_mcq
from inference_lab.modes.peft_bench.prompts import load_prompts

EXAMPLES = int(os.environ.get("HYPOTHESIS_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize="HYPOTHESIS_RANDOM" not in os.environ, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONFIGS = {name: info.config_class for name, info in MODES.items()}

# Anything JSON can say, and a little it cannot (NaN, infinities, lone surrogates, huge integers).
TEXT = st.text(max_size=12) | st.sampled_from(["", " ", "\ud800", "demo", "{prompt}", "{", "auto", "A", "1e309"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**70, max_value=2**70)
           | st.floats(allow_nan=True, allow_infinity=True) | TEXT)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
                      max_leaves=10)


def check(call, *args, **kwargs):
    """The property: a result, or a UserError whose message is one non-empty line."""
    try:
        return call(*args, **kwargs)
    except UserError as err:
        message = str(err)
        assert len(message.splitlines()) == 1, repr(message)
        assert not any(unicodedata.category(ch) == "Cc" for ch in message), repr(message)  # no terminal escapes
        return None


def as_bytes(value) -> bytes:
    text = json.dumps(value, allow_nan=True)  # NaN and Infinity written as JSON's non-standard words
    return text.encode("utf-8", "surrogatepass")  # a lone surrogate as the bytes it would be: not UTF-8


@pytest.fixture(scope="module")
def folder():
    with tempfile.TemporaryDirectory(prefix="fuzz-") as name:
        yield Path(name)


def written(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def _with_one_value_swapped(draw, base: dict) -> dict:
    """A valid config with one key (possibly in a section) set to anything, or one unknown key added."""
    data = json.loads(json.dumps(base))
    sections = [k for k, v in data.items() if isinstance(v, dict)]
    target = data
    if sections and draw(st.booleans()):
        target = data[draw(st.sampled_from(sections))]
    keys = list(target) or ["x"]
    key = draw(st.sampled_from(keys) | TEXT)
    target[key] = draw(VALUES)
    return data


@st.composite
def config_documents(draw) -> tuple[str, dict]:
    mode = draw(st.sampled_from(sorted(CONFIGS)))
    return mode, _with_one_value_swapped(draw, CONFIGS[mode]().model_dump(mode="json"))


# --- config loaders -----------------------------------------------------------------------------------------------

@FUZZ
@given(data=st.binary(max_size=300) | TEXT.map(lambda t: t.encode("utf-8", "surrogatepass")),
       suffix=st.sampled_from([".json", ".yaml"]), mode=st.sampled_from(sorted(CONFIGS)))
def test_config_files_from_any_bytes(folder, data, suffix, mode):
    path = written(folder, f"config{suffix}", data)
    mapping = check(read_mapping, path)
    assert mapping is None or isinstance(mapping, dict)
    check(load_config, CONFIGS[mode], path)


@FUZZ
@given(value=VALUES, suffix=st.sampled_from([".json", ".yaml"]), mode=st.sampled_from(sorted(CONFIGS)))
def test_config_files_from_any_json_structure(folder, value, suffix, mode):
    if suffix == ".yaml":
        import yaml

        data = yaml.safe_dump(value, allow_unicode=False).encode()
    else:
        data = as_bytes(value)
    mapping = check(read_mapping, written(folder, f"config{suffix}", data))
    if mapping is not None:
        check(validate_config, CONFIGS[mode], mapping, "config")


@FUZZ
@given(document=config_documents())
def test_configs_with_one_value_swapped(folder, document):
    mode, data = document
    check(validate_config, CONFIGS[mode], data, "config")  # straight from memory (the menu's way)
    mapping = check(read_mapping, written(folder, "config.json", as_bytes(data)))
    if mapping is not None:
        check(validate_config, CONFIGS[mode], mapping, "config")


@FUZZ
@given(mode=st.sampled_from(sorted(CONFIGS)),
       overrides=st.lists(st.one_of(TEXT, st.tuples(TEXT, VALUES).map(lambda kv: f"{kv[0]}={json.dumps(kv[1])}"),
                                    st.tuples(st.sampled_from(["seed", "max_new_tokens", "inference.batch_size",
                                                               "generation.temperature", "num_inference_runs",
                                                               "a.b"]), VALUES)
                                    .map(lambda kv: f"{kv[0]}={json.dumps(kv[1], allow_nan=True)}")), max_size=3))
def test_set_overrides(mode, overrides):
    data = check(apply_overrides, {}, overrides)
    if data is not None:
        check(validate_config, CONFIGS[mode], data, "config")


def test_known_hostile_configs(folder):
    """Cases a generator does not stumble on: deep nesting, a YAML alias bomb, a recursive alias."""
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x"]']
    for level, name in enumerate("bcdefgh"):
        bomb.append(f"{name}: &{name} [" + ",".join([f"*{'abcdefgh'[level]}"] * 9) + "]")
    documents = {
        "deep.json": ("[" * 100000 + "]" * 100000).encode(),
        "deep-object.json": ('{"a":' * 5000 + "1" + "}" * 5000).encode(),
        "bomb.yaml": ("\n".join(bomb) + "\nprompts: [*h, *h, *h, *h, *h, *h, *h, *h, *h]\n").encode(),
        "recursive.yaml": b"prompts: &p [*p]\n",
        "huge-int.json": b'{"seed": ' + b"9" * 5000 + b"}",
        "surrogate.json": b'{"prompts": ["\\ud800"]}',
        "nan.json": b'{"temperature": NaN}',
        "bom.json": b'\xef\xbb\xbf{"seed": 1}',
        "tab-key.yaml": b"? [a, b]\n: 1\n",
    }
    for name, data in documents.items():
        path = written(folder, name, data)
        for config_class in CONFIGS.values():
            check(load_config, config_class, path, ["seed=1"])  # read, --set applied, validated: the CLI's way


# --- JSONL readers ----------------------------------------------------------------------------------------------

LORA_ROWS = st.fixed_dictionaries({"id": VALUES, "prompt": VALUES, "label": VALUES}) | st.fixed_dictionaries(
    {"id": st.text(max_size=5), "prompt": st.text(max_size=20), "label": st.sampled_from(["positive", "negative"])})
MCQ_ROWS = st.fixed_dictionaries({"question": VALUES, "choices": VALUES, "answer": VALUES},
                                 optional={"id": VALUES, "subject": VALUES}) | st.fixed_dictionaries(
    {"question": st.text(max_size=10), "choices": st.lists(st.text(max_size=5), max_size=5),
     "answer": st.integers(-1, 5) | st.sampled_from(["A", "b", "E", "2", " C ", "²"])})


def jsonl(rows) -> st.SearchStrategy[bytes]:
    """Lines of good rows, bad rows, stray bytes and blank lines, with or without a final newline."""
    line = (rows.map(as_bytes) | VALUES.map(as_bytes) | st.binary(max_size=20)
            | st.sampled_from([b"", b" ", b"{", b'{"a": 1}', b"\xff\xfe", b'{"label": "positive"']))
    return st.tuples(st.lists(line, max_size=6), st.booleans()).map(
        lambda parts: b"\n".join(parts[0]) + (b"\n" if parts[1] else b""))


@FUZZ
@given(data=jsonl(LORA_ROWS) | st.binary(max_size=200))
def test_results_reader(folder, data):
    result = check(read_jsonl, written(folder, "results.jsonl", data))
    if result is not None:
        rows, torn = result
        assert all(isinstance(row, dict) for row in rows) and isinstance(torn, bool)


@FUZZ
@given(data=jsonl(LORA_ROWS), labels=st.sampled_from([None, ["positive", "negative"]]),
       template=st.sampled_from([None, "{prompt}", "Review: {prompt} {id}", "{0}", "{prompt.x}", "{prompt[0]}"]),
       max_samples=st.sampled_from([None, 1, 3]))
def test_lora_test_file_reader(folder, data, labels, template, max_samples):
    samples = check(SampleFile, written(folder, "task.jsonl", data), labels=labels, template=template,
                    max_samples=max_samples)
    if samples is not None:
        assert len(samples) == len(list(samples)) > 0
        assert len(set(samples.ids)) == len(samples)


@FUZZ
@given(data=jsonl(MCQ_ROWS), letters=st.sampled_from(["ABCDEFGHIJKLMNOPQRSTUVWXYZ", "AB", "1234"]))
def test_mcq_reader(folder, data, letters):
    items = check(read_mcq, written(folder, "mcq.jsonl", data), letters)
    if items is not None:
        assert items and all(0 <= item.answer < len(item.choices) for item in items)


PROMPT_FILES = st.fixed_dictionaries({"short": VALUES, "medium": VALUES, "long": VALUES}, optional={"x": VALUES}) | \
    st.fixed_dictionaries({c: st.lists(st.text(max_size=10), max_size=3) for c in ("short", "medium", "long")})


@FUZZ
@given(data=PROMPT_FILES.map(as_bytes) | VALUES.map(as_bytes) | st.binary(max_size=100))
def test_prompts_file_reader(folder, data):
    prompts = check(load_prompts, written(folder, "prompts.json", data))
    if prompts is not None:
        assert set(prompts) == {"short", "medium", "long"} and all(prompts.values())
