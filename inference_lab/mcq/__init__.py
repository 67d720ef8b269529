"""Multiple-choice scoring by log-likelihood: `data` reads JSONL sets, `prompts` turns questions into requests,
`scoring` batches and scores them on a model, `results` decides answers and accuracy, `runner` ties it together
for the `mcq` command (base model and LoRA adapter in one run)."""
