"""The labelled test set: JSONL rows -> `Sample`s, every problem a one-line error with its file and line number.

The whole file is validated before any model work: JSON, label, id, and (given the prompt template) that every row
fills the template with a non-empty prompt, so a bad row 9,000 fails at start-up, not after an hour of generating."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ...core.errors import UserError
from ...core.storage import loads
from ...models.names import resolve_file


@dataclass(frozen=True)
class Sample:
    id: str
    label: str
    line: int
    fields: dict[str, Any] = field(repr=False)


def resolve_test_file(name: str, field_name: str = "inference.test_file") -> Path:
    """A demo kit name (demo-task) -> its file in the kit; anything else must be an existing file."""
    return resolve_file(name, field_name)


def _row_id(row: dict[str, Any], id_field: str, line: int, where: str) -> str:
    value = row.get(id_field)
    if value is None:
        return f"line-{line}"
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise UserError(f"{where}: field '{id_field}' must be a string or integer (got {json.dumps(value)})")
    return str(value)


def fill_template(template: str, fields: dict[str, Any]) -> str:
    """The prompt a row gives; ValueError says why it gives none (a missing field, an empty result)."""
    try:
        text = template.format_map(fields)
    except KeyError as err:
        raise ValueError(f"prompt.template needs field {err}, which the row lacks (fields: "
                         f"{', '.join(map(str, fields)) or 'none'})") from None
    except (IndexError, ValueError, AttributeError, TypeError) as err:
        raise ValueError(f"prompt.template cannot be filled from this row ({err})") from None
    if not text.strip():
        raise ValueError("the prompt is empty (a model cannot continue nothing)")
    return text


def parse_row(text: str, number: int, where: str, *, label_field: str, id_field: str,
              labels: list[str] | None, template: str | None = None) -> Sample:
    try:
        row = loads(text)
    except json.JSONDecodeError as err:
        raise UserError(f"{where}: malformed JSON line ({err.msg} at column {err.colno})") from None
    except ValueError as err:
        raise UserError(f"{where}: malformed JSON line ({err})") from None
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    label = row.get(label_field)
    if not isinstance(label, str) or not label.strip():
        raise UserError(f"{where}: field '{label_field}' must be a non-empty string (got {json.dumps(label)})")
    label = label.strip().lower()
    if labels is not None and label not in labels:
        raise UserError(f"{where}: label '{label}' is not one of answer.labels {labels}")
    if template is not None:
        try:
            fill_template(template, row)
        except ValueError as err:
            raise UserError(f"{where}: {err}") from None
    return Sample(id=_row_id(row, id_field, number, where), label=label, line=number, fields=row)


class SampleFile:
    """A labelled JSONL file, validated in one pass at construction and then streamed chunk by chunk.

    Only the ids stay in memory (for duplicate detection and resuming), not the rows: a run over 10,000
    samples holds one chunk of prompts at a time."""

    def __init__(self, path: Path, *, label_field: str = "label", id_field: str = "id",
                 labels: list[str] | None = None, max_samples: int | None = None, template: str | None = None):
        self.path = path
        if not path.is_file():  # a folder, or a device or pipe whose reading would never end
            raise UserError(f"inference.test_file: {path} is not a regular file")
        self._parse = dict(label_field=label_field, id_field=id_field, labels=labels)
        self.max_samples = max_samples
        first_line: dict[str, int] = {}
        for sample in self._rows(template):  # the template is checked on this pass only, not on every stream
            if sample.id in first_line:
                raise UserError(f"{path}:{sample.line}: duplicate id '{sample.id}' (first at line "
                                f"{first_line[sample.id]})")
            first_line[sample.id] = sample.line
        if not first_line:
            raise UserError(f"{path}: no samples (the file is empty)")
        self.ids: list[str] = list(first_line)

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self) -> Iterator[Sample]:
        return self._rows(None)

    def _rows(self, template: str | None) -> Iterator[Sample]:
        count = 0
        try:
            with self.path.open("rb") as f:
                for number, raw in enumerate(f, start=1):
                    if self.max_samples is not None and count >= self.max_samples:
                        return
                    try:
                        text = raw.decode("utf-8")
                    except UnicodeDecodeError as err:
                        raise UserError(f"{self.path}:{number}: not UTF-8 text (byte 0x{raw[err.start]:02x} at column "
                                        f"{err.start + 1})") from None
                    if text.strip():
                        count += 1
                        yield parse_row(text, number, f"{self.path}:{number}", template=template, **self._parse)
        except OSError as err:
            raise UserError(f"inference.test_file: cannot read {self.path} ({err.strerror})") from None

    def chunks(self, chunk_size: int | None) -> Iterator[list[Sample]]:
        return chunked(iter(self), chunk_size or len(self))


def read_samples(path: Path, **options) -> list[Sample]:
    return list(SampleFile(path, **options))


def chunked(items: Iterable[Sample], size: int) -> Iterator[list[Sample]]:
    """Fixed slices in file order, so a resumed run sees the same chunks (and batches) as the first."""
    chunk: list[Sample] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
