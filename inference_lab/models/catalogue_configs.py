"""Public `config.json` contents of the architectures the catalogue can build with random weights (no download).

Each entry is the model's Hugging Face `config.json` as a Python dict, copied from a public copy of that file, with
where it was read in a comment. The values that shape the model (sizes, heads, vocabulary, tying) are cross-checked:
`tests/test_catalogue.py` builds every entry on the meta device and compares its parameter count with the exact count
the Hugging Face Hub reports for the checkpoint (`PUBLISHED_PARAMS`, below).

Dropped on purpose, and only these: `auto_map` (Phi-3.5: transformers has the architecture natively and
`trust_remote_code` stays off), `_name_or_path`, `transformers.js_config` and an `_attn_implementation` that a
third-party copy had added. Nothing else was edited. Where the shapes were read from one public copy and the
remaining fields from the same family's files, the comment says so.
"""

from __future__ import annotations

# Qwen3 dense family. The shape fields are those of the files listed; the other fields (token ids, eps, rope,
# window flags) are the same in every Qwen3 dense config.json read (Qwen3-4B, -8B, -14B, -32B).
QWEN3_COMMON = {
    "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
    "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu",
    "initializer_range": 0.02, "max_position_embeddings": 40960, "model_type": "qwen3", "rms_norm_eps": 1e-06,
    "rope_scaling": None, "rope_theta": 1000000, "sliding_window": None, "torch_dtype": "bfloat16",
    "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
}

