"""The methods mode (`inference-lab methods`, alias `run`; `inference_comparison.py`): generation methods
compared on one config, measured in interleaved rounds.

`config` (MethodsConfig), `registry` (methods and their speculative variants), `planning` (prompts x
completions -> batches), `runner` (prepare + run), `results` (records, aggregation, rankings), `display`,
`preview`, `report`, `cli` (`--methods`).
"""
