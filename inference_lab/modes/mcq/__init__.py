"""The MCQ mode (`inference-lab mcq`): multiple-choice scoring by log-likelihood, base model and adapter in one run.

`config` (MCQConfig), `data` (JSONL sets), `prompts` (questions -> requests), `requests` (the request and score
types), `scoring` (batched log-likelihoods), `results` (answers, accuracy, confusion), `runner`, `display`, `report`.
"""
