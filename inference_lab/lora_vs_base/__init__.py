"""LoRA-vs-base comparison on a labelled JSONL test set: chunked or full, sequential or mixed-adapter,
resumable, with pure base outputs in every chunk and per-phase time and memory.

Entry point: `run_comparison(LoraVsBaseConfig)`; CLI: `inference-lab lora [CONFIG]`.
"""

from .config import LoraVsBaseConfig
from .runner import RunResult, run_comparison

__all__ = ["LoraVsBaseConfig", "RunResult", "run_comparison"]
