#!/usr/bin/env bash
# GPU validation at real scale, random weights (no model download): run on a bare CUDA machine that has torch,
# transformers, peft, accelerate and rich preinstalled. Everything else the package needs travels as wheels in
# .whl/ (pydantic, pydantic-core, annotated-types, typing-inspection, psutil, filelock, questionary, prompt_toolkit,
# wcwidth, pyyaml, nvidia-ml-py; build them here with `pip download --only-binary=:all: --python-version 3.X
# --platform manylinux2014_x86_64 -d .whl <names>` for the GPU machine's Python).
#
#   bash benchmarks/gpu_validation.sh            # full: preset runs, LoRA strategies at Qwen3-4B, timing check
#   bash benchmarks/gpu_validation.sh --quick    # fewer rounds (a smoke run)
#
# Writes benchmarks/results/gpu_validation.json and prints a table; exit 1 if a preset run failed or the stopwatch
# and CUDA events disagree by more than 2 %.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3}"
if compgen -G ".whl/*.whl" > /dev/null; then
    # --no-deps: the preinstalled torch/transformers must not be replaced; --target keeps the system site untouched.
    "$PYTHON" -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH="/tmp/site:$PWD${PYTHONPATH:+:$PYTHONPATH}"
else
    export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_PROGRESS_BARS=1 TOKENIZERS_PARALLELISM=false

"$PYTHON" - <<'PY'
import torch
assert torch.cuda.is_available(), "no CUDA device: this script validates GPU behaviour"
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name(0)}")
PY
"$PYTHON" -c "import inference_lab, pydantic; print('inference_lab from', inference_lab.__file__)"
exec "$PYTHON" benchmarks/gpu_validation.py "$@"
