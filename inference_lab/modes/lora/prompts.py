"""Test row -> the exact text both models see: the template, then (optionally) the tokenizer's chat template."""

from __future__ import annotations

from ...core.errors import UserError
from .config import PromptSection
from .data import Sample


class PromptFormatter:
    def __init__(self, section: PromptSection, tokenizer, model_name: str = "base_model"):
        if section.use_chat_template and not getattr(tokenizer, "chat_template", None):
            raise UserError(f"prompt.use_chat_template: the tokenizer of '{model_name}' has no chat template")
        self.section = section
        self.tokenizer = tokenizer

    def __call__(self, sample: Sample) -> str:
        try:
            text = self.section.template.format_map(sample.fields)
        except KeyError as err:
            raise UserError(f"prompt.template: field {err} is not in the test row at line {sample.line} "
                            f"(fields: {', '.join(sample.fields)})") from None
        except (IndexError, ValueError, AttributeError) as err:
            raise UserError(f"prompt.template: cannot format the test row at line {sample.line} ({err})") from None
        if not text.strip():
            raise UserError(f"prompt.template: the prompt of the test row at line {sample.line} is empty "
                            "(a model cannot continue nothing)")
        if not self.section.use_chat_template:
            return text
        messages = [{"role": "user", "content": text}]
        if self.section.system_prompt:
            messages.insert(0, {"role": "system", "content": self.section.system_prompt})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def format_chunk(self, samples: list[Sample]) -> list[str]:
        """Formatted once per chunk and shared by the base and the LoRA pass (the documents' prompt caching)."""
        return [self(sample) for sample in samples]