CONFIGS: dict[str, dict] = {
    # https://huggingface.co/Qwen/Qwen3-0.6B/blob/main/config.json
    # Shapes read from public copies of that file quoted in the code index (hidden 1024, 28 layers, intermediate
    # 3072, 16/8 heads, head_dim 128, tied embeddings, max_position_embeddings 40960, rope_theta 1e6); the rest is
    # QWEN3_COMMON. Confirmed by the Hub's exact parameter count (PUBLISHED_PARAMS).
    "Qwen/Qwen3-0.6B": {
        **QWEN3_COMMON, "hidden_size": 1024, "intermediate_size": 3072, "max_window_layers": 28,
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "tie_word_embeddings": True,
        "transformers_version": "4.51.0",
    },
    # https://huggingface.co/Qwen/Qwen3-1.7B/blob/main/config.json
    # Shapes read from public copies (hidden 2048, 28 layers, intermediate 6144, 16/8 heads, head_dim 128, tied,
    # max_position_embeddings 40960); the rest is QWEN3_COMMON. Confirmed by the Hub's exact parameter count.
    "Qwen/Qwen3-1.7B": {
        **QWEN3_COMMON, "hidden_size": 2048, "intermediate_size": 6144, "max_window_layers": 28,
        "num_attention_heads": 16, "num_hidden_layers": 28, "num_key_value_heads": 8, "tie_word_embeddings": True,
        "transformers_version": "4.51.0",
    },
    # https://huggingface.co/Qwen/Qwen3-4B/blob/main/config.json
    # Read in full from github.com/citsjtu2020/LLM-Prof sglang/Model_Config.md ("Qwen3-4B"). That copy says
    # "use_cache": false and "attention_dropout": 0; kept as read (neither changes a shape; generation here passes
    # its own cache).
    "Qwen/Qwen3-4B": {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 2560,
        "initializer_range": 0.02, "intermediate_size": 9728, "max_position_embeddings": 40960,
        "max_window_layers": 36, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
        "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
        "sliding_window": None, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.51.2", "use_cache": False, "use_sliding_window": False, "vocab_size": 151936,
    },
    # https://huggingface.co/Qwen/Qwen3-8B/blob/main/config.json
    # Read in full from github.com/citsjtu2020/LLM-Prof sglang/Model_Config.md ("Qwen3-8B").
    "Qwen/Qwen3-8B": {
        "architectures": ["Qwen3ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 151643, "eos_token_id": 151645, "head_dim": 128, "hidden_act": "silu", "hidden_size": 4096,
        "initializer_range": 0.02, "intermediate_size": 12288, "max_position_embeddings": 40960,
        "max_window_layers": 36, "model_type": "qwen3", "num_attention_heads": 32, "num_hidden_layers": 36,
        "num_key_value_heads": 8, "rms_norm_eps": 1e-06, "rope_scaling": None, "rope_theta": 1000000,
        "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.51.0", "use_cache": True, "use_sliding_window": False, "vocab_size": 151936,
    },
    # https://huggingface.co/meta-llama/Llama-3.2-1B/blob/main/config.json
    # Read in full from github.com/kevinstephano/thunder_model_blocks hf_llama/llama_config.py (LLAMA_3_2_1B_CFG,
    # eos 128001 as in the base model); shapes also match mlc-ai/mlc-llm model_preset.py "llama3_2_1b".
    "meta-llama/Llama-3.2-1B": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 64, "hidden_act": "silu", "hidden_size": 2048,
        "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 16, "num_key_value_heads": 8,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256,
    },
    # https://huggingface.co/meta-llama/Llama-3.2-3B/blob/main/config.json
    # Read in full from github.com/citsjtu2020/LLM-Prof sglang/Model_Config.md ("Llama-3.2-3B").
    "meta-llama/Llama-3.2-3B": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 128000, "eos_token_id": 128001, "head_dim": 128, "hidden_act": "silu", "hidden_size": 3072,
        "initializer_range": 0.02, "intermediate_size": 8192, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 24, "num_hidden_layers": 28, "num_key_value_heads": 8,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 32.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.45.0.dev0", "use_cache": True, "vocab_size": 128256,
    },
    # https://huggingface.co/meta-llama/Llama-3.1-8B/blob/main/config.json
    # Read in full from github.com/citsjtu2020/LLM-Prof sglang/Model_Config.md ("Llama-3.1-8B").
    "meta-llama/Llama-3.1-8B": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 128000, "eos_token_id": 128001, "hidden_act": "silu", "hidden_size": 4096,
        "initializer_range": 0.02, "intermediate_size": 14336, "max_position_embeddings": 131072, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 8,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05,
        "rope_scaling": {"factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                         "original_max_position_embeddings": 8192, "rope_type": "llama3"},
        "rope_theta": 500000.0, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.43.0.dev0", "use_cache": True, "vocab_size": 128256,
    },
    # https://huggingface.co/mistralai/Mistral-7B-v0.3/blob/main/config.json
    # Read in full from github.com/mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py ("mistral_7b_v03").
    "mistralai/Mistral-7B-v0.3": {
        "architectures": ["MistralForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "eos_token_id": 2,
        "hidden_act": "silu", "hidden_size": 4096, "initializer_range": 0.02, "intermediate_size": 14336,
        "max_position_embeddings": 32768, "model_type": "mistral", "num_attention_heads": 32,
        "num_hidden_layers": 32, "num_key_value_heads": 8, "rms_norm_eps": 1e-05, "rope_theta": 1000000.0,
        "sliding_window": None, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.42.0.dev0", "use_cache": True, "vocab_size": 32768,
    },
    # https://huggingface.co/HuggingFaceTB/SmolLM2-135M/blob/main/config.json
    # Read in full from github.com/mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py ("smollm2_135m").
    "HuggingFaceTB/SmolLM2-135M": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 576,
        "initializer_range": 0.041666666666666664, "intermediate_size": 1536, "is_llama_config": True,
        "max_position_embeddings": 8192, "mlp_bias": False, "model_type": "llama", "num_attention_heads": 9,
        "num_hidden_layers": 30, "num_key_value_heads": 3, "pad_token_id": 2, "pretraining_tp": 1,
        "rms_norm_eps": 1e-05, "rope_interleaved": False, "rope_scaling": None, "rope_theta": 100000,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.42.3", "use_cache": True,
        "vocab_size": 49152,
    },
    # https://huggingface.co/HuggingFaceTB/SmolLM2-360M/blob/main/config.json
    # Read in full from github.com/mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py ("smollm2_360m").
    "HuggingFaceTB/SmolLM2-360M": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 960, "initializer_range": 0.02,
        "intermediate_size": 2560, "is_llama_config": True, "max_position_embeddings": 8192, "mlp_bias": False,
        "model_type": "llama", "num_attention_heads": 15, "num_hidden_layers": 32, "num_key_value_heads": 5,
        "pad_token_id": 2, "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_interleaved": False,
        "rope_scaling": None, "rope_theta": 100000, "tie_word_embeddings": True, "torch_dtype": "bfloat16",
        "transformers_version": "4.42.3", "use_cache": True, "vocab_size": 49152,
    },
    # https://huggingface.co/HuggingFaceTB/SmolLM2-1.7B/blob/main/config.json
    # Read in full from public copies of SmolLM2-1.7B(-Instruct)'s file quoted in the code index (three agree:
    # 24 layers, 32/32 heads, intermediate 8192, rope_theta 130000, tied).
    "HuggingFaceTB/SmolLM2-1.7B": {
        "architectures": ["LlamaForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "bos_token_id": 1, "eos_token_id": 2, "hidden_act": "silu", "hidden_size": 2048, "initializer_range": 0.02,
        "intermediate_size": 8192, "max_position_embeddings": 8192, "mlp_bias": False, "model_type": "llama",
        "num_attention_heads": 32, "num_hidden_layers": 24, "num_key_value_heads": 32, "pad_token_id": 2,
        "pretraining_tp": 1, "rms_norm_eps": 1e-05, "rope_scaling": None, "rope_theta": 130000,
        "tie_word_embeddings": True, "torch_dtype": "bfloat16", "transformers_version": "4.42.3", "use_cache": True,
        "vocab_size": 49152,
    },
    # https://huggingface.co/microsoft/Phi-3.5-mini-instruct/blob/main/config.json (there is no base Phi-3.5-mini)
    # Read in full from github.com/mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py ("phi-3_5"); auto_map dropped.
    "microsoft/Phi-3.5-mini-instruct": {
        "architectures": ["Phi3ForCausalLM"], "attention_dropout": 0.0, "bos_token_id": 1, "embd_pdrop": 0.0,
        "eos_token_id": 32000, "hidden_act": "silu", "hidden_size": 3072, "initializer_range": 0.02,
        "intermediate_size": 8192, "max_position_embeddings": 131072, "model_type": "phi3",
        "num_attention_heads": 32, "num_hidden_layers": 32, "num_key_value_heads": 32,
        "original_max_position_embeddings": 4096, "pad_token_id": 32000, "resid_pdrop": 0.0, "rms_norm_eps": 1e-05,
        "rope_scaling": {
            "long_factor": [
                1.0800000429153442, 1.1100000143051147, 1.1399999856948853, 1.340000033378601, 1.5899999141693115,
                1.600000023841858, 1.6200000047683716, 2.620000123977661, 3.2300000190734863, 3.2300000190734863,
                4.789999961853027, 7.400000095367432, 7.700000286102295, 9.09000015258789, 12.199999809265137,
                17.670000076293945, 24.46000099182129, 28.57000160217285, 30.420001983642578, 30.840002059936523,
                32.590003967285156, 32.93000411987305, 42.320003509521484, 44.96000289916992, 50.340003967285156,
                50.45000457763672, 57.55000305175781, 57.93000411987305, 58.21000289916992, 60.1400032043457,
                62.61000442504883, 62.62000274658203, 62.71000289916992, 63.1400032043457, 63.1400032043457,
                63.77000427246094, 63.93000411987305, 63.96000289916992, 63.970001220703125, 64.02999877929688,
                64.06999969482422, 64.08000183105469, 64.12000274658203, 64.41000366210938, 64.4800033569336,
                64.51000213623047, 64.52999877929688, 64.83999633789062,
            ],
            "short_factor": [
                1.0, 1.0199999809265137, 1.0299999713897705, 1.0299999713897705, 1.0499999523162842, 1.0499999523162842,
                1.0499999523162842, 1.0499999523162842, 1.0499999523162842, 1.0699999332427979, 1.0999999046325684,
                1.1099998950958252, 1.1599998474121094, 1.1599998474121094, 1.1699998378753662, 1.2899998426437378,
                1.339999794960022, 1.679999828338623, 1.7899998426437378, 1.8199998140335083, 1.8499997854232788,
                1.8799997568130493, 1.9099997282028198, 1.9399996995925903, 1.9899996519088745, 2.0199997425079346,
                2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346, 2.0199997425079346,
                2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914,
                2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0299997329711914, 2.0799996852874756,
                2.0899996757507324, 2.189999580383301, 2.2199995517730713, 2.5899994373321533, 2.729999542236328,
                2.749999523162842, 2.8399994373321533,
            ],
            "type": "longrope",
        },
        "rope_theta": 10000.0, "sliding_window": 262144, "tie_word_embeddings": False, "torch_dtype": "bfloat16",
        "transformers_version": "4.43.3", "use_cache": True, "attention_bias": False, "vocab_size": 32064,
    },
    # https://huggingface.co/google/gemma-2-2b-it/blob/main/config.json (shapes identical to google/gemma-2-2b)
    # Read in full from github.com/mlc-ai/mlc-llm python/mlc_llm/model/model_preset.py ("gemma2_2b"; its eos
    # [1, 107] is the instruction-tuned file's).
    "google/gemma-2-2b-it": {
        "architectures": ["Gemma2ForCausalLM"], "attention_bias": False, "attention_dropout": 0.0,
        "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid",
        "eos_token_id": [1, 107], "final_logit_softcapping": 30.0, "head_dim": 256, "hidden_act": "gelu_pytorch_tanh",
        "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304, "initializer_range": 0.02,
        "intermediate_size": 9216, "max_position_embeddings": 8192, "model_type": "gemma2", "num_attention_heads": 8,
        "num_hidden_layers": 26, "num_key_value_heads": 4, "pad_token_id": 0, "query_pre_attn_scalar": 256,
        "rms_norm_eps": 1e-06, "rope_theta": 10000.0, "sliding_window": 4096, "torch_dtype": "bfloat16",
        "transformers_version": "4.42.4", "use_cache": True, "vocab_size": 256000,
    },
}


