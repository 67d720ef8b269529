"""Multiple-choice sets as JSONL: one question per line.

A row: {"question": str, "choices": [str, ...], "answer": index (0-based) or letter, "subject": str?, "id": str?}.
Other keys are ignored, so exports of public sets load as they are. Any problem is one `UserError` naming the
file and line number; a set is read whole before any model work starts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...core.errors import UserError
from ...models.names import resolve_file

DEFAULT_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class MCQItem:
    id: str
    question: str
    choices: tuple[str, ...]
    answer: int  # 0-based index into choices
    subject: str | None = None
    line: int = 0  # in its file, for errors found later (a choice longer than the model's context)


def resolve_data_file(name: str, field_name: str = "test_file") -> Path:
    """A demo kit data name (demo-mcq) -> its file in the kit; otherwise a path that must exist."""
    return resolve_file(name, field_name)


def _answer_index(value: object, n_choices: int, letters: str) -> int:
    span = f"0-{n_choices - 1} or {letters[0]}-{letters[n_choices - 1]}"
    if isinstance(value, bool):  # bool is an int in Python; true/false is never a valid answer
        raise ValueError(f"'answer' must be an index or a letter ({span}), got {json.dumps(value)}")
    if isinstance(value, int):
        index = value
    elif isinstance(value, str) and len(value.strip()) == 1 and value.strip().upper() in letters.upper():
        index = letters.upper().index(value.strip().upper())
    elif isinstance(value, str) and value.strip().isdigit():
        index = int(value.strip())
    else:
        raise ValueError(f"'answer' must be an index or a letter ({span}), got {json.dumps(value)}")
    if not 0 <= index < n_choices:
        raise ValueError(f"'answer' {json.dumps(value)} is out of range for {n_choices} choices ({span})")
    return index


def parse_item(row: object, number: int, letters: str = DEFAULT_LETTERS) -> MCQItem:
    """One decoded JSON row -> MCQItem; ValueError says what is wrong (the caller adds file and line)."""
    if not isinstance(row, dict):
        raise ValueError(f"expected a JSON object, got {type(row).__name__}")
    missing = [key for key in ("question", "choices", "answer") if key not in row]
    if missing:
        raise ValueError(f"missing key{'s' if len(missing) > 1 else ''} {', '.join(repr(k) for k in missing)}")
    question, choices = row["question"], row["choices"]
    if not isinstance(question, str) or not question.strip():
        raise ValueError("'question' must be a non-empty string")
    if not isinstance(choices, list) or not choices:
        raise ValueError(f"'choices' must be a non-empty list, got {json.dumps(choices)[:60]}")
    if len(choices) > len(letters):
        raise ValueError(f"{len(choices)} choices but only {len(letters)} letters ({letters})")
    for i, choice in enumerate(choices):
        if not isinstance(choice, str) or not choice.strip():
            raise ValueError(f"choice {i} must be a non-empty string, got {json.dumps(choice)}")
    subject = row.get("subject")
    if subject is not None and not isinstance(subject, str):
        raise ValueError(f"'subject' must be a string, got {json.dumps(subject)}")
    return MCQItem(
        id=str(row.get("id", f"line-{number}")),
        question=question,
        choices=tuple(choices),
        answer=_answer_index(row["answer"], len(choices), letters),
        subject=subject,
        line=number,
    )


def read_mcq(path: str | Path, letters: str = DEFAULT_LETTERS) -> list[MCQItem]:
    from ...core.storage import loads, read_text

    path = Path(path)
    items: list[MCQItem] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(read_text(path, "MCQ file").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = parse_item(loads(line), number, letters)
        except ValueError as err:  # json.JSONDecodeError is a ValueError too
            raise UserError(f"{path}:{number}: {str(err).splitlines()[0]}") from None
        if item.id in seen:
            raise UserError(f"{path}:{number}: id {item.id!r} already used on line {seen[item.id]}")
        seen[item.id] = number
        items.append(item)
    if not items:
        raise UserError(f"{path}: no questions in the file")
    return items
