"""The LoRA-vs-base mode (`inference-lab lora`): a base model and its LoRA adapter on a labelled JSONL test set,
chunked or full, sequential or mixed-adapter, resumable, with pure base outputs in every chunk.

`config` (LoraConfig), `data` (the test set), `prompts`, `strategies` (how a chunk is computed), `runner`,
`results` (rows and scores), `metrics` (pure scoring), `display`, `report`.
"""