# Exact parameter counts the Hugging Face Hub reports for each checkpoint (`safetensors.total` of
# https://huggingface.co/api/models/<id>?expand[]=safetensors), as recorded on 2026-09-25 in a public repository's
# model-licence audit table (KNOWN_MODELS in an audit_compliance.py found through the code index). Where the Hub lists
# only the -Instruct repository, its count is used: the shapes are the same as the base model's. Mistral-7B-v0.3's
# count is also in keras-hub's preset metadata ("params": 7248023552).
# `lm_head_stored`: the checkpoint stores lm_head.weight although the config ties it to the embeddings (Qwen3-0.6B and
# -1.7B do), so the Hub's total counts that matrix twice; a model built from the config counts it once.
PUBLISHED_PARAMS: dict[str, dict] = {
    "Qwen/Qwen3-0.6B": {"params": 751_632_384, "lm_head_stored": True, "source": "HF Hub Qwen/Qwen3-0.6B"},
    "Qwen/Qwen3-1.7B": {"params": 2_031_739_904, "lm_head_stored": True, "source": "HF Hub Qwen/Qwen3-1.7B"},
    "Qwen/Qwen3-4B": {"params": 4_022_468_096, "lm_head_stored": False, "source": "HF Hub Qwen/Qwen3-4B"},
    "Qwen/Qwen3-8B": {"params": 8_190_735_360, "lm_head_stored": False, "source": "HF Hub Qwen/Qwen3-8B"},
    "meta-llama/Llama-3.2-1B": {"params": 1_235_814_400, "lm_head_stored": False,
                                "source": "HF Hub meta-llama/Llama-3.2-1B-Instruct"},
    "meta-llama/Llama-3.2-3B": {"params": 3_212_749_824, "lm_head_stored": False,
                                "source": "HF Hub meta-llama/Llama-3.2-3B-Instruct"},
    "meta-llama/Llama-3.1-8B": {"params": 8_030_261_248, "lm_head_stored": False,
                                "source": "HF Hub meta-llama/Llama-3.1-8B-Instruct"},
    "mistralai/Mistral-7B-v0.3": {"params": 7_248_023_552, "lm_head_stored": False,
                                  "source": "HF Hub mistralai/Mistral-7B-v0.3"},
    "HuggingFaceTB/SmolLM2-135M": {"params": 134_515_008, "lm_head_stored": False,
                                   "source": "HF Hub HuggingFaceTB/SmolLM2-135M-Instruct"},
    "HuggingFaceTB/SmolLM2-360M": {"params": 361_821_120, "lm_head_stored": False,
                                   "source": "HF Hub HuggingFaceTB/SmolLM2-360M-Instruct"},
    "HuggingFaceTB/SmolLM2-1.7B": {"params": 1_711_376_384, "lm_head_stored": False,
                                   "source": "HF Hub HuggingFaceTB/SmolLM2-1.7B-Instruct"},
    "microsoft/Phi-3.5-mini-instruct": {"params": 3_821_079_552, "lm_head_stored": False,
                                        "source": "HF Hub microsoft/Phi-3.5-mini-instruct"},
    "google/gemma-2-2b-it": {"params": 2_614_341_888, "lm_head_stored": False,
                             "source": "HF Hub google/gemma-2-2b-it"},
}


# Not public checkpoints: architectures derived from an entry above, for the presets' speculative drafts (the
# catalogue has no model smaller than SmolLM2-135M of that family). Built like any entry; no published count.
DERIVED: dict[str, dict] = {
    # SmolLM2-135M cut to 6 of its 30 layers: the same tokenizer ids and widths, ~5x cheaper per token.
    "inference-lab/SmolLM2-135M-draft-6L": {**CONFIGS["HuggingFaceTB/SmolLM2-135M"], "num_hidden_layers": 6},
}
