#!/usr/bin/env bash
# inference-lab launcher: sets up .venv (only when requirements changed) and dispatches to `inference-lab`.
# The modes and commands it lists come from the package's one table of modes (inference_lab/modes/__init__.py).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

VENV=.venv
PY="$VENV/bin/python"
STAMP="$VENV/.installed-requirements"

usage() {
  cat <<'TXT'
Usage: ./run.sh [COMMAND] [ARGS...]

  (no command) | menu   interactive menu (needs a terminal)
  setup                 create/refresh .venv from requirements.txt
  setup-ray             optional: install Ray (requirements-ray.txt) for `--executor ray` sweeps (test does it)
  test [PYTEST ARGS]    set up, then run the test suite (what CI runs)
  quick                 the methods mode on configs/quick.json (builds the demo kit on first use)
  comprehensive         the methods mode on configs/comprehensive.json
  run CONFIG [ARGS]     the methods mode on any config (JSON or YAML); ARGS as for every mode below
  engine-setup vllm     optional: create .venv-vllm (vLLM's CPU build, its own venv; ~2 min, ~3.4 GB) for
                        `engine: openai` with `server: {launch: vllm}`
TXT
  # The rest is the CLI's own list (modes and tool commands), read from the package without installing anything.
  python3 -c 'import sys; sys.path.insert(0, "."); from inference_lab.cli import help_text; print(help_text().split("modes:", 1)[1].rstrip())' 2>/dev/null \
    | sed 's/^/ /' || true
}

requirements_hash() {
  cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1
}

setup_env() {
  if [ ! -x "$PY" ]; then
    echo "Creating $VENV ..." >&2
    python3 -m venv "$VENV"
  fi
  local want
  want="$(requirements_hash)"
  if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$want" ]; then
    echo "Installing requirements into $VENV (torch is pinned to the CPU wheel) ..." >&2
    "$PY" -m pip install --quiet --disable-pip-version-check -r requirements.txt
    "$PY" -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
    echo "$want" > "$STAMP"
  fi
}

setup_ray() {  # optional Ray executor for sweeps: `./run.sh test` installs it; its tests skip without it
  local want
  want="$(sha256sum requirements-ray.txt | cut -d' ' -f1)"
  if [ ! -f "$VENV/.installed-ray" ] || [ "$(cat "$VENV/.installed-ray")" != "$want" ]; then
    "$PY" -m pip install --quiet --disable-pip-version-check -r requirements-ray.txt \
      && echo "$want" > "$VENV/.installed-ray" \
      || echo "warning: ray not installed; the Ray sweep tests will skip" >&2
  fi
}

cmd="${1:-menu}"
[ $# -gt 0 ] && shift

case "$cmd" in
  help|-h|--help) usage ;;
  setup) setup_env; echo "Environment ready: $VENV" ;;
  setup-ray) setup_env; setup_ray; echo "Ray ready in $VENV" ;;
  test)
    setup_env
    setup_ray
    set +e
    "$PY" -m pytest "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: treating as failure" >&2; exit 1; fi
    exit "$rc"
    ;;
  quick) setup_env; exec "$PY" -m inference_lab methods configs/quick.json "$@" ;;
  comprehensive) setup_env; exec "$PY" -m inference_lab methods configs/comprehensive.json "$@" ;;
  run)
    [ $# -ge 1 ] || { echo "usage: ./run.sh run CONFIG [ARGS...]" >&2; exit 2; }
    setup_env; exec "$PY" -m inference_lab methods "$@" ;;
  menu) setup_env; exec "$PY" -m inference_lab menu "$@" ;;
  engine-setup) exec bash scripts/engine_setup_vllm.sh "$@" ;;
  *) setup_env; exec "$PY" -m inference_lab "$cmd" "$@" ;;
esac
