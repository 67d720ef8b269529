"""Floor 1: models and adapters: names, settings, loading, the one timed generate, the adapter switch,
bandwidth and roofline inputs. Knows no mode."""
