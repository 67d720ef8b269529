"""Progress bars and repeated warnings from transformers/bitsandbytes drown the tool's own output: silence them."""

from __future__ import annotations

import logging
import os
import warnings


def silence_library_noise() -> None:
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, module=r"transformers\..*")
    warnings.filterwarnings("ignore", message=r".*generation flags are not valid.*")
    # Configs name adapters' bases "demo"; PEFT warns when it rewrites that to the loaded path. Expected here.
    warnings.filterwarnings("ignore", message=r".*base_model_name_or_path.*was renamed.*")
