"""inference-lab: measure which way of running a Hugging Face model (and its LoRA adapters) is fastest,
leanest and still correct."""

__version__ = "0.1.0"
