"""Training pieces of the demo kit: a byte-level BPE tokenizer, a Qwen3-architecture LM and a LoRA adapter.

Small, seeded and CPU-only on purpose: the kit must build offline on 2 cores in a few minutes and give the
same weights for the same seed.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch

from ..core import signals
from .corpus import CHAT_TEMPLATE
from .names import LMSpec

SPECIAL_TOKENS = ["<|endoftext|>", "<|pad|>", "<|bos|>", "<|im_start|>", "<|im_end|>"]


@dataclass
class TrainStats:
    initial_loss: float
    final_loss: float
    steps: int
    seconds: float


def train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer wrapped as a transformers fast tokenizer (pad/eos/bos + chat template)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        eos_token="<|endoftext|>",
        pad_token="<|pad|>",
        bos_token="<|bos|>",
        additional_special_tokens=["<|im_start|>", "<|im_end|>"],
        model_max_length=512,
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_model(spec: LMSpec, tokenizer, seed: int):
    from transformers import Qwen3Config, Qwen3ForCausalLM

    config = Qwen3Config(
        vocab_size=len(tokenizer),
        hidden_size=spec.hidden_size,
        intermediate_size=spec.intermediate_size,
        num_hidden_layers=spec.num_layers,
        num_attention_heads=spec.num_heads,
        num_key_value_heads=spec.num_kv_heads,
        head_dim=spec.hidden_size // spec.num_heads,
        max_position_embeddings=512,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(seed)
    model = Qwen3ForCausalLM(config)
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.bos_token_id = tokenizer.bos_token_id
    return model


def token_stream(tokenizer, documents: list[str]) -> torch.Tensor:
    ids: list[int] = []
    for doc in documents:
        ids.extend(tokenizer(doc, add_special_tokens=False)["input_ids"])
        ids.append(tokenizer.eos_token_id)
    return torch.tensor(ids, dtype=torch.long)


def _windows(stream: torch.Tensor, seq_len: int, batch_size: int, generator: torch.Generator) -> torch.Tensor:
    starts = torch.randint(0, len(stream) - seq_len - 1, (batch_size,), generator=generator)
    return torch.stack([stream[s : s + seq_len] for s in starts.tolist()])


def _lr_at(step: int, total: int, peak: float) -> float:
    warmup = max(total // 20, 1)
    if step < warmup:
        return peak * (step + 1) / warmup
    return peak * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(total - warmup, 1)))


def train_lm(model, stream: torch.Tensor, spec: LMSpec, seed: int) -> TrainStats:
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=spec.lr, weight_decay=0.01)
    model.train()
    start = time.perf_counter()
    losses: list[float] = []
    for step in range(spec.steps):
        signals.check()  # a stop swallowed by a library's __del__ ends the build at this step, not after it
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, spec.steps, spec.lr)
        batch = _windows(stream, spec.seq_len, spec.batch_size, generator)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    tail = losses[-10:]
    return TrainStats(losses[0], sum(tail) / len(tail), spec.steps, time.perf_counter() - start)


@torch.no_grad()
def heldout_loss(model, stream: torch.Tensor, seq_len: int, max_windows: int = 32) -> float:
    """Mean loss over consecutive, non-overlapping windows (deterministic, no sampling)."""
    model.eval()
    n = min(max_windows, (len(stream) - 1) // seq_len)
    batch = stream[: n * seq_len].view(n, seq_len)
    return float(model(input_ids=batch, labels=batch).loss)


def supervised_batch(tokenizer, examples: list[tuple[str, str]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Right-padded (input_ids, attention_mask, labels) with the loss on the answer tokens only."""
    rows, labels = [], []
    for prompt, answer in examples:
        p = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        a = tokenizer(" " + answer, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows.append(p + a)
        labels.append([-100] * len(p) + a)
    width = max(map(len, rows))
    pad = tokenizer.pad_token_id
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    lab = torch.tensor([lb + [-100] * (width - len(lb)) for lb in labels])
    return ids, mask, lab


def train_lora(base_model, tokenizer, examples: list[tuple[str, str]], *, rank: int, steps: int, batch_size: int,
               lr: float, seed: int):
    """Wrap `base_model` (consumed: PEFT edits it in place) in a LoRA adapter and train it on (prompt, answer)."""
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        lora_dropout=0.0,
        target_modules=["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
        task_type="CAUSAL_LM",
    )
    torch.manual_seed(seed)
    model = get_peft_model(base_model, config)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    model.train()
    start = time.perf_counter()
    losses: list[float] = []
    for step in range(steps):
        signals.check()
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, steps, lr)
        picks = torch.randint(0, len(examples), (batch_size,), generator=generator).tolist()
        ids, mask, labels = supervised_batch(tokenizer, [examples[i] for i in picks])
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
    model.eval()
    tail = losses[-10:]
    return model, TrainStats(losses[0], sum(tail) / len(tail), steps, time.perf_counter() - start)
