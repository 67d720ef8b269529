import importlib.util

import pytest
import torch

from inference_lab.core.errors import UserError
from inference_lab.models.loading import choose_dtype, load_model
from inference_lab.models.settings import ModelSettings


def test_cpu_defaults_float32_and_flash_attention_falls_back_with_reason(tiny_kit):
    loaded = load_model("demo-tiny", ModelSettings(use_flash_attention=True))
    report = loaded.report
    assert (report.device, report.dtype, report.quantization) == ("cpu", "float32", "none")
    assert report.attention == "sdpa"
    assert any("flash_attention_2" in note and "sdpa" in note for note in report.notes)
    assert loaded.tokenizer.padding_side == "left" and loaded.tokenizer.pad_token_id is not None


def test_float16_on_cpu_falls_back_bfloat16_is_honoured(tiny_kit):
    half = load_model("demo-tiny", ModelSettings(dtype="float16")).report
    assert half.dtype == "float32" and any("float16 on CPU" in n for n in half.notes)
    bf16 = load_model("demo-tiny", ModelSettings(dtype="bfloat16"))
    assert bf16.report.dtype == "bfloat16"
    assert next(bf16.model.parameters()).dtype is torch.bfloat16


def test_dtype_auto_on_cpu_is_float32():
    assert choose_dtype("auto", torch.device("cpu")) == (torch.float32, None)


def test_quantization_auto_is_off_without_cuda(tiny_kit):
    report = load_model("demo-tiny", ModelSettings(use_quantization="auto")).report
    assert report.quantization == "none" and any("no CUDA" in n for n in report.notes)


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is not None, reason="bitsandbytes installed")
def test_4bit_without_bitsandbytes_is_a_clear_error(tiny_kit):
    with pytest.raises(UserError, match="use_quantization: '4bit' needs the bitsandbytes package"):
        load_model("demo-tiny", ModelSettings(use_quantization="4bit"))


@pytest.mark.skipif(importlib.util.find_spec("bitsandbytes") is None, reason="bitsandbytes not installed")
@pytest.mark.parametrize("mode", ["4bit", "8bit"])
def test_bitsandbytes_quantization_runs_on_cpu(tiny_kit, mode):
    from inference_lab.models.textgen import greedy_generate

    loaded = load_model("demo-tiny", ModelSettings(use_quantization=mode))
    assert loaded.report.quantization == mode
    [text] = greedy_generate(loaded.model, loaded.tokenizer, ["generate short bed time story"], 5)
    assert isinstance(text, str) and text


def test_missing_local_path_names_the_field(tmp_path):
    with pytest.raises(UserError, match="assistant_model: path .* does not exist"):
        load_model(str(tmp_path / "nothing-here"), ModelSettings(), field_name="assistant_model")


def test_pickle_weights_refused_unless_allowed(tiny_kit, tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_kit / "main")
    folder = tmp_path / "pickled"
    model.config.save_pretrained(folder)
    torch.save(model.state_dict(), folder / "pytorch_model.bin")  # transformers 5 only writes safetensors itself
    with pytest.raises(UserError, match="allow_pickle_weights"):
        load_model(str(tmp_path / "pickled"), ModelSettings(), with_tokenizer=False)
    assert load_model(str(tmp_path / "pickled"), ModelSettings(allow_pickle_weights=True),
                      with_tokenizer=False).report.num_parameters > 0


def test_cuda_device_on_cpu_machine_is_a_clear_error(tiny_kit):
    if torch.cuda.is_available():
        pytest.skip("CUDA present")
    with pytest.raises(UserError, match="device: 'cuda' requested but CUDA is not available"):
        load_model("demo-tiny", ModelSettings(device="cuda"))


def test_trust_remote_code_is_off_by_default(tiny_kit, monkeypatch):
    from transformers import AutoModelForCausalLM

    seen = {}
    original = AutoModelForCausalLM.from_pretrained

    def spy(*args, **kwargs):
        seen.update(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", spy)
    load_model("demo-tiny", ModelSettings(), with_tokenizer=False)
    assert seen["trust_remote_code"] is False and seen["use_safetensors"] is True


def test_torch_compile_wraps_forward_and_still_generates(tiny_kit):
    loaded = load_model("demo-tiny", ModelSettings(torch_compile=True))
    assert loaded.report.compiled
    assert loaded.model.forward is not type(loaded.model).forward.__get__(loaded.model)
