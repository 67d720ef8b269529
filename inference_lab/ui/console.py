"""Rich rendering shared by every mode: the console, number formatting with units, common tables."""

from __future__ import annotations

import os

from rich import box
from rich.console import Console
from rich.table import Table

_CONSOLES: dict[bool, Console] = {}


def console(stderr: bool = False) -> Console:
    if stderr not in _CONSOLES:
        made = Console(stderr=stderr, highlight=False)
        if not made.is_terminal and "COLUMNS" not in os.environ:
            # Piped to a file or CI log: rich would assume 80 columns and cut the results table.
            made = Console(stderr=stderr, highlight=False, width=120)
        _CONSOLES[stderr] = made
    return _CONSOLES[stderr]


def compact_table(**kwargs) -> Table:
    """The project's table style: no vertical rules and collapsed padding, so 8-12 numeric columns fit a
    100-column terminal without ellipses."""
    return Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1), collapse_padding=True, **kwargs)


def fmt_bytes(value: float | None) -> str:
    if value is None:
        return "n/a"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def fmt_seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    if value < 1:
        return f"{value * 1000:.1f} ms"
    return f"{value:.2f} s"


def fmt_rate(value: float | None, unit: str = "tok/s") -> str:
    return "n/a" if value is None else f"{value:,.1f} {unit}"


def fmt_params(value: int | None) -> str:
    if value is None:
        return "n/a"
    if value >= 1e9:
        return f"{value / 1e9:.2f} B"
    if value >= 1e6:
        return f"{value / 1e6:.2f} M"
    if value >= 1e3:
        return f"{value / 1e3:.1f} K"
    return str(value)


def fmt_change(change: dict | None, *, missing: str = "n/a", ci_digits: int = 0, mark_ties: bool = True) -> str:
    """A `core.stats.percent_change` as `+43.2% [+38, +48]`; " =" marks an interval that includes no change."""
    if not change or change.get("estimate") is None:
        return missing
    text = f"{change['estimate']:+.1f}%"
    if change.get("ci_low") is not None:
        text += f" [{change['ci_low']:+.{ci_digits}f}, {change['ci_high']:+.{ci_digits}f}]"
        if mark_ties and not change.get("separated"):
            text += " ="
    return text
