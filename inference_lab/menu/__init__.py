"""The interactive menu (`run_experiments.py`, `./run.sh`): questionary questions, rich output.

Screens by job: `app` (main loop), `presets`, `config_builder` (+ `fields`, `prompt_editor`), `modes`
(LoRA-vs-base, adapter benchmark, MCQ), `browse` (past runs), `execute` (running a config), `preview`.
"""

from .app import run_menu
from .io import UI, Back
from .paths import MenuPaths

__all__ = ["UI", "Back", "MenuPaths", "run_menu"]
