"""The adapter benchmark (`inference-lab peft-bench`): PEFT adapters in experiment folders timed against their base
model per prompt category, paired (interleaved) by default or against a cached base.

`config` (BenchmarkParams per experiment, PeftBenchConfig for the run), `experiments` (folders), `prompts`
(categories fitted to the context), `timing` (timed runs, overheads with intervals), `cache` (the base cache),
`runner`, `display`, `report`, `cli` (the suite's command line).
"""
