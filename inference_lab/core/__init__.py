"""Floor 0: errors, config, storage, the run-folder contract, signals, statistics, device, measurement,
environment. Knows no mode and no model."""
