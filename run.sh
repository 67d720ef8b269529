#!/usr/bin/env bash
# inference-lab launcher: sets up .venv (only when requirements changed) and dispatches a subcommand.
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
  test [PYTEST ARGS]    set up, then run the test suite
  quick                 run configs/quick.json on the demo kit (builds the kit on first use)
  comprehensive         run configs/comprehensive.json
  run CONFIG [ARGS]     run any comparator config (JSON or YAML); ARGS as for inference_comparison.py
  compare RUN_DIR...    compare finished runs side by side
  lora [CONFIG]         LoRA-vs-base comparison (default configs/lora_chunked.json)
  peft-bench ARGS       adapter benchmark (see: ./run.sh peft-bench --help)
  mcq [CONFIG]          multiple-choice scoring (default configs/mcq.json)
  demo [ARGS]           build the demo model kit and print its manifest
  check [ARGS]          verify the environment (test_setup.py)
  schema [TYPE]         print a config's JSON Schema
  help                  this text
TXT
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

cmd="${1:-menu}"
[ $# -gt 0 ] && shift

case "$cmd" in
  help|-h|--help) usage ;;
  setup) setup_env; echo "Environment ready: $VENV" ;;
  test)
    setup_env
    set +e
    "$PY" -m pytest "$@"
    rc=$?
    set -e
    if [ "$rc" -eq 5 ]; then echo "pytest collected no tests: treating as failure" >&2; exit 1; fi
    exit "$rc"
    ;;
  quick) setup_env; exec "$PY" inference_comparison.py --config configs/quick.json "$@" ;;
  comprehensive) setup_env; exec "$PY" inference_comparison.py --config configs/comprehensive.json "$@" ;;
  run)
    [ $# -ge 1 ] || { echo "usage: ./run.sh run CONFIG [ARGS...]" >&2; exit 2; }
    setup_env; config="$1"; shift
    exec "$PY" inference_comparison.py --config "$config" "$@" ;;
  check) setup_env; exec "$PY" test_setup.py "$@" ;;
  menu) setup_env; exec "$PY" run_experiments.py "$@" ;;
  compare|lora|peft-bench|mcq|demo|schema) setup_env; exec "$PY" -m inference_lab "$cmd" "$@" ;;
  *) echo "unknown command '$cmd'" >&2; usage >&2; exit 2 ;;
esac
