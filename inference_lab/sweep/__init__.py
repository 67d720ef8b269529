"""Sweeps: any mode's config with a `sweep` block becomes many points, each run in its own process (the mode's own
CLI), and one report of the trade-off curve (throughput against latency, its Pareto front, knee and best under a
service level). Generic over modes: everything mode-specific comes from the modes table.

    plan.py          the sweep block and its expansion into points (pure)
    point.py         one point as one process: checked by its mode's config class, started, stopped, judged
    index.py         the sweep folder: header, index of points, lock, resume
    executor.py      local placement: one point per GPU, or one at a time on CPU
    ray_executor.py  one Ray task per point (optional dependency)
    curve.py         a point's run folder -> figures (via the mode's report.headline) -> curve points
    pareto.py        Pareto front, knee, best under an SLO (pure)
    report.py, charts.py, display.py   report.html / summary.csv / summary.md, and the terminal
    runner.py        run_sweep: plan, confirm, run, report
    cli.py           the CLI's hook (`inference-lab MODE CONFIG` with a sweep block, `--resume SWEEP_DIR`)
"""

# Names the light CLI hook needs without importing pydantic (plan.py and index.py use these too).
SWEEP_KEY = "sweep"  # the config key holding the block
SWEEP_FILE = "sweep.json"  # the header that makes a folder a sweep folder
