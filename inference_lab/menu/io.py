"""The menu's questions: questionary prompts bound to one input/output pair, Ctrl-C turned into `Back`.

`UI(console, input, output)`: in a terminal both streams are None (questionary uses the TTY); pytest passes
prompt_toolkit's `create_pipe_input()` and `DummyOutput()` and a rich Console writing to a buffer, so every
screen can be driven without a terminal. questionary's own `.ask()` swallows Ctrl-C and prints
"Cancelled by user"; `unsafe_ask()` lets it through, and here it becomes `Back` (go back one level).
A closed input (EOF) propagates as EOFError, which the main loop treats as quit.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import questionary
from questionary import Choice
from rich.console import Console


class Back(Exception):
    """Ctrl-C at a prompt: leave the current screen, go back one level."""


_UNSET = object()
Option = tuple[str, Any]  # (title shown, value returned)
Validator = Callable[[str], "bool | str"]


def _console() -> Console:
    from ..ui.console import console

    return console()


@dataclass
class UI:
    console: Console = field(default_factory=_console)
    input: Any = None
    output: Any = None

    def _io(self) -> dict[str, Any]:
        return {k: v for k, v in (("input", self.input), ("output", self.output)) if v is not None}

    def _ask(self, make: Callable[..., questionary.Question], *args: Any, **kwargs: Any) -> Any:
        # Building the question is inside the try too: a Ctrl-C that lands between two prompts (the terminal
        # is not in raw mode then, so it arrives as SIGINT) must also mean "back", not a traceback.
        try:
            return make(*args, **kwargs, **self._io()).unsafe_ask()
        except KeyboardInterrupt:
            raise Back from None

    def select(self, message: str, options: Sequence[Option], default: Any = _UNSET,
               instruction: str | None = None) -> Any:
        # questionary replaces a None value by the title, so choices carry their index and we map back.
        choices = [Choice(title, value=i) for i, (title, _value) in enumerate(options)]
        start = next((c for c, (_t, v) in zip(choices, options) if v == default), None)
        index = self._ask(questionary.select, message, choices, default=start, instruction=instruction)
        return options[index][1]

    def checkbox(self, message: str, options: Sequence[Option], checked: Sequence[Any] = (),
                 validate: Callable[[list], bool | str] | None = None, instruction: str | None = None) -> list:
        choices = [Choice(title, value=i, checked=value in checked) for i, (title, value) in enumerate(options)]
        indices = self._ask(questionary.checkbox, message, choices, validate=validate or (lambda _a: True),
                            instruction=instruction)
        return [options[i][1] for i in indices]

    def text(self, message: str, default: str = "", validate: Validator | None = None,
             instruction: str | None = None) -> str:
        return self._ask(questionary.text, message, default=default, validate=validate, instruction=instruction)

    def confirm(self, message: str, default: bool = True) -> bool:
        return bool(self._ask(questionary.confirm, message, default=default))

    def say(self, *objects: Any, style: str | None = None) -> None:
        self.console.print(*objects, style=style)

    def rule(self, title: str) -> None:
        self.console.rule(f"[bold]{title}[/bold]", align="left")
