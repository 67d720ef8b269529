"""Adapter benchmark suite: experiment folders of PEFT adapters timed against cached base-model results.

`experiments/<method>/<name>/adapter_config.json` (+ optional `benchmark_params.json`) -> one result JSON per
experiment under `results/peft_bench/`, with overhead % vs the base per prompt category (short/medium/long).
Entry points: `runner.run_experiments`, `runner.run_base` (kept out of this file so importing the config
schema does not import torch).
"""
