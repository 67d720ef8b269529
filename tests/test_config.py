import json
import subprocess
import sys

import pytest

from inference_lab.core.config import load_config, save_config, validate_config
from inference_lab.core.errors import UserError
from inference_lab.modes.methods.config import MethodsConfig as InferenceConfig

from .conftest import REPO


def error_for(data: dict) -> str:
    with pytest.raises(UserError) as info:
        validate_config(InferenceConfig, data, "cfg.json")
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_follow_the_guide():
    config = InferenceConfig()
    assert config.main_model == "demo"
    assert config.trust_remote_code is False
    assert config.completions_per_prompt() == [3, 3]


def test_unknown_key_gets_did_you_mean():
    message = error_for({"batch_sise": 4})
    assert "unknown key 'batch_sise'" in message
    assert "did you mean 'batch_size'" in message


@pytest.mark.parametrize(
    "data, field",
    [
        ({"batch_size": 0}, "batch_size"),
        ({"max_new_tokens": -5}, "max_new_tokens"),
        ({"num_completions": 0}, "num_completions"),
        ({"num_completions": [2, -1]}, "num_completions"),
        ({"num_runs": 0}, "num_runs"),
        ({"top_p": 1.5}, "top_p"),
        ({"cache_implementation": "sliding"}, "cache_implementation"),
        ({"methods_to_test": ["batchd"]}, "methods_to_test"),
        ({"batch_size": "four"}, "batch_size"),
        ({"device": "tpu"}, "device"),
    ],
)
def test_bad_values_name_field_and_value(data, field):
    message = error_for(data)
    assert f"field '{field}" in message
    value = json.dumps(next(iter(data.values())))
    assert value in message or "batchd" in message


def test_unknown_method_suggests_the_right_one():
    assert "did you mean 'batched'" in error_for({"methods_to_test": ["batchd"]})


def test_num_completions_list_must_match_prompts():
    message = error_for({"prompts": ["a", "b", "c"], "num_completions": [1, 2]})
    assert "num_completions has 2 entries but there are 3 prompts" in message


def test_speculative_variant_names_are_accepted():
    config = InferenceConfig(methods_to_test=["batched_speculative", "standard_prompt_lookup"])
    assert config.methods_to_test == ["batched_speculative", "standard_prompt_lookup"]


def test_missing_file_is_named(tmp_path):
    with pytest.raises(UserError, match="config file not found: .*nope.json"):
        load_config(InferenceConfig, tmp_path / "nope.json")


def test_invalid_json_is_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"batch_size": 4,,}')
    with pytest.raises(UserError, match="not valid JSON"):
        load_config(InferenceConfig, path)


def test_yaml_and_json_load_the_same(tmp_path):
    data = {"prompts": ["x", "y"], "num_completions": [1, 2], "batch_size": 2, "use_quantization": "8bit"}
    (tmp_path / "c.json").write_text(json.dumps(data))
    (tmp_path / "c.yaml").write_text(
        "prompts: [x, y]\nnum_completions: [1, 2]\nbatch_size: 2\nuse_quantization: 8bit\n")
    from_json = load_config(InferenceConfig, tmp_path / "c.json")
    from_yaml = load_config(InferenceConfig, tmp_path / "c.yaml")
    assert from_json == from_yaml
    assert from_json.quantization == "8bit"


def test_overrides_are_parsed_as_json(tmp_path):
    config = load_config(InferenceConfig, None, ["batch_size=8", 'methods_to_test=["standard"]', "main_model=gpt2"])
    assert (config.batch_size, config.methods_to_test, config.main_model) == (8, ["standard"], "gpt2")


def test_save_and_reload_round_trip(tmp_path):
    config = InferenceConfig(prompts=["p"], num_completions=[2], batch_size=3)
    assert load_config(InferenceConfig, save_config(config, tmp_path / "saved.json")) == config


def test_quantization_true_means_4bit():
    assert InferenceConfig(use_quantization=True).quantization == "4bit"
    assert InferenceConfig(use_quantization=False).quantization == "none"


def test_schema_command_exports_every_key():
    out = subprocess.run([sys.executable, "-m", "inference_lab", "schema"], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    keys = ("main_model", "num_completions", "cache_implementation", "trust_remote_code", "prompt_lookup_num_tokens")
    for key in keys:
        assert key in schema["properties"]


def test_cli_bad_config_exits_2_with_one_line(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"prompts": ["a", "b"], "num_completions": [1, 2, 3]}))
    out = subprocess.run([sys.executable, "inference_comparison.py", "--config", str(path)], capture_output=True,
                         text=True, cwd=REPO)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "num_completions" in lines[0]
    assert "Traceback" not in out.stderr
