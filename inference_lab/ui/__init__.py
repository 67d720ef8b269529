"""Floor 1: console output shared by every mode: formatting, progress bars, report files (HTML, CSV, Markdown)."""
