"""Engine layer: measure OpenAI-compatible servers (vLLM, `transformers serve`, ...) beside in-process runs.

config (ServerSettings, LoadShape, SLO) -> commands (launch argv per shortcut) -> server (process group
lifetime) -> openai_client (streamed, timed requests; load shapes) -> metrics (vLLM's definitions) and
agreement (token-exact vs in-process) -> runner.measure_server (what the comparator calls).
"""
