"""Questions -> scoring requests: the prompt, and what is scored after it.

`letters` mode scores " A", " B", ... after a prompt that lists the choices (one row per question when the
letters share their input). `choices` mode scores each choice's text after the cloze prompt (the question,
then "Answer:", no list), as lm-evaluation-harness scores choice texts: after a list, a model expects a
letter. The default letters template is the demo kit's (`demo_kit.corpus.mcq_prompt`), the format it was
trained on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from .data import DEFAULT_LETTERS, MCQItem
from .requests import Request

Mode = Literal["letters", "choices"]


@dataclass(frozen=True)
class Template:
    question: str = "Question: {question}\n{choices}\nAnswer:"
    cloze: str = "Question: {question}\nAnswer:"
    choice: str = "{letter}. {choice}"
    delimiter: str = " "  # between the prompt and what is scored: " A", not "A"
    letters: str = DEFAULT_LETTERS

    def prompt(self, item: MCQItem, mode: Mode = "letters") -> str:
        lines = [self.choice.format(letter=self.letters[i], choice=c) for i, c in enumerate(item.choices)]
        template = self.question if mode == "letters" else self.cloze
        return template.format(question=item.question, choices="\n".join(lines))

    def continuations(self, item: MCQItem, mode: Mode) -> list[str]:
        targets = self.letters[:len(item.choices)] if mode == "letters" else item.choices
        return [self.delimiter + target for target in targets]


def build_requests(items: Sequence[MCQItem], mode: Mode, template: Template) -> list[list[Request]]:
    """One list of requests per question, one request per choice, in choice order."""
    out: list[list[Request]] = []
    for item in items:
        context = template.prompt(item, mode)
        out.append([Request(context, continuation) for continuation in template.continuations(item, mode)])
    return out
